"""ParkAPI v3-style parking sites and parking spots (ParkenDD / MobiData BW).

Field names and enumerations follow ParkAPI v3 (``ParkingSiteType.ON_STREET``, ``PurposeType.CAR``,
``ParkingSpotStatus`` AVAILABLE | TAKEN | UNKNOWN, ``OpeningStatus`` OPEN | CLOSED | UNKNOWN);
lists use the v3 public API's envelope ``{"items": [...], "total_count": n}``. Identifiers
are the ``uid`` of ParkAPI's push inputs: the site id, and ``{site}:{bay}`` for a spot (``:`` cannot
occur in a site or bay id, so the pair is unambiguous). Like ParkAPI, absent values are left out
rather than sent as null.

Choices where the format leaves room:

* A closed bay is ``realtime_status: UNKNOWN``: TAKEN would claim a vehicle is there and skew any
  occupancy derived from spots; consumers treat UNKNOWN as "do not send drivers there".
* ``has_realtime_data`` is true only while a sensor vouches for free or occupied, as ParkAPI turns
  it off for outdated realtime data; a stale bay is UNKNOWN, never AVAILABLE.
* A site's ``realtime_capacity`` is every bay that is not closed; ``realtime_free_capacity`` counts
  only bays reported free (unknown bays are not assumed free). Both are left out when no bay
  of the site is live.
* ``static_data_updated_at`` (required by ParkAPI for sites and spots) is when the site file was
  last changed, as read at start-up: the site file is the static data.

``tests/unit/api/opendata/test_opendata_official.py`` validates both exports with ParkAPI's own input models
(parkapi-sources 0.38.5, the version park-api-v3 pins).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.opendata.snapshot import (
    BayView,
    States,
    StatusCounts,
    bay_views,
    latest_observation_ns,
    site_description,
)
from parking.events import BayStatus, ns_to_rfc3339
from parking.registry import Site

SPOT_STATUS = {
    BayStatus.FREE: "AVAILABLE",
    BayStatus.OCCUPIED: "TAKEN",
    BayStatus.CLOSED: "UNKNOWN",
    BayStatus.UNKNOWN: "UNKNOWN",
}
OPENING_STATUS = {"open": "OPEN", "closed": "CLOSED", "unknown": "UNKNOWN"}
_COORDINATE_DECIMALS = 7  # ParkAPI stores lat/lon as Numeric(10, 7)


def parkapi_spot_uid(site_id: str, bay_id: str) -> str:
    return f"{site_id}:{bay_id}"


def parkapi_parking_site(
    site: Site, states: States, *, static_data_updated_ns: int | None = None
) -> dict[str, Any]:
    """The site as one ParkAPI v3 parking site (purpose CAR, type ON_STREET) with its realtime capacities."""
    views = bay_views(site, states)
    counts = StatusCounts.of(views)
    live = counts.live > 0
    lon, lat = site.center
    item: dict[str, Any] = {
        "uid": site.id,
        "name": site.name,
        "description": site_description(site),
        "purpose": "CAR",
        "type": "ON_STREET",
        "lat": round(lat, _COORDINATE_DECIMALS),
        "lon": round(lon, _COORDINATE_DECIMALS),
        "capacity": counts.total,
        "has_realtime_data": live,
        "realtime_opening_status": OPENING_STATUS[counts.opening_status()],
        "realtime_capacity": counts.total - counts.closed if live else None,
        "realtime_free_capacity": counts.free if live else None,
        "realtime_data_updated_at": _time(latest_observation_ns(views)),
        "static_data_updated_at": _time(static_data_updated_ns),
    }
    return _without_none(item)


def parkapi_parking_spots(
    site: Site, states: States, *, static_data_updated_ns: int | None = None
) -> list[dict[str, Any]]:
    """One ParkAPI v3 parking spot (purpose CAR, type ON_STREET) per bay, in site-file order."""
    return [_spot(site, view, static_data_updated_ns) for view in bay_views(site, states)]


def parkapi_list(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """ParkAPI v3's list envelope for a complete (unpaginated) result."""
    return {"items": list(items), "total_count": len(items)}


def _spot(site: Site, view: BayView, static_data_updated_ns: int | None) -> dict[str, Any]:
    bay = view.bay
    item: dict[str, Any] = {
        "uid": parkapi_spot_uid(site.id, bay.id),
        "parking_site_uid": site.id,
        "name": bay.id,
        "lat": round(bay.lat, _COORDINATE_DECIMALS),
        "lon": round(bay.lon, _COORDINATE_DECIMALS),
        "purpose": "CAR",
        "type": "ON_STREET",
        "has_realtime_data": view.is_live,
        "realtime_status": SPOT_STATUS[view.status],
        "realtime_data_updated_at": _time(view.observed_ns),
        "static_data_updated_at": _time(static_data_updated_ns),
        "geojson": dict(bay.geometry),
    }
    return _without_none(item)


def _time(time_ns: int | None) -> str | None:
    return ns_to_rfc3339(time_ns) if time_ns is not None else None


def _without_none(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if value is not None}
