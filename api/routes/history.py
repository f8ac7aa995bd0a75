"""History and analysis endpoints: occupancy over time, a bay's timeline, heatmap, turnover, dwell, CSV.

The handlers turn parameters into calls of ``parking.history.answers`` (the semantics, the rollups
and the reads are described there and in docs/history.md). A request out of bounds (HistoryError),
rollups not ready (RollupNotReady) and InfluxDB failing are answered by the app's error handlers
(api/errors.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BeforeValidator

from api.deps import ServicesDep, SiteDep, read_access, require_token, unknown_bay, unknown_zone
from api.models import Problem
from api.opendata.history_csv import HISTORY_CSV_MEDIA_TYPE, history_csv
from api.routes.sites import NOT_FOUND
from parking.events import NAME_PATTERN, datetime_to_ns
from parking.history import answers
from parking.history.influxql import Scope, zone_scope
from parking.history.models import (
    BayTimeline,
    Dwell,
    Heatmap,
    OccupancyHistory,
    RollupReport,
    SimulatedDay,
    Turnover,
)
from parking.history.readers import reading_pages
from parking.registry import Site
from simulator.demand import day_type

router = APIRouter(prefix="/api/v1", tags=["history"], dependencies=[Depends(read_access)])

ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    422: {"description": "A parameter is invalid; `detail` says which and why"},
    502: {"description": "InfluxDB refused the query (credentials, missing database)"},
    503: {"description": "InfluxDB is unreachable or the rollups are still being built; retry later"},
}


# ---------------------------------------------------------------- parameters


_RFC3339_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def rfc3339_only(value: object) -> object:
    """Pydantic also reads a number as seconds since 1970; the API takes RFC 3339 only."""
    if isinstance(value, str) and not _RFC3339_START.match(value):
        raise ValueError("expected an RFC 3339 date-time with a time zone, e.g. 2026-11-21T00:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(rfc3339_only)]
Start = Annotated[
    Instant | None,
    Query(
        description="RFC 3339 with a time zone, e.g. 2026-11-21T00:00:00Z",
        examples=["2026-11-20T00:00:00Z"],
    ),
]
End = Annotated[
    Instant | None,
    Query(description="RFC 3339 with a time zone; default now", examples=["2026-11-21T00:00:00Z"]),
]
Every = Annotated[
    str | None,
    Query(
        pattern=r"^\s*[1-9][0-9]{0,5}[mhdw]\s*$",
        max_length=12,
        description="Interval length: a number and m, h, d or w, from 1m to 7d",
        examples=["15m"],
    ),
]
Zone = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Only the bays of this zone", examples=["A"]),
]
Tz = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        description=(
            "Start intervals of whole days at local midnight of this IANA time zone (days of 23 or "
            "25 hours at the clock changes; 7-day intervals on Monday). UTC (default) keeps the UTC grid"
        ),
        examples=["Europe/Berlin"],
    ),
]
Source = Annotated[
    Literal["auto", "raw", "rollup"],
    Query(
        description="auto: the rollups when every is whole 5 minutes (and the tail since their last "
        "pass from raw readings), raw readings otherwise; raw: raw readings only (at most 7 days)",
        examples=["auto"],
    ),
]
BayId = Annotated[str, Path(pattern=f"^{NAME_PATTERN}$", description="Bay id", examples=["A01"])]


def to_ns(value: datetime | None) -> int | None:
    return None if value is None else datetime_to_ns(value)


def scope_of(site: Site, zone: str | None) -> Scope:
    scope = zone_scope(site, zone)
    if scope is None:
        raise unknown_zone(site, zone or "")
    return scope


# ---------------------------------------------------------------- endpoints


@router.get("/sites/{site}/occupancy", response_model=OccupancyHistory, responses=ERRORS)
async def occupancy_history(
    site: SiteDep,
    services: ServicesDep,
    start: Start = None,
    end: End = None,
    every: Every = None,
    zone: Zone = None,
    source: Source = "auto",
    tz: Tz = "UTC",
) -> dict[str, Any]:
    """Occupancy of a site or zone per interval: occupied share of the bays whose state was known.

    Defaults: the last 24 hours and an `every` giving at most ~400 points. Intervals are aligned
    (UTC; 7-day intervals start on Monday) and each point covers its whole interval. With `tz`
    (e.g. Europe/Berlin) intervals are local days (`every` 1d to 7d, default 1d).
    """
    asked = (to_ns(start), to_ns(end), every)
    return await answers.occupancy(
        services.store, services.rollups, scope_of(site, zone), zone, asked, tz, source
    )


@router.get("/sites/{site}/turnover", response_model=Turnover, responses=ERRORS)
async def turnover(
    site: SiteDep,
    services: ServicesDep,
    start: Start = None,
    end: End = None,
    every: Every = "1d",
    zone: Zone = None,
    source: Source = "auto",
    tz: Tz = "UTC",
) -> dict[str, Any]:
    """Arrivals (free -> occupied) per interval, and per bay: with every=1d, vehicles per bay-day.

    Default: the last 7 days per day. With `tz` (e.g. Europe/Berlin) the days are local days.
    """
    asked = (to_ns(start), to_ns(end), every)
    return await answers.turnover(
        services.store, services.rollups, scope_of(site, zone), zone, asked, tz, source
    )


@router.get("/sites/{site}/heatmap", response_model=Heatmap, responses=ERRORS)
async def heatmap(
    site: SiteDep,
    services: ServicesDep,
    weeks: Annotated[
        int, Query(ge=1, le=52, description="How many weeks back from the last full hour", examples=[4])
    ] = 4,
    zone: Zone = None,
    end: Annotated[
        Instant | None,
        Query(
            description="RFC 3339 with a time zone: the weeks before this hour (rounded down) instead of "
            "before the last full hour; for a simulated site the `heatmap_end` of /simulated-day",
            examples=["2026-11-21T10:00:00Z"],
        ),
    ] = None,
) -> dict[str, Any]:
    """Mean occupancy per weekday and hour of day (local time Europe/Berlin), from the hourly rollup.

    The last `weeks` weeks up to the last full hour (or up to `end`); a cell is occupied
    bay-minutes over known bay-minutes of all its hours (null if no bay was known).
    """
    return await answers.heatmap(
        services.store, services.rollups, scope_of(site, zone), zone, weeks, to_ns(end)
    )


EVERY_IN_HOUR = Literal["5m", "10m", "15m", "30m", "1h"]


@router.get("/sites/{site}/simulated-day", response_model=SimulatedDay, responses=ERRORS)
async def simulated_day(
    site: SiteDep,
    services: ServicesDep,
    every: Annotated[EVERY_IN_HOUR, Query(description="Interval length", examples=["15m"])] = "15m",
) -> dict[str, Any]:
    """The simulated timeline of a simulated site, for its 24-hour chart (model figures).

    The live simulator loops a few simulated hours many times a wall-clock day, so wall-clock
    history of a simulated site means little. This gives the simulator's clock and the latest
    whole simulated day of the same kind (weekday, Saturday, Sunday) from the simulated history
    `parklotse demo` wrote, with local clock hours to plot against. A site with neither a running
    simulator nor simulated history answers `timeline: wall` (use /occupancy).
    """
    status = services.simulators.status.get(site.id)
    return await answers.simulated_day(
        services.store, services.rollups, scope_of(site, None), status, every, day_type
    )


@router.get("/sites/{site}/bays/{bay}/timeline", response_model=BayTimeline, responses=ERRORS)
async def bay_timeline(
    site: SiteDep,
    bay: BayId,
    services: ServicesDep,
    start: Start = None,
    end: End = None,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="At most this many changes", examples=[100])
    ] = 1000,
) -> dict[str, Any]:
    """A bay's status changes in a range (repeated readings collapsed), and its status at start."""
    found = site.bays.get(bay)
    if found is None:
        raise unknown_bay(site, bay)
    return await answers.timeline(services.store, site.id, bay, found.zone, to_ns(start), to_ns(end), limit)


