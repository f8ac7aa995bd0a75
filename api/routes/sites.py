"""Sites and the current state of their bays."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from api.deps import ServicesDep, SiteDep, read_access
from api.models import BayView, Problem, SiteSummary

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


@router.get("/sites/{site}/bays", response_model=list[BayView], responses=NOT_FOUND)
async def list_bays(site: SiteDep, services: ServicesDep) -> Response:
    """The current state of every bay of a site: status, since when, last sensor contact, battery."""
    return Response(services.current.of(site).bays_json, media_type="application/json")


@router.get("/sites/{site}/geojson", responses=NOT_FOUND)
async def site_geojson(site: SiteDep) -> dict[str, Any]:
    """The site's streets and bays as a GeoJSON FeatureCollection (what the map draws)."""
    return site.feature_collection()
