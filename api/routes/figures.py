"""Plotly figures and drawing data for the kiosk page, built on the server from the site and its state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import ServicesDep, SiteDep, current_states, read_access
from api.routes.sites import NOT_FOUND
from dashboards.figures import bay_map, twin_geometry
from dashboards.search_curve import SearchCurve, shipped_curve

router = APIRouter(prefix="/api/v1", tags=["dashboard"], dependencies=[Depends(read_access)])


@router.get("/sites/{site}/figures/map", responses=NOT_FOUND)
def map_figure(site: SiteDep, services: ServicesDep) -> dict[str, Any]:
    """The bay map as a Plotly figure (streets and bays as shapes, no map tiles)."""
    return bay_map(site, current_states(site, services))


@router.get("/sites/{site}/figures/twin", responses=NOT_FOUND)
def twin_figure(site: SiteDep) -> dict[str, Any]:
    """Streets and bay positions (site order) for the twin view's canvas: "without" and "with sensors"."""
    return twin_geometry(site)


@router.get("/figures/search-curve", response_model=SearchCurve)
def search_curve() -> SearchCurve:
    """Model estimate: mean search time against occupancy of the search area, from the calibrated
    town-centre model without sensors (shipped with Parklotse; the source says how it was made).

    The kiosk reads a real-sensor site's measured occupancy off this curve, labelled as a model estimate.
    """
    return shipped_curve()