@router.get("/sites/{site}/dwell", response_model=Dwell, responses=ERRORS)
async def dwell(
    site: SiteDep, services: ServicesDep, start: Start = None, end: End = None, zone: Zone = None
) -> dict[str, Any]:
    """How long vehicles stayed: visits that arrived in the range (at most 31 days; default 7 days).

    A departure is looked for until a day after the end of the range; visits still there then
    are counted as `open`. Only bay changes are read (at most 1,000,000), never every reading.
    """
    return await answers.dwell(services.store, scope_of(site, zone), zone, to_ns(start), to_ns(end))


@router.get(
    "/sites/{site}/history.csv",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "time,site,bay,occupied"}},
)
async def history_csv_export(
    site: SiteDep, services: ServicesDep, start: Start = None, end: End = None, zone: Zone = None
) -> StreamingResponse:
    """Every stored reading of a site or zone as CSV (time,site,bay,occupied), streamed page by page.

    Default: the last 24 hours; at most 400 days. A failure after the first page cuts the
    response off (the client sees an incomplete transfer, never a short file that looks whole).
    """
    scope = scope_of(site, zone)
    a, b = answers.export_range(to_ns(start), to_ns(end))
    # The first page is read here, before the response starts, so that a failure is still a 503.
    pages = await reading_pages(services.store, scope, a, b, max(10_000, 2 * len(site.bays)))

    async def body() -> AsyncIterator[str]:
        header = True
        async for rows in pages:
            for text in history_csv(rows, header=header):
                yield text
            header = False

    label = f"{site.id}-{re.sub(r'[^A-Za-z0-9_-]', '_', zone)}" if zone else site.id
    name = f"{label}-history.csv"
    return StreamingResponse(
        body(),
        media_type=HISTORY_CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/sites/{site}/rollup",
    response_model=RollupReport,
    responses={**ERRORS, 401: {"model": Problem, "description": "Missing or wrong bearer token"}},
    dependencies=[Depends(require_token)],
)
async def rebuild_rollup(
    site: SiteDep, services: ServicesDep, start: Start = None, end: End = None
) -> dict[str, Any]:
    """Recompute the rollups of a range (default: all history up to now), e.g. after importing old data.

    Needs the API token. Late readings of the last day are picked up without it.
    """
    return await answers.rebuild(services.rollups, site.id, to_ns(start), to_ns(end))
