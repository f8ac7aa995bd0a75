"""DATEX II v3 "Parking Publication Light" as JSON, in the shape ParkAPI v3 serves it.

``{"parkingPublicationLight": {name, lang, publicationTime, parkingSite[], parkingSpace[]},
"_version": "3.4", "_modelBaseVersion": "3"}``: identifiers are ``_id``, publication attributes
carry a leading underscore. Model: https://docs.datex2.eu/downloads/parkinglight.html.

Choices where the model leaves room:

* A site is one ``parkingSite`` of type ``onStreet``; each bay is a ``parkingSpace`` whose ``_id``
  is ``{site}:{bay}`` (``:`` cannot occur in a site or bay id, so the pair is unambiguous).
* ``availableSpaces`` counts only bays reported free and is left out when no bay of the site is
  live; ``isOpenNow`` is left out when that is unknown. A stale bay is ``unknown``, never ``available``.
* ``lastUpdate`` is the sensor's latest contact (per space) or the newest among the bays (per site);
  ``publicationTime`` is ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
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

DATEX2_VERSION = "3.4"
DATEX2_MODEL_BASE_VERSION = "3"
_COORDINATE_DECIMALS = 7  # about 1 cm
AVAILABILITY = {
    BayStatus.FREE: "available",
    BayStatus.OCCUPIED: "occupied",
    BayStatus.CLOSED: "closed",
    BayStatus.UNKNOWN: "unknown",
}


def datex2_space_id(site_id: str, bay_id: str) -> str:
    return f"{site_id}:{bay_id}"


def datex2_publication(
    sites: Iterable[tuple[Site, States]],
    now_ns: int,
    *,
    name: str = "Parklotse",
    lang: str = "de",
) -> dict[str, Any]:
    """One publication covering every given (site, bay states as shown) pair, published at ``now_ns``."""
    parking_sites: list[dict[str, Any]] = []
    parking_spaces: list[dict[str, Any]] = []
    for site, states in sites:
        views = bay_views(site, states)
        parking_sites.append(_parking_site(site, views))
        parking_spaces.extend(_parking_space(site, view) for view in views)
    return {
        "parkingPublicationLight": {
            "name": name,
            "lang": lang,
            "publicationTime": ns_to_rfc3339(now_ns),
            "parkingSite": parking_sites,
            "parkingSpace": parking_spaces,
        },
        "_version": DATEX2_VERSION,
        "_modelBaseVersion": DATEX2_MODEL_BASE_VERSION,
    }


def datex2_site_publication(
    site: Site,
    states: States,
    now_ns: int,
    *,
    lang: str = "de",
) -> dict[str, Any]:
    """A publication of one site, named after it."""
    return datex2_publication([(site, states)], now_ns, name=site.name, lang=lang)


def _parking_site(site: Site, views: list[BayView]) -> dict[str, Any]:
    counts = StatusCounts.of(views)
    lon, lat = site.center
    item: dict[str, Any] = {"_id": site.id, "name": site.name}
    description = site_description(site)
    if description is not None:
        item["description"] = description
    item.update(
        {"type": "onStreet", "locationAndDimension": _location(lon, lat), "numberOfSpaces": counts.total}
    )
    if counts.live:
        item["availableSpaces"] = counts.free
    opening = counts.opening_status()
    if opening != "unknown":
        item["isOpenNow"] = opening == "open"
    updated = latest_observation_ns(views)
    if updated is not None:
        item["lastUpdate"] = ns_to_rfc3339(updated)
    return item


def _parking_space(site: Site, view: BayView) -> dict[str, Any]:
    item: dict[str, Any] = {
        "_id": datex2_space_id(site.id, view.bay.id),
        "locationAndDimension": _location(view.bay.lon, view.bay.lat),
        "availability": AVAILABILITY[view.status],
    }
    if view.observed_ns is not None:
        item["lastUpdate"] = ns_to_rfc3339(view.observed_ns)
    return item


def _location(lon: float, lat: float) -> dict[str, Any]:
    return {
        "coordinatesForDisplay": {
            "latitude": round(lat, _COORDINATE_DECIMALS),
            "longitude": round(lon, _COORDINATE_DECIMALS),
        }
    }
