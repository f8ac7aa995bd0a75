"""Sites and the current state of their bays."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from api.deps import ServicesDep, SiteDep, read_access, unknown_bay, unknown_zone
from api.models import BayView, Problem, SiteSummary
from parking.events import NAME_PATTERN, BayStatus

router = APIRouter(prefix="/api/v1", tags=["sites"], dependencies=[Depends(read_access)])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "Unknown site or bay"}}


@router.get("/sites", response_model=list[SiteSummary])
async def list_sites(services: ServicesDep) -> list[SiteSummary]:
    """Every site with its totals of free, occupied and unknown bays and the freshness of its data."""
    return [services.current.of(site).summary for site in services.registry.sites.values()]


@router.get("/sites/{site}", response_model=SiteSummary, responses=NOT_FOUND)
async def get_site_summary(site: SiteDep, services: ServicesDep) -> SiteSummary:
    """One site's totals, per zone."""
    return services.current.of(site).summary


ZoneFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Only the bays of this zone", examples=["A"]),
]
StatusFilter = Annotated[
    BayStatus | None, Query(description="Only the bays with this status", examples=["free"])
]
BayId = Annotated[str, Path(pattern=f"^{NAME_PATTERN}$", description="Bay id", examples=["A01"])]
CACHED = {
    **NOT_FOUND,
    200: {
        "headers": {"ETag": {"description": "Changes whenever the answer does", "schema": {"type": "string"}}}
    },
    304: {"description": "Unchanged since the ETag given in If-None-Match"},
}


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of If-None-Match with the current tag."""
    if not if_none_match:
        return False
    given = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in given or etag in given


def _json(body: bytes, etag: str, if_none_match: str | None) -> Response:
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


IfNoneMatch = Annotated[str | None, Header(include_in_schema=False)]


@router.get("/sites/{site}/bays", response_model=list[BayView], responses=CACHED)
async def list_bays(
    site: SiteDep,
    services: ServicesDep,
    zone: ZoneFilter = None,
    status: StatusFilter = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The current state of every bay of a site: status, since when, last sensor contact, battery.

    ``zone`` and ``status`` narrow the list (e.g. ``?status=free``). Send the ``ETag`` of an
    earlier answer as ``If-None-Match`` to get 304 while nothing has changed: a poller of a city's
    two megabytes then transfers nothing most of the time.
    """
    if zone is not None and zone not in site.zones:
        raise unknown_zone(site, zone)
    now = services.current.of(site)
    return _json(now.bays_json_where(zone, status), now.etag, if_none_match)


@router.get("/sites/{site}/bays/{bay}", response_model=BayView, responses=CACHED)
async def get_bay(
    site: SiteDep, bay: BayId, services: ServicesDep, if_none_match: IfNoneMatch = None
) -> Response:
    """One bay's current state, e.g. to check a newly installed sensor."""
    now = services.current.of(site)
    body = now.bay_json(bay)
    if body is None:
        raise unknown_bay(site, bay)
    return _json(body, now.etag, if_none_match)


@router.get("/sites/{site}/geojson", responses=NOT_FOUND)
async def site_geojson(site: SiteDep) -> dict[str, Any]:
    """The site's streets and bays as a GeoJSON FeatureCollection (what the map draws)."""
    return site.feature_collection()
