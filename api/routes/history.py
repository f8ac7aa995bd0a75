"""History and analysis: occupancy over time, a bay's timeline, heatmap, turnover, dwell times, CSV.

Aggregation happens in InfluxDB (per-minute sums of each bay's changes, rollup sums per interval);
Python only adds up those totals. Whatever the rollups ``site_occupancy_5m`` and
``site_occupancy_1h`` (kept by ``RollupKeeper``) cover comes from them, only the tail since their
last pass from raw readings, so a year costs about what a day costs. The semantics and the rollups
are described in docs/history.md and parking/history.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

from api.deps import Services, ServicesDep, SiteDep, read_access, require_token, unknown_zone
from api.models import Problem
from api.opendata.history_csv import HISTORY_CSV_MEDIA_TYPE, history_csv
from api.rollups import (
    LIVE_REUSE_S,
    Coalescer,
    RollupKeeper,
    RollupReport,
    fetch_seeds,
    raw_buckets,
    rollup_buckets,
)
from api.routes.sites import NOT_FOUND
from parking.events import NAME_PATTERN, datetime_to_ns, ns_to_rfc3339
from parking.history import (
    DAY_NS,
    DWELL_CHUNK_NS,
    DWELL_LOOKAHEAD_NS,
    DWELL_MAX_CHANGES,
    DWELL_MAX_RANGE_NS,
    HEATMAP_TZ,
    HOUR_NS,
    MAX_RANGE_NS,
    MINUTE_NS,
    OCCUPANCY_FIELDS,
    RAW_MAX_RANGE_NS,
    SEED_LOOKBACK_NS,
    TURNOVER_FIELDS,
    WEEK_NS,
    WEEKDAYS,
    Bucket,
    HistoryError,
    Scope,
    VisitTracker,
    Window,
    ceil_to,
    csv_page_query,
    csv_rows,
    dwell_summary,
    floor_to,
    format_duration,
    heatmap_values,
    merge_buckets,
    occupancy_points,
    parse_core,
    parse_every,
    parse_transitions,
    resolve_range,
    resolve_window,
    seed_statement,
    status_name,
    timeline_changes,
    transitions_query,
    turnover_points,
)
from parking.localdays import local_days, regroup, time_zone
from parking.registry import Site
from parking.simulated import (
    local_date,
    local_hours,
    local_midnight_ns,
    marker_query,
    parse_markers,
    reference_day,
)
from parking.simulator_messages import SimulatorStatus
from parking.store import InfluxStore, StoreError, StoreUnavailable
from simulator.demand import day_type

log = logging.getLogger(__name__)
T = TypeVar("T")

router = APIRouter(prefix="/api/v1", tags=["history"], dependencies=[Depends(read_access)])

ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    422: {"description": "A parameter is invalid; `detail` says which and why"},
    502: {"description": "InfluxDB refused the query (credentials, missing database)"},
    503: {"description": "InfluxDB is unreachable or the rollups are still being built; retry later"},
}


# ---------------------------------------------------------------- response models


class OccupancyPoint(BaseModel):
    time: str = Field(
        description="Start of the interval, RFC 3339 UTC", json_schema_extra={"format": "date-time"}
    )
    occupancy: float | None = Field(
        ge=0, le=1, description="Occupied share of the bay-minutes whose state was known; null if none"
    )
    reporting: int = Field(description="Bays whose state was known (the most at any minute of the interval)")


class OccupancyHistory(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": None,
                "every": "15m",
                "source": "rollup",
                "start": "2026-11-20T10:00:00.000Z",
                "end": "2026-11-20T10:30:00.000Z",
                "points": [
                    {"time": "2026-11-20T10:00:00.000Z", "occupancy": 0.625, "reporting": 16},
                    {"time": "2026-11-20T10:15:00.000Z", "occupancy": 0.6875, "reporting": 16},
                ],
            }
        }
    )

    site: str
    zone: str | None
    every: str = Field(examples=["15m"])
    tz: str = Field("UTC", description="The time zone whose midnights the intervals start at")
    source: Literal["raw", "rollup"] = Field(description="rollup if a rollup answered (most of) it")
    start: str = Field(description="Start of the first interval (start aligned down to every)")
    end: str = Field(description="End of the last interval (end aligned up to every)")
    points: list[OccupancyPoint]


class TimelineInitial(BaseModel):
    status: Literal["occupied", "free", "unknown"]
    since: str | None = Field(description="Time of the reading the status comes from")


class TimelineChange(BaseModel):
    time: str
    status: Literal["occupied", "free"]


class BayTimeline(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "bay": "A01",
                "zone": "A",
                "start": "2026-11-20T00:00:00.000Z",
                "end": "2026-11-21T00:00:00.000Z",
                "initial": {"status": "free", "since": "2026-11-19T18:02:11.000Z"},
                "changes": [
                    {"time": "2026-11-20T08:14:03.000Z", "status": "occupied"},
                    {"time": "2026-11-20T09:41:57.000Z", "status": "free"},
                ],
                "truncated": False,
                "next": None,
            }
        }
    )

    site: str
    bay: str
    zone: str
    start: str
    end: str
    initial: TimelineInitial = Field(
        description=f"Status at start (readings up to {SEED_LOOKBACK_NS // DAY_NS} days back)"
    )
    changes: list[TimelineChange]
    truncated: bool
    next: str | None = Field(
        description="When truncated: the time of the next change; ask again with start=next"
    )


_EXAMPLE_HOURS: list[JsonValue] = [0.2 if h < 7 else 0.6 if h < 18 else 0.3 for h in range(24)]


class Heatmap(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": None,
                "weeks": 4,
                "tz": "Europe/Berlin",
                "start": "2026-10-24T10:00:00.000Z",
                "end": "2026-11-21T10:00:00.000Z",
                "source": "rollup",
                "weekdays": list(WEEKDAYS),
                "hours": list(range(24)),
                "values": [_EXAMPLE_HOURS for _ in WEEKDAYS],
            }
        }
    )

    site: str
    zone: str | None
    weeks: int
    tz: str
    start: str
    end: str
    source: Literal["raw", "rollup"]
    weekdays: list[str]
    hours: list[int]
    values: list[list[float | None]] = Field(description="values[weekday][hour], Monday first, local time")


class TurnoverPoint(BaseModel):
    time: str
    arrivals: int = Field(description="free -> occupied changes in the interval")
    per_bay: float | None = Field(description="arrivals per bay of the site or zone")


class Turnover(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": None,
                "every": "1d",
                "source": "rollup",
                "start": "2026-11-19T00:00:00.000Z",
                "end": "2026-11-21T00:00:00.000Z",
                "bays": 16,
                "total_arrivals": 142,
                "points": [
                    {"time": "2026-11-19T00:00:00.000Z", "arrivals": 75, "per_bay": 4.6875},
                    {"time": "2026-11-20T00:00:00.000Z", "arrivals": 67, "per_bay": 4.1875},
                ],
            }
        }
    )

    site: str
    zone: str | None
    every: str
    tz: str = Field("UTC", description="The time zone whose midnights the intervals start at")
    source: Literal["raw", "rollup"]
    start: str
    end: str
    bays: int
    total_arrivals: int
    points: list[TurnoverPoint]


class DwellBin(BaseModel):
    from_min: int
    to_min: int | None = Field(description="Exclusive; null for the last, open-ended bin")
    count: int


class Dwell(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": None,
                "start": "2026-11-14T00:00:00.000Z",
                "end": "2026-11-21T00:00:00.000Z",
                "visits": 412,
                "open": 3,
                "mean_min": 74.5,
                "median_min": 48.0,
                "bins": [
                    {"from_min": 0, "to_min": 15, "count": 61},
                    {"from_min": 15, "to_min": 30, "count": 70},
                    {"from_min": 1440, "to_min": None, "count": 2},
                ],
            }
        }
    )

    site: str
    zone: str | None
    start: str
    end: str
    visits: int = Field(description="Visits that arrived in the range and left within a day after its end")
    open: int = Field(description="Visits that arrived in the range and had not left by then")
    mean_min: float | None
    median_min: float | None
    bins: list[DwellBin]


def get_keeper(request: Request) -> RollupKeeper | None:
    keeper = getattr(request.app.state, "rollups", None)
    return keeper if isinstance(keeper, RollupKeeper) else None


KeeperDep = Annotated[RollupKeeper | None, Depends(get_keeper)]


def unavailable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail, headers={"Retry-After": "60"})


async def interval_buckets(
    store: InfluxStore,
    keeper: RollupKeeper | None,
    scope: Scope,
    zone: str | None,
    window: Window,
    until: int,
    source: str,
    fields: Sequence[str],
) -> tuple[dict[int, Bucket], Literal["raw", "rollup"]]:
    """Sums per interval: what the rollups cover from them, the rest (the tail) from raw readings."""
    start = window.start_ns
    if until <= start:
        return {}, "raw"
    site = scope.site
    step = window.rollup_step if source != "raw" else None
    watermark = keeper.watermark(site) if keeper is not None else None
    if step is not None and watermark is None:
        if source == "rollup" or until - start > RAW_MAX_RANGE_NS:
            why = keeper.last_error if keeper is not None and keeper.last_error else "it is being built"
            raise unavailable(
                f"the rollup of site {site!r} is not ready yet ({why}); "
                "retry in a minute, or ask for at most 7 days"
            )
        step = None
    reads = keeper.reads if keeper is not None else Coalescer()
    # Reads reaching the present may reuse a result a few seconds old (see Coalescer).
    live = LIVE_REUSE_S if until >= time.time_ns() - MINUTE_NS else 0.0
    # Raw readings are read to the end of the current minute: the same answer (nothing is stored
    # in the future), and requests within a minute become identical reads.
    raw_end = ceil_to(until, MINUTE_NS)
    every = window.every_ns
    key: Hashable
    if step is None or watermark is None:
        key = ("raw", scope, start, raw_end, every)
        read = await reads.run(key, lambda: raw_buckets(store, scope, start, raw_end, every), reuse_s=live)
        return read, "raw"
    split = min(max(watermark, start), until)
    if until - split > RAW_MAX_RANGE_NS:
        raise unavailable(
            f"the rollup of site {site!r} only reaches {ns_to_rfc3339(watermark)} "
            "(it is catching up); retry in a minute"
        )
    tasks = []
    if split > start:
        key = ("rollup", site, zone, start, split, every, step, tuple(fields))
        tasks.append(
            reads.run(key, lambda: rollup_buckets(store, site, zone, start, split, every, step, fields))
        )
    if until > split:
        seeds = keeper.seeds_at(site, split) if keeper is not None else None
        key = ("tail", scope, split, raw_end, every, seeds is not None)
        tasks.append(
            reads.run(key, lambda: raw_buckets(store, scope, split, raw_end, every, seeds), reuse_s=live)
        )
    parts = await asyncio.gather(*tasks)
    return merge_buckets(*parts), "rollup" if split > start else "raw"


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


def invalid(exc: HistoryError) -> HTTPException:
    return HTTPException(422, str(exc))


def zone_scope(site: Site, zone: str | None) -> Scope:
    if zone is None:
        return Scope(site.id, known=tuple(sorted(site.bays)))
    bays = tuple(sorted(b.id for b in site.bays.values() if b.zone == zone))
    if not bays:
        raise unknown_zone(site, zone)
    return Scope(site.id, bays, known=bays)


def window_for(
    start: datetime | None,
    end: datetime | None,
    every: str | None,
    *,
    default_span_ns: int,
    source: str,
    now: int,
) -> Window:
    try:
        return resolve_window(
            to_ns(start), to_ns(end), every, now, default_span_ns=default_span_ns, source=source
        )
    except HistoryError as exc:
        raise invalid(exc) from exc


@dataclass(frozen=True)
class Intervals:
    """The sums per interval of an answer, and what its head says about them."""

    starts: list[int]  # the intervals that have begun, in order
    buckets: dict[int, Bucket]
    every: str
    tz: str
    source: Literal["raw", "rollup"]
    start_ns: int
    end_ns: int

    def head(self, site: Site, zone: str | None) -> dict[str, Any]:
        return {
            "site": site.id,
            "zone": zone,
            "every": self.every,
            "tz": self.tz,
            "source": self.source,
            "start": ns_to_rfc3339(self.start_ns),
            "end": ns_to_rfc3339(self.end_ns),
        }


async def intervals(
    services: Services,
    keeper: RollupKeeper | None,
    scope: Scope,
    zone: str | None,
    request: tuple[datetime | None, datetime | None, str | None],
    tz: str,
    source: str,
    fields: Sequence[str],
    *,
    default_span_ns: int,
) -> Intervals:
    """Sums per interval of the UTC grid or, with a time zone other than UTC, per local day.

    Local days are hourly sums (read from InfluxDB like every other interval) added up.
    """
    now = time.time_ns()
    start, end, every = request
    if tz == "UTC":
        window = window_for(start, end, every, default_span_ns=default_span_ns, source=source, now=now)
        until = min(window.end_ns, now)
        buckets, used = await interval_buckets(
            services.store, keeper, scope, zone, window, until, source, fields
        )
        every_text = format_duration(window.every_ns)
        return Intervals(window.starts(until), buckets, every_text, tz, used, window.start_ns, window.end_ns)
    try:
        bounds, days = local_days(
            to_ns(start),
            to_ns(end),
            every,
            now,
            time_zone(tz),
            default_span_ns=default_span_ns,
            source=source,
        )
    except HistoryError as exc:
        raise invalid(exc) from exc
    until = min(bounds[-1], now)
    hourly, used = await interval_buckets(
        services.store, keeper, scope, zone, Window(bounds[0], bounds[-1], HOUR_NS), until, source, fields
    )
    starts = [b for b in bounds[:-1] if b < until]
    return Intervals(starts, regroup(hourly, bounds), f"{days}d", tz, used, bounds[0], bounds[-1])


# ---------------------------------------------------------------- endpoints


@router.get("/sites/{site}/occupancy", response_model=OccupancyHistory, responses=ERRORS)
async def occupancy_history(
    site: SiteDep,
    services: ServicesDep,
    keeper: KeeperDep,
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
    scope = zone_scope(site, zone)
    found = await intervals(
        services,
        keeper,
        scope,
        zone,
        (start, end, every),
        tz,
        source,
        OCCUPANCY_FIELDS,
        default_span_ns=DAY_NS,
    )
    return {**found.head(site, zone), "points": occupancy_points(found.starts, found.buckets)}


@router.get("/sites/{site}/turnover", response_model=Turnover, responses=ERRORS)
async def turnover(
    site: SiteDep,
    services: ServicesDep,
    keeper: KeeperDep,
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
    scope = zone_scope(site, zone)
    found = await intervals(
        services,
        keeper,
        scope,
        zone,
        (start, end, every),
        tz,
        source,
        TURNOVER_FIELDS,
        default_span_ns=WEEK_NS,
    )
    bays = len(scope.known)
    points = turnover_points(found.starts, found.buckets, bays)
    return {
        **found.head(site, zone),
        "bays": bays,
        "total_arrivals": sum(p["arrivals"] for p in points),
        "points": points,
    }


@router.get("/sites/{site}/heatmap", response_model=Heatmap, responses=ERRORS)
async def heatmap(
    site: SiteDep,
    services: ServicesDep,
    keeper: KeeperDep,
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
    now = time.time_ns()
    scope = zone_scope(site, zone)
    asked = to_ns(end)
    end_ns = floor_to(now if asked is None else min(asked, now), HOUR_NS)
    if end_ns - weeks * WEEK_NS < 0:
        raise invalid(HistoryError(f"end={ns_to_rfc3339(end_ns)} leaves no {weeks} weeks after 1970"))
    window = Window(end_ns - weeks * WEEK_NS, end_ns, HOUR_NS)
    buckets, used = await interval_buckets(
        services.store, keeper, scope, zone, window, end_ns, "auto", OCCUPANCY_FIELDS
    )
    return {
        "site": site.id,
        "zone": zone,
        "weeks": weeks,
        "tz": HEATMAP_TZ,
        "start": ns_to_rfc3339(window.start_ns),
        "end": ns_to_rfc3339(window.end_ns),
        "source": used,
        "weekdays": list(WEEKDAYS),
        "hours": list(range(24)),
        "values": heatmap_values(buckets.values()),
    }


class DayPoint(BaseModel):
    time: str = Field(description="Start of the interval, RFC 3339 UTC (the stored, simulated time)")
    hour: float = Field(description="Its local clock time in hours, Europe/Berlin (10.25 = 10:15)")
    occupancy: float | None = Field(ge=0, le=1)
    reporting: int


class ReferenceDay(BaseModel):
    date: str = Field(description="The simulated day shown, a local date (Europe/Berlin)")
    day_type: Literal["weekday", "saturday", "sunday"]
    start: str
    end: str
    source: Literal["raw", "rollup"]
    points: list[DayPoint]


class BackfillSpan(BaseModel):
    start: str
    end: str
    readings: int
    scenario: str
    seed: int


class SimulatedDay(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "town-centre",
                "simulated": True,
                "timeline": "simulated",
                "tz": "Europe/Berlin",
                "every": "15m",
                "sim_time": "2026-11-21T11:40:00+01:00",
                "day_label": "Samstag · Markttag",
                "day_type": "saturday",
                "reference": {
                    "date": "2026-11-14",
                    "day_type": "saturday",
                    "start": "2026-11-13T23:00:00.000Z",
                    "end": "2026-11-14T23:00:00.000Z",
                    "source": "rollup",
                    "points": [
                        {"time": "2026-11-13T23:00:00.000Z", "hour": 0.0, "occupancy": 0.21, "reporting": 720}
                    ],
                },
                "backfill": {
                    "start": "2026-10-23T22:00:00.000Z",
                    "end": "2026-11-21T09:12:31.000Z",
                    "readings": 189332,
                    "scenario": "town-centre",
                    "seed": 1,
                },
                "heatmap_end": "2026-11-21T09:00:00.000Z",
                "model_estimate": True,
            }
        }
    )

    site: str
    simulated: bool = Field(description="Whether a simulator runs the site or it has simulated history")
    timeline: Literal["simulated", "wall"] = Field(
        description="simulated: draw the day on the simulator's clock; wall: a real-sensor site, "
        "use /occupancy over the last 24 hours"
    )
    tz: str
    every: str
    sim_time: str | None = Field(description="The running simulator's clock (ISO 8601 with offset)")
    day_label: str | None
    day_type: Literal["weekday", "saturday", "sunday"] | None = Field(
        description="The kind of day simulated now (or today's, without a running simulator)"
    )
    reference: ReferenceDay | None = Field(
        description="The latest whole simulated day of that kind in the stored simulated history"
    )
    backfill: BackfillSpan | None = Field(description="The latest simulated history written")
    heatmap_end: str | None = Field(
        description="Ask /heatmap?weeks=4&end= this: the weeks of simulated history, without live loops"
    )
    model_estimate: bool = Field(description="True: every figure here comes from the traffic model")


EVERY_IN_HOUR = Literal["5m", "10m", "15m", "30m", "1h"]


def _status_clock(status: SimulatorStatus | None) -> datetime | None:
    """The running simulator's clock (None without a simulator or with an unreadable clock)."""
    if status is None:
        return None
    try:
        return datetime.fromisoformat(status.sim_time)
    except ValueError:
        return None


