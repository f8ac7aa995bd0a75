"""Sites and the current state of their bays."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from fastapi import APIRouter, Depends, Response

from api.deps import ServicesDep, SiteDep, current_states, read_access
from api.models import BayView, Problem, SiteSummary, ZoneSummary
from parking.events import BayStatus, ns_to_rfc3339
from parking.registry import Site
from parking.state import BayState

router = APIRouter(prefix="/api/v1", tags=["sites"], dependencies=[Depends(read_access)])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "Unknown site or bay"}}


def summarize(site: Site, states: list[BayState]) -> SiteSummary:
    by_zone: dict[str, Counter[BayStatus]] = defaultdict(Counter)
    for state in states:
        by_zone[site.bays[state.bay].zone][state.status] += 1
    totals: Counter[BayStatus] = Counter(s.status for s in states)
    newest = max((s.last_seen_ns for s in states if s.last_seen_ns is not None), default=None)
    zones = [
        ZoneSummary(
            zone=zone,
            total=sum(c.values()),
            free=c[BayStatus.FREE],
            occupied=c[BayStatus.OCCUPIED],
            unknown=c[BayStatus.UNKNOWN],
            closed=c[BayStatus.CLOSED],
        )
        for zone, c in sorted(by_zone.items())
    ]
    return SiteSummary(
        id=site.id,
        name=site.name,
        total=len(states),
        free=totals[BayStatus.FREE],
        occupied=totals[BayStatus.OCCUPIED],
        unknown=totals[BayStatus.UNKNOWN],
        closed=totals[BayStatus.CLOSED],
        updated_at=ns_to_rfc3339(newest) if newest is not None else None,
        zones=zones,
    )


@router.get("/sites", response_model=list[SiteSummary])
def list_sites(services: ServicesDep) -> list[SiteSummary]:
    """Every site with its totals of free, occupied and unknown bays and the freshness of its data."""
    return [summarize(site, current_states(site, services)) for site in services.registry.sites.values()]


@router.get("/sites/{site}", response_model=SiteSummary, responses=NOT_FOUND)
def get_site_summary(site: SiteDep, services: ServicesDep) -> SiteSummary:
    """One site's totals, per zone."""
    return summarize(site, current_states(site, services))


@router.get("/sites/{site}/bays", response_model=list[BayView], responses=NOT_FOUND)
def list_bays(site: SiteDep, services: ServicesDep) -> Response:
    """The current state of every bay of a site: status, since when, last sensor contact, battery."""
    body = services.bay_json.body(site, current_states(site, services))
    return Response(body, media_type="application/json")


@router.get("/sites/{site}/geojson", responses=NOT_FOUND)
def site_geojson(site: SiteDep) -> dict[str, Any]:
    """The site's streets and bays as a GeoJSON FeatureCollection (what the map draws)."""
    return site.feature_collection()
