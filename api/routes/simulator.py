"""Simulator control (token) and the steering KPIs it computes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ServicesDep, read_access, require_token
from api.models import Problem
from api.simulators import kpi_view
from parking import topics
from parking.events import NAME_PATTERN
from parking.simulator_messages import KpiView, SimulatorStatus, SimulatorSummary
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


class ControlAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"accepted": {"action": "set", "preset": "markttag"}, "site": "showroom"}]
        }
    )

    accepted: dict[str, Any] = Field(description="the command as it was sent to the simulator")
    site: str


def running_simulator(services: ServicesDep, site: SiteQuery = None) -> SimulatorStatus:
    """The status of the simulator running for ``site`` (default: the first one), else 404."""
    found = services.simulators.pick(site)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no simulator is running for site {site!r}" if site else "no simulator is running",
        )
    return found


RunningSimulator = Annotated[SimulatorStatus, Depends(running_simulator)]


@router.get("/simulators", dependencies=[Depends(read_access)])
def running_simulators(services: ServicesDep) -> list[SimulatorSummary]:
    """Every running simulator, one entry per site it publishes (empty when none runs; never 404)."""
    return services.simulators.summaries()


@router.get("/simulator", dependencies=[Depends(read_access)], responses=NO_SIMULATOR)
def simulator_status(simulator: RunningSimulator) -> SimulatorStatus:
    """State, settings, presets, signs and figures of a running simulator (default: the first one)."""
    return simulator


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
def control_simulator(command: ControlCommand, services: ServicesDep) -> ControlAccepted:
    """Start, pause, reset or re-tune the simulator, pick a preset or steering mode, jump to an hour;
    it applies the command within a second."""
    site = running_simulator(services, command.site).site  # the site is in the body here
    if not services.feed.publish(topics.simulator_control(site), command.model_dump_json(exclude_none=True)):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the broker is not connected; try again")
    return ControlAccepted(accepted=command.model_dump(exclude_none=True), site=site)


@router.get("/kpis", dependencies=[Depends(read_access)], responses=NO_SIMULATOR)
def steering_kpis(simulator: RunningSimulator) -> KpiView:
    """The same town with and without sensors (the twin): cars searching now, today's search minutes, km
    and CO2 of both, what the sensors saved today and on a typical day. Model estimates with their sources."""
    return kpi_view(simulator)
