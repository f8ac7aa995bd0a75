"""FIWARE Smart Data Models (dataModel.Parking) as NGSI-LD, key-values and normalized.

One ``ParkingSpot`` per bay and one ``OnStreetParking`` per site. The spot's ``status`` uses
FIWARE's own enumeration (closed, free, occupied, unknown), which ``BayStatus`` already follows.

Choices where the model leaves room:

* The OnStreetParking ``location`` is the bounding box of the site's bays as a GeoJSON Polygon
  (a Point at the site centre when the bays do not span an area), since a site file has no outline.
* ``totalSpotNumber`` counts every bay; ``availableSpotNumber`` counts only bays a sensor reports
  free, ``occupiedSpotNumber`` only bays reported occupied. Closed and unknown bays are in neither,
  so available + occupied may be less than the total.
* ``observedAt`` of a spot's status (normalized) is the sensor's latest contact; ``dateModified``
  is when the current status began. Counts carry the newest contact among the site's bays.
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
from parking.events import ns_to_rfc3339
from parking.registry import Site

NGSI_LD_CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
PARKING_CONTEXT = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
)
CONTEXT = (NGSI_LD_CORE_CONTEXT, PARKING_CONTEXT)

PARKING_SPOT_REQUIRED = ("id", "type", "location", "status", "category", "refParkingSite")
ON_STREET_PARKING_REQUIRED = ("id", "type", "location")


def parking_spot_id(site_id: str, bay_id: str) -> str:
    return f"urn:ngsi-ld:ParkingSpot:{site_id}:{bay_id}"


def on_street_parking_id(site_id: str) -> str:
    return f"urn:ngsi-ld:OnStreetParking:{site_id}"


def fiware_entities(site: Site, states: States, *, normalized: bool = False) -> list[dict[str, Any]]:
    """The site's OnStreetParking entity followed by one ParkingSpot per bay (states as shown)."""
    views = bay_views(site, states)
    return [_on_street_parking(site, views, normalized), *(_parking_spot(site, v, normalized) for v in views)]


def fiware_parking_spots(site: Site, states: States, *, normalized: bool = False) -> list[dict[str, Any]]:
    """One ParkingSpot entity per bay, in site-file order (states as shown)."""
    return [_parking_spot(site, v, normalized) for v in bay_views(site, states)]


def fiware_on_street_parking(site: Site, states: States, *, normalized: bool = False) -> dict[str, Any]:
    """The site as one OnStreetParking entity with its live counters (states as shown)."""
    return _on_street_parking(site, bay_views(site, states), normalized)


def _parking_spot(site: Site, view: BayView, normalized: bool) -> dict[str, Any]:
    bay, state = view.bay, view.state
    observed = view.observed_ns
    attrs: dict[str, Any] = {
        "category": ["onStreet"],
        "location": dict(bay.geometry),
        "name": bay.id,
        "refParkingSite": on_street_parking_id(site.id),
        "status": state.status.value,
    }
    if state.since_ns is not None:
        attrs["dateModified"] = ns_to_rfc3339(state.since_ns)
    entity: dict[str, Any] = {"id": parking_spot_id(site.id, bay.id), "type": "ParkingSpot"}
    if normalized:
        entity.update({key: _normalized(key, value) for key, value in attrs.items()})
        if observed is not None:
            entity["status"]["observedAt"] = ns_to_rfc3339(observed)
    else:
        entity.update(attrs)
    entity["@context"] = list(CONTEXT)
    return entity


def _on_street_parking(site: Site, views: Sequence[BayView], normalized: bool) -> dict[str, Any]:
    counts = StatusCounts.of(views)
    observed = latest_observation_ns(views)
    attrs: dict[str, Any] = {"name": site.name}
    description = site_description(site)
    if description is not None:
        attrs["description"] = description
    attrs.update(
        {
            "location": _site_geometry(views),
            "availableSpotNumber": counts.free,
            "occupiedSpotNumber": counts.occupied,
            "totalSpotNumber": counts.total,
            "occupancyDetectionType": ["singleSpaceDetection"],
            "refParkingSpot": [parking_spot_id(site.id, v.bay.id) for v in views],
        }
    )
    if observed is not None:
        attrs["observationDateTime"] = ns_to_rfc3339(observed)
    entity: dict[str, Any] = {"id": on_street_parking_id(site.id), "type": "OnStreetParking"}
    if normalized:
        entity.update({key: _normalized(key, value) for key, value in attrs.items()})
        if observed is not None:
            for key in ("availableSpotNumber", "occupiedSpotNumber"):
                entity[key]["observedAt"] = ns_to_rfc3339(observed)
    else:
        entity.update(attrs)
    entity["@context"] = list(CONTEXT)
    return entity


_RELATIONSHIPS = frozenset({"refParkingSite", "refParkingSpot"})
_DATE_TIMES = frozenset({"dateModified", "observationDateTime"})


def _normalized(key: str, value: Any) -> dict[str, Any]:
    """One attribute in NGSI-LD normalized form."""
    if key in _RELATIONSHIPS:
        return {"type": "Relationship", "object": value}
    if key == "location":
        return {"type": "GeoProperty", "value": value}
    if key in _DATE_TIMES:
        return {"type": "Property", "value": {"@type": "DateTime", "@value": value}}
    return {"type": "Property", "value": value}


def _site_geometry(views: Sequence[BayView]) -> dict[str, Any]:
    """The bounding box of every bay's geometry (not only the centroids)."""
    positions = [p for view in views for p in _positions(view.bay.geometry)]
    lons = [p[0] for p in positions]
    lats = [p[1] for p in positions]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    if west == east or south == north:
        return {"type": "Point", "coordinates": [(west + east) / 2, (south + north) / 2]}
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _positions(geometry: Any) -> list[tuple[float, float]]:
    coordinates = geometry["coordinates"]
    if geometry["type"] == "Point":
        return [(float(coordinates[0]), float(coordinates[1]))]
    return [(float(p[0]), float(p[1])) for ring in coordinates for p in ring]