@router.get("/sites/{site}/simulated-day", response_model=SimulatedDay, responses=ERRORS)
async def simulated_day(
    site: SiteDep,
    services: ServicesDep,
    keeper: KeeperDep,
    every: Annotated[EVERY_IN_HOUR, Query(description="Interval length", examples=["15m"])] = "15m",
) -> dict[str, Any]:
    """The simulated timeline of a simulated site, for its 24-hour chart (model figures).

    The live simulator loops a few simulated hours many times a wall-clock day, so wall-clock
    history of a simulated site means little. This gives the simulator's clock and the latest
    whole simulated day of the same kind (weekday, Saturday, Sunday) from the simulated history
    `parklotse demo` wrote, with local clock hours to plot against. A site with neither a running
    simulator nor simulated history answers `timeline: wall` (use /occupancy).
    """
    zone = ZoneInfo(HEATMAP_TZ)
    records, _ = parse_markers(await services.store.query(marker_query(site.id), epoch="ns"), site.id)
    status = services.simulators.status.get(site.id)
    clock = _status_clock(status)
    simulated = bool(records) or status is not None
    head: dict[str, Any] = {
        "site": site.id,
        "simulated": simulated,
        "timeline": "simulated" if simulated else "wall",
        "tz": HEATMAP_TZ,
        "every": every,
        "sim_time": clock.isoformat() if clock else None,
        "day_label": status.day_label if status is not None else None,
        "model_estimate": simulated,
    }
    if not simulated:
        return {**head, "day_type": None, "reference": None, "backfill": None, "heatmap_end": None}
    wanted = clock.date() if clock else local_date(time.time_ns(), zone)
    day = reference_day(records, wanted, zone, day_type)
    reference = None
    if day is not None:
        a, b = local_midnight_ns(day, zone), local_midnight_ns(day + timedelta(days=1), zone)
        window = Window(a, b, parse_every(every))
        buckets, used = await interval_buckets(
            services.store, keeper, zone_scope(site, None), None, window, b, "auto", OCCUPANCY_FIELDS
        )
        starts = window.starts()
        points = [
            {**p, "hour": local_hours(t, zone)}
            for t, p in zip(starts, occupancy_points(starts, buckets), strict=True)
        ]
        reference = {
            "date": day.isoformat(),
            "day_type": day_type(day),
            "start": ns_to_rfc3339(a),
            "end": ns_to_rfc3339(b),
            "source": used,
            "points": points,
        }
    latest = records[-1] if records else None
    return {
        **head,
        "day_type": day_type(wanted),
        "reference": reference,
        "backfill": None
        if latest is None
        else {
            "start": ns_to_rfc3339(latest.start_ns),
            "end": ns_to_rfc3339(latest.end_ns),
            "readings": latest.readings,
            "scenario": latest.scenario,
            "seed": latest.seed,
        },
        "heatmap_end": ns_to_rfc3339(floor_to(latest.end_ns, HOUR_NS)) if latest else None,
    }


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
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"bay {bay!r} is not known in site {site.id!r}")
    try:
        a, b = resolve_range(
            to_ns(start), to_ns(end), time.time_ns(), default_span_ns=DAY_NS, max_span_ns=MAX_RANGE_NS
        )
    except HistoryError as exc:
        raise invalid(exc) from exc
    scope = Scope(site.id, (bay,))
    query = (
        f"{seed_statement(scope, a, a - SEED_LOOKBACK_NS)}; {transitions_query(scope, a, b, limit=limit + 1)}"
    )
    series = await services.store.query(query, epoch="ns")
    core = parse_core(series)
    seed = core.seeds.get(bay)
    diffs = parse_transitions(series).get(bay, [])
    changes, next_ns = timeline_changes(seed, core.firsts.get(bay), diffs, limit)
    return {
        "site": site.id,
        "bay": bay,
        "zone": found.zone,
        "start": ns_to_rfc3339(a),
        "end": ns_to_rfc3339(b),
        "initial": {
            "status": status_name(seed[1] if seed else None),
            "since": ns_to_rfc3339(seed[0]) if seed else None,
        },
        "changes": changes,
        "truncated": next_ns is not None,
        "next": ns_to_rfc3339(next_ns) if next_ns is not None else None,
    }


@router.get("/sites/{site}/dwell", response_model=Dwell, responses=ERRORS)
async def dwell(
    site: SiteDep, services: ServicesDep, start: Start = None, end: End = None, zone: Zone = None
) -> dict[str, Any]:
    """How long vehicles stayed: visits that arrived in the range (at most 31 days; default 7 days).

    A departure is looked for until a day after the end of the range; visits still there then
    are counted as `open`. Only bay changes are read (at most 1,000,000), never every reading.
    """
    now = time.time_ns()
    scope = zone_scope(site, zone)
    try:
        a, b = resolve_range(
            to_ns(start), to_ns(end), now, default_span_ns=WEEK_NS, max_span_ns=DWELL_MAX_RANGE_NS
        )
    except HistoryError as exc:
        raise invalid(exc) from exc
    tracker = VisitTracker(a, b)
    for bay, (_, value) in (await fetch_seeds(services.store, scope, a)).items():
        tracker.seed(bay, value)
    horizon = min(b + DWELL_LOOKAHEAD_NS, max(now, b))
    fetched = 0
    for chunk_start in range(a, horizon, DWELL_CHUNK_NS):
        chunk_end = min(chunk_start + DWELL_CHUNK_NS, horizon)
        series = await services.store.query(transitions_query(scope, chunk_start, chunk_end), epoch="ns")
        transitions = parse_transitions(series)
        fetched += sum(len(v) for v in transitions.values())
        if fetched > DWELL_MAX_CHANGES:
            raise invalid(
                HistoryError(
                    f"the range holds more than {DWELL_MAX_CHANGES} bay changes; ask for a shorter range"
                )
            )
        tracker.chunk(parse_core(series), transitions)
    return {
        "site": site.id,
        "zone": zone,
        "start": ns_to_rfc3339(a),
        "end": ns_to_rfc3339(b),
        **dwell_summary(tracker.durations_ns, tracker.open_visits),
    }


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
    scope = zone_scope(site, zone)
    try:
        a, b = resolve_range(
            to_ns(start), to_ns(end), time.time_ns(), default_span_ns=DAY_NS, max_span_ns=MAX_RANGE_NS
        )
    except HistoryError as exc:
        raise invalid(exc) from exc
    page_size = max(10_000, 2 * len(site.bays))
    store = services.store

    async def page(from_ns: int) -> list[tuple[int, str, str, int | None]]:
        return csv_rows(await store.query(csv_page_query(scope, from_ns, b, page_size), epoch="ns"), site.id)

    first_page = await page(a)  # before the response starts, so that a failure is still a 503

    async def body() -> AsyncIterator[str]:
        rows, fetched, header = first_page, len(first_page), True
        while True:
            for text in history_csv(rows, header=header):
                yield text
            header = False
            if fetched < page_size:
                return
            # The next page starts at the last timestamp of this one; the readings at it already
            # sent are skipped (one per bay at most, and a page holds more than twice the bays).
            last_ns = rows[-1][0]
            sent = {bay for t, _, bay, _ in rows if t == last_ns}
            try:
                next_page = await page(last_ns)
            except StoreError:
                log.warning("CSV export of site %s cut off: InfluxDB failed mid-stream", site.id)
                raise
            fetched = len(next_page)
            rows = [r for r in next_page if not (r[0] == last_ns and r[2] in sent)]
            if not rows:
                return

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
    site: SiteDep, keeper: KeeperDep, start: Start = None, end: End = None
) -> dict[str, Any]:
    """Recompute the rollups of a range (default: all history up to now), e.g. after importing old data.

    Needs the API token. Late readings of the last day are picked up without it.
    """
    if keeper is None:
        raise unavailable("the rollup keeper is not running in this process")
    a, b = to_ns(start), to_ns(end)
    if a is not None and b is not None and b <= a:
        raise invalid(HistoryError(f"end ({ns_to_rfc3339(b)}) must be after start ({ns_to_rfc3339(a)})"))
    begin, until, hours = await keeper.rebuild(site.id, a, b)
    watermark = keeper.watermark(site.id)
    return {
        "site": site.id,
        "start": ns_to_rfc3339(begin) if begin is not None else None,
        "end": ns_to_rfc3339(until) if begin is not None else None,
        "hours": hours,
        "watermark": ns_to_rfc3339(watermark) if watermark is not None else None,
    }


# ---------------------------------------------------------------- errors


async def store_error_handler(_: Request, exc: Exception) -> JSONResponse:
    """InfluxDB down or slow -> 503 (retry later); InfluxDB refusing -> 502. Never a 500."""
    if isinstance(exc, StoreUnavailable):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"detail": str(exc)}, status_code=502)
