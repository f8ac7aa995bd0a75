"""Plotly figures for the kiosk page, built on the server from the current state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import ServicesDep, SiteDep, current_states, read_access
from api.routes.sites import NOT_FOUND
from dashboards.figures import bay_map

router = APIRouter(prefix="/api/v1", tags=["dashboard"], dependencies=[Depends(read_access)])


@router.get("/sites/{site}/figures/map", responses=NOT_FOUND)
def map_figure(site: SiteDep, services: ServicesDep) -> dict[str, Any]:
    """The bay map as a Plotly figure (streets and bays as shapes, no map tiles)."""
    return bay_map(site, current_states(site, services))
