"""Fleet health: every sensor of a site with its problems, from the monitor's latest evaluation."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse

from api.deps import ServicesDep, SiteDep, fleet_access, unknown_bay
from api.fleet import BayHealth, FleetMonitor, SiteHealth, fleet_lifespan, get_fleet
from api.fleet_models import (
    DeadLetterView,
    FleetSummary,
    ProblemView,
    RadioView,
    SensorDetail,
    SensorHistory,
    SiteSensors,
)
from api.models import Problem
from api.routes.dashboard import CSP, STATIC
from parking.events import NAME_PATTERN, ns_to_rfc3339
from parking.fleet.rules import Problem as FoundProblem
from parking.fleet.rules import ProblemCode
from parking.fleet.series import read_hourly

# No prefix: the staff page "Sensoren" is served here too, beside the API it reads.
router = APIRouter(tags=["fleet health"], lifespan=fleet_lifespan)
READ = [Depends(fleet_access)]
FleetDep = Annotated[FleetMonitor, Depends(get_fleet)]
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "The token is needed (production, PARKLOTSE_API_PRIVATE_FLEET)"},
    404: {"model": Problem, "description": "Unknown site or bay, or fleet health switched off"},
    503: {"model": Problem, "description": "The first evaluation since start-up has not finished yet"},
}


def _time(ns: int | None) -> str | None:
    return None if ns is None else ns_to_rfc3339(ns)


def _problem(p: FoundProblem) -> ProblemView:
    return ProblemView.model_validate(
        {"code": p.code, "since": _time(p.since_ns), "message_de": p.message_de, "message_en": p.message_en}
    )


def _sensor(bay: BayHealth) -> dict[str, Any]:
    f = bay.facts
    return {
        "bay": f.bay,
        "zone": f.zone,
        "device": f.device,
        "codec": f.codec,
        "status": f.status,
        "status_since": _time(f.since_ns),
        "last_message": _time(f.last_seen_ns),
        "battery_v": f.battery_v,
        "battery_pct": f.battery_pct,
        "radio": RadioView(
            rssi_median_dbm=f.rssi_median, snr_median_db=f.snr_median, messages=f.radio_messages
        ),
        "changes_last_hour": f.changes_last_hour,
        "rejected_last_day": f.rejected,
        "problems": [_problem(p) for p in bay.problems],
    }


def _report(monitor: FleetMonitor, site: str) -> SiteHealth:
    report = monitor.report(site)
    if report is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "sensor health is being evaluated for the first time since start-up; ask again in a moment",
            headers={"Retry-After": "5"},
        )
    return report


@router.get(
    "/api/v1/sites/{site}/sensors", response_model=SiteSensors, responses=RESPONSES, dependencies=READ
)
async def list_sensors(
    site: SiteDep,
    monitor: FleetDep,
    problem: Annotated[
        ProblemCode | None, Query(description="Only the bays with this problem", examples=["silent"])
    ] = None,
) -> SiteSensors:
    """Every bay's sensor: device, last message, battery, radio and problems (silent, stuck,
    flapping, battery_low, battery_falling, weak_radio, rejected), a count of bays per problem,
    and the site-wide problems. Rules, thresholds and their sources: docs/fleet.md."""
    report = _report(monitor, site.id)
    chosen = [b for b in report.bays if problem is None or any(p.code == problem for p in b.problems)]
    return SiteSensors.model_validate(
        {
            "site": site.id,
            "evaluated_at": ns_to_rfc3339(report.evaluated_ns),
            "deadletter_feed_connected": monitor.deadletter_feed_connected,
            "summary": FleetSummary(
                bays=len(report.bays),
                bays_with_problems=sum(1 for b in report.bays if b.problems),
                by_problem=report.counts,
            ),
            "site_problems": [_problem(p) for p in report.site_problems],
            "sensors": [_sensor(b) for b in chosen],
        }
    )


BayId = Annotated[str, Path(pattern=f"^{NAME_PATTERN}$", description="Bay id", examples=["A01"])]


@router.get(
    "/api/v1/sites/{site}/sensors/{bay}", response_model=SensorDetail, responses=RESPONSES, dependencies=READ
)
async def get_sensor(site: SiteDep, bay: BayId, monitor: FleetDep) -> SensorDetail:
    """One bay's sensor, with the latest of its device's refused messages (dead letters)."""
    report = _report(monitor, site.id)
    found = next((b for b in report.bays if b.facts.bay == bay), None)
    if found is None:
        raise unknown_bay(site, bay)
    letters = [
        DeadLetterView.model_validate(
            {"reason": r.reason, "detail": r.detail, "received_at": ns_to_rfc3339(r.received_ns)}
        )
        for r in monitor.refusals.recent(site.id, bay)
    ]
    return SensorDetail.model_validate({**_sensor(found), "dead_letters": letters})


@router.get(
    "/api/v1/sites/{site}/sensors/{bay}/history",
    response_model=SensorHistory,
    responses={
        404: RESPONSES[404],
        503: {"model": Problem, "description": "InfluxDB is unreachable; retry later"},
    },
    dependencies=READ,
)
async def sensor_history(
    site: SiteDep,
    bay: BayId,
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=30, description="How many days back", examples=[7])] = 7,
) -> SensorHistory:
    """One sensor's messages and battery per hour (from InfluxDB), for the chart on the staff page."""
    if bay not in site.bays:
        raise unknown_bay(site, bay)
    points = await read_hourly(services.store, site.id, bay, time.time_ns(), days)
    hours = [
        {
            "start": ns_to_rfc3339(p.start_ns),
            "messages": p.messages,
            "battery_v": p.battery_v,
            "battery_pct": p.battery_pct,
        }
        for p in points
    ]
    return SensorHistory.model_validate({"site": site.id, "bay": bay, "days": days, "hours": hours})


PAGE_HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}


@router.get("/staff/sensors", include_in_schema=False)
async def sensors_page() -> FileResponse:
    """The staff page "Sensoren": a sortable table of every sensor and a map with the problem bays."""
    return FileResponse(STATIC / "sensors.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/staff/sensors.js", include_in_schema=False)
async def sensors_script() -> FileResponse:
    return FileResponse(
        STATIC / "sensors.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )
