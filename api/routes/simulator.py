"""Simulator control (token) and the steering KPIs it computes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import ConfigDict

from api.deps import ServicesDep, read_access, require_token
from api.models import Problem
from api.simulators import kpi_view
from parking import topics
from parking.events import NAME_PATTERN
from simulator.control import Command

router = APIRouter(prefix="/api/v1", tags=["simulator"])


class ControlCommand(Command):
    """A command as the API takes it: strict JSON types (``true`` is not a speed, ``"60"`` neither)."""

    model_config = ConfigDict(strict=True)


SiteQuery = Annotated[
    str | None, Query(pattern=f"^{NAME_PATTERN}$", description="Simulated site", examples=["town-centre"])
]
NO_SIMULATOR: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No simulator is running for that site"}
}


@router.get("/simulator", dependencies=[Depends(read_access)], responses=NO_SIMULATOR)
def simulator_status(services: ServicesDep, site: SiteQuery = None) -> dict[str, Any]:
    """State, settings and scenario of a running simulator (the first one when no site is given)."""
    picked = services.simulators.pick(site)
    if picked is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no simulator is running for site {site!r}" if site else "no simulator is running",
        )
    name, found = picked
    return {key: value for key, value in found.items() if key != "kpis"} | {"site": name}


@router.post(
    "/simulator",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    responses={
        401: {"model": Problem, "description": "Missing or wrong bearer token"},
        **NO_SIMULATOR,
        503: {"model": Problem, "description": "The broker is not connected; try again"},
    },
)
def control_simulator(command: ControlCommand, services: ServicesDep) -> dict[str, Any]:
    """Start, pause, reset or re-tune the simulator; it applies the command within a second."""
    picked = services.simulators.pick(command.site)
    if picked is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no simulator is running for site {command.site!r}"
            if command.site
            else "no simulator is running",
        )
    site, _ = picked
    if not services.feed.publish(topics.simulator_control(site), command.model_dump_json(exclude_none=True)):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the broker is not connected; try again")
    return {"accepted": command.model_dump(exclude_none=True), "site": site}


@router.get("/kpis", dependencies=[Depends(read_access)], responses=NO_SIMULATOR)
def steering_kpis(services: ServicesDep, site: SiteQuery = None) -> dict[str, Any]:
    """Guided vs unguided search minutes, km and CO2 today and now: model estimates with their sources."""
    picked = services.simulators.pick(site)
    if picked is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no simulator is running for site {site!r}" if site else "no simulator is running",
        )
    return kpi_view(*picked)
