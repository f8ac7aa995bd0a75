"""History and analysis: occupancy over time, a bay's timeline, heatmap, turnover, dwell times, CSV.

Aggregation happens in InfluxDB (per-minute sums of each bay's changes, rollup sums per interval);
Python only adds up those totals. Whatever the rollups ``site_occupancy_5m`` and
``site_occupancy_1h`` (kept by ``RollupKeeper``) cover comes from them, only the tail since their
last pass from raw readings, so a year costs about what a day costs. The semantics and the rollups
are described in docs/history.md and parking/history.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, cast

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.deps import ServicesDep, SiteDep, read_access, require_token
from api.models import Problem
from api.opendata.history_csv import HISTORY_CSV_MEDIA_TYPE, history_csv
from api.routes.sites import NOT_FOUND
from parking.events import NAME_PATTERN, datetime_to_ns, ns_to_rfc3339
from parking.history import (
    DAY_NS,
    DWELL_CHUNK_NS,
    DWELL_LOOKAHEAD_NS,
    DWELL_MAX_CHANGES,
    DWELL_MAX_RANGE_NS,
    FINE_ROLLUP_MEASUREMENT,
    FINE_ROLLUP_NS,
    HEATMAP_TZ,
    HOUR_NS,
    MAX_RANGE_NS,
    MINUTE_NS,
    OCCUPANCY_FIELDS,
    RAW_MAX_RANGE_NS,
    ROLLUP_MEASUREMENT,
    ROLLUP_NS,
    SEED_LOOKBACK_NS,
    TURNOVER_FIELDS,
    WEEK_NS,
    WEEKDAYS,
    Bucket,
    Core,
    HistoryError,
    Profile,
    Scope,
    VisitTracker,
    Window,
    build_profile,
    ceil_to,
    core_query,
    csv_page_query,
    csv_rows,
    deep_seed_query,
    dwell_summary,
    first_mismatch,
    floor_to,
    format_duration,
    heatmap_values,
    hourly_counts,
    merge_buckets,
    occupancy_points,
    parse_core,
    parse_rollup,
    parse_transitions,
    profile_buckets,
    readings_statement,
    resolve_range,
    resolve_window,
    rollup_last_query,
    rollup_lines,
    rollup_query,
    rollup_readings_query,
    seed_statement,
    status_name,
    timeline_changes,
    transitions_query,
    turnover_points,
)
from parking.lineprotocol import BAY_STATUS, influxql_string
from parking.registry import Registry, Site
from parking.store import InfluxStore, StoreError, StoreUnavailable

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


class RollupReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "start": "2026-11-01T00:00:00.000Z",
                "end": "2026-11-21T10:00:00.000Z",
                "hours": 490,
                "watermark": "2026-11-21T10:00:00.000Z",
            }
        }
    )

    site: str
    start: str | None
    end: str | None
    hours: int
    watermark: str | None = Field(description="Time before which the rollups answer")


# ---------------------------------------------------------------- the rollup


class RollupSettings(BaseSettings):
    """``PARKLOTSE_ROLLUP_*``: how the API keeps the rollups."""

    model_config = SettingsConfigDict(env_prefix="PARKLOTSE_", extra="ignore", frozen=True)

    # False on extra API replicas: they then only read how far the rollup another replica keeps goes.
    rollup_enabled: bool = True
    rollup_interval_s: float = Field(default=300.0, gt=0, le=86_400)
    # Hours of the last day are compared with the raw readings at every pass; all history this often.
    rollup_recheck_s: float = Field(default=86_400.0, gt=0)
    rollup_chunk_days: int = Field(default=7, ge=1, le=31)


# How old an answer reaching the present may be: a 10,000-bay site's last hour of raw readings
# takes InfluxDB a third of a second, which every screen would otherwise wait for.
LIVE_REUSE_S = 5.0


class Coalescer:
    """Identical reads in flight at the same time go to InfluxDB once (many screens ask the same).

    No caching, except at the live edge: a read whose range reaches the present may be given
    ``reuse_s`` (see ``LIVE_REUSE_S``); a result of it up to that old is then reused, and once it
    is older than a fifth of that a fresh read starts in the background. Ranges in the past are
    always read afresh. Kept results are bounded (``max_kept``) and dropped once too old.
    """

    def __init__(self, max_kept: int = 256) -> None:
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self._kept: dict[Hashable, tuple[float, float, Any]] = {}  # key -> (refresh at, expires, result)
        self.max_kept = max_kept

    async def run(self, key: Hashable, make: Callable[[], Awaitable[T]], *, reuse_s: float = 0.0) -> T:
        kept = self._kept.get(key) if reuse_s > 0 else None
        if kept is not None:
            refresh_at, expires, result = kept
            now = time.monotonic()
            if now < expires:
                if now >= refresh_at and key not in self._inflight:
                    self._start(key, make, reuse_s)
                return cast(T, result)
        shared = self._inflight.get(key) or self._start(key, make, reuse_s)
        # shield: a client going away must not cancel the read others wait for.
        return cast(T, await asyncio.shield(shared))

    def _start(
        self, key: Hashable, make: Callable[[], Awaitable[Any]], reuse_s: float
    ) -> asyncio.Future[Any]:
        started = time.monotonic()
        shared = asyncio.ensure_future(make())
        self._inflight[key] = shared
        shared.add_done_callback(lambda done: self._finish(key, done, started, reuse_s))
        return shared

    def _finish(self, key: Hashable, done: asyncio.Future[Any], started: float, reuse_s: float) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if done.cancelled():
            return
        # retrieved, so an error nobody awaited any more is not reported as lost
        if done.exception() is None and reuse_s > 0:
            now = time.monotonic()
            for old in [k for k, (_, expires, _) in self._kept.items() if expires <= now]:
                del self._kept[old]
            while len(self._kept) >= self.max_kept:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = (started + reuse_s / 5, started + reuse_s, done.result())


class RollupKeeper:
    """Keeps the rollups (rows per 5 minutes and per hour, site and zone) in step with ``bay_status``.

    At start-up and then every ``rollup_interval_s``: the hours since the last pass are computed,
    and the last day's hours whose count of raw readings no longer matches the rollup's (late
    data, a spool replayed after an outage) are recomputed from there on; all of the history is
    checked that way once a day. Writes are idempotent, so two replicas doing it are harmless.
    """

    def __init__(
        self,
        store: InfluxStore,
        registry: Registry,
        settings: RollupSettings | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings or RollupSettings()
        self.clock = clock
        self._watermarks: dict[str, int] = {}
        self._last_full: dict[str, float] = {}
        self._first: dict[str, int | None] = {}
        self._states: dict[str, tuple[int, dict[str, tuple[int, int]]]] = {}
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.reads = Coalescer()

    def watermark(self, site: str) -> int | None:
        """Hours before this time are in the rollups; None while unknown or being built."""
        return self._watermarks.get(site)

    def seeds_at(self, site: str, t: int) -> dict[str, tuple[int, int]] | None:
        """Each bay's latest reading before ``t`` if the last pass ended there (else None)."""
        cached = self._states.get(site)
        return cached[1] if cached is not None and cached[0] == t else None

    async def start(self) -> None:
        """Read how far each site's rollup goes (so that it answers at once), then keep it."""
        try:
            async with asyncio.timeout(5):
                for site in self.registry.sites:
                    stored = await self._stored_last(site)
                    if stored is not None and not await self._incomplete(site):
                        self._watermarks[site] = stored + ROLLUP_NS
        except (StoreError, TimeoutError) as exc:
            self.last_error = str(exc) or "InfluxDB did not answer in time"
            log.warning("could not read how far the rollups go (%s); finding out in the background", exc)
        self._task = asyncio.create_task(self._run(), name="parklotse-rollups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            for site in list(self.registry.sites):
                try:
                    if self.settings.rollup_enabled:
                        await self.refresh(site)
                    else:
                        await self.follow(site)
                    self.last_error = None
                except StoreError as exc:
                    self.last_error = str(exc)
                    log.warning("rollup of site %s postponed: %s", site, exc)
                except Exception:
                    log.exception("rollup of site %s failed; trying again at the next pass", site)
            await asyncio.sleep(self.settings.rollup_interval_s)

    async def follow(self, site: str) -> None:
        last = await self._stored_last(site)
        if last is not None:
            self._watermarks[site] = last + ROLLUP_NS

    async def refresh(self, site: str, *, full: bool | None = None) -> int:
        """Bring the site's rollup up to the last complete hour; returns the hours written."""
        async with self._locks[site]:
            now_hour = floor_to(self.clock(), HOUR_NS)
            if full is None:
                last_full = self._last_full.get(site)
                full = last_full is None or time.monotonic() - last_full >= self.settings.rollup_recheck_s
            known = self._watermarks.get(site)
            if known is None:
                stored = await self._stored_last(site)
                if stored is not None and not await self._incomplete(site):
                    known = stored + ROLLUP_NS
            # first() scans the series, so it is asked once a day, or while the site has no data.
            if full or known is None or self._first.get(site) is None:
                self._first[site] = await self._first_reading(site)
            first = self._first[site]
            if first is None:
                self._watermarks[site] = now_hour
                self._last_full[site] = time.monotonic()
                return 0
            first_hour = floor_to(first, HOUR_NS)
            if known is None:
                log.info("building the rollups of site %s from %s", site, ns_to_rfc3339(first_hour))
                begin = first_hour
            else:
                self._watermarks[site] = known
                check_from = first_hour if full else max(first_hour, known - DAY_NS)
                mismatch = await self._first_mismatch(site, check_from, min(known, now_hour), first_hour)
                if mismatch is not None:
                    log.info(
                        "readings of site %s the rollup lacks: recomputing it from %s",
                        site,
                        ns_to_rfc3339(mismatch),
                    )
                begin = known if mismatch is None else min(mismatch, known)
            written = await self._compute(site, begin, now_hour, advance=True)
            if begin >= now_hour:
                # No complete hour yet (the first reading is in this hour): the rollups, empty, still
                # answer everything before it; left unset, every long range would be a 503 for an hour.
                self._watermarks[site] = max(self._watermarks.get(site, now_hour), now_hour)
            if full:
                self._last_full[site] = time.monotonic()
            return written

    async def rebuild(
        self, site: str, start_ns: int | None, end_ns: int | None
    ) -> tuple[int | None, int, int]:
        """Recompute the hours of a range (default: all history); returns (begin, end, hours)."""
        async with self._locks[site]:
            now_hour = floor_to(self.clock(), HOUR_NS)
            first = self._first[site] = await self._first_reading(site)
            if first is None:
                self._watermarks[site] = max(self._watermarks.get(site, now_hour), now_hour)
                return None, now_hour, 0
            first_hour = floor_to(first, HOUR_NS)
            begin = max(first_hour, floor_to(start_ns, HOUR_NS)) if start_ns is not None else first_hour
            end = min(now_hour, ceil_to(end_ns, HOUR_NS)) if end_ns is not None else now_hour
            known = self._watermarks.get(site)
            # Hours before the first reading need no rows, so a rebuild from there leaves no gap.
            advance = begin == first_hour or (known is not None and begin <= known)
            written = await self._compute(site, begin, end, advance=advance) if end > begin else 0
            return begin, end, written

    async def _scopes(self, site: str) -> list[tuple[str | None, Scope]]:
        """Each zone of the registry, and (zone None) the site's bays the registry does not know."""
        found = self.registry.site(site)
        if found is None:
            return [(None, Scope(site))]
        by_zone: dict[str, list[str]] = defaultdict(list)
        for bay in found.bays.values():
            by_zone[bay.zone].append(bay.id)
        scopes: list[tuple[str | None, Scope]] = [
            (zone, Scope(site, tuple(sorted(bays)), known=tuple(sorted(bays))))
            for zone, bays in sorted(by_zone.items())
        ]
        stored = await self.store.query(
            f'SHOW TAG VALUES FROM {BAY_STATUS} WITH KEY = "bay" WHERE "site" = {influxql_string(site)}'
        )
        if any(str(row[-1]) not in found.bays for s in stored for row in s.values):
            scopes.append((None, Scope(site, tuple(sorted(found.bays)), exclude=True)))
        return scopes

    async def _compute(self, site: str, begin: int, end: int, *, advance: bool) -> int:
        """Rows of both rollups for [begin, end), chunk by chunk, zones and site from one pass."""
        chunk = self.settings.rollup_chunk_days * DAY_NS
        scopes = await self._scopes(site)
        written = 0
        for a in range(begin, end, chunk):
            b = min(a + chunk, end)
            last_chunk = b == end
            results = await asyncio.gather(
                *(
                    fetch_profile(self.store, scope, a, b, readings=True, lasts=last_chunk)
                    for _, scope in scopes
                )
            )
            total: Profile | None = None
            readings: dict[int, int] = defaultdict(int)
            states: dict[str, tuple[int, int]] = {}
            lines: list[str] = []
            for (zone, _), (profile, core) in zip(scopes, results, strict=True):
                total = profile if total is None else total + profile
                for hour, count in core.readings.items():
                    readings[hour] += count
                states.update(core.states_at_end())
                if zone is not None:
                    lines += rollup_lines(
                        site, zone, profile_buckets(profile, ROLLUP_NS).values(), core.readings
                    )
                    lines += rollup_lines(
                        site, zone, fine_buckets(profile), measurement=FINE_ROLLUP_MEASUREMENT
                    )
            assert total is not None
            site_buckets = profile_buckets(total, ROLLUP_NS)
            lines += rollup_lines(site, None, site_buckets.values(), readings)
            lines += rollup_lines(site, None, fine_buckets(total), measurement=FINE_ROLLUP_MEASUREMENT)
            # The fine rows first: an hourly row is what marks the hour done.
            lines.sort(key=lambda line: line.startswith(ROLLUP_MEASUREMENT))
            for i in range(0, len(lines), 5000):
                await self.store.write(lines[i : i + 5000])
            written += len(site_buckets)
            if advance:
                self._watermarks[site] = max(self._watermarks.get(site, b), b)
            if last_chunk and self._watermarks.get(site) == b:
                self._states[site] = (b, states)
        return written

    async def _stored_last(self, site: str) -> int | None:
        series = await self.store.query(rollup_last_query(site), epoch="ns")
        return int(series[0].values[0][0]) if series and series[0].values else None

    async def _incomplete(self, site: str) -> bool:
        """Whether a zone (new in the registry) or the 5-minute rollup lacks rows: then rebuild."""
        found = self.registry.site(site)
        zones = found.zones if found is not None else ()
        statements = [rollup_last_query(site, zone) for zone in zones]
        statements.append(rollup_last_query(site, None, step_ns=FINE_ROLLUP_NS))
        results = await self.store.query("; ".join(statements), epoch="ns")
        return len([s for s in results if s.values]) < len(statements)

    async def _first_reading(self, site: str) -> int | None:
        series = await self.store.query(
            f'SELECT first(occupied) FROM {BAY_STATUS} WHERE "site" = {influxql_string(site)}', epoch="ns"
        )
        return int(series[0].values[0][0]) if series and series[0].values else None

    async def _first_mismatch(self, site: str, start: int, end: int, first_hour: int) -> int | None:
        """The first hour in [start, end) whose raw readings the rollup does not account for."""
        step = 31 * DAY_NS
        for a in range(start, end, step):
            b = min(a + step, end)
            raw = hourly_counts(
                await self.store.query(readings_statement(Scope(site), a, b), epoch="ns"), "readings"
            )
            rolled_series = await self.store.query(rollup_readings_query(site, a, b), epoch="ns")
            rolled = hourly_counts(rolled_series, "readings")
            rolled_hours = {int(t) for s in rolled_series for t, _ in s.values}
            missing = [h for h in range(a, b, ROLLUP_NS) if h >= first_hour and h not in rolled_hours]
            found = first_mismatch(raw, rolled)
            candidates = [h for h in (found, missing[0] if missing else None) if h is not None]
            if candidates:
                return min(candidates)
        return None


# ---------------------------------------------------------------- reading InfluxDB


def fine_buckets(profile: Profile) -> list[Bucket]:
    """5-minute rows worth writing: a missing one reads as zeros (hourly rows mark what is done)."""
    return [b for b in profile_buckets(profile, FINE_ROLLUP_NS).values() if b.samples or b.arrivals]


async def fetch_core(
    store: InfluxStore,
    scope: Scope,
    start: int,
    end: int,
    *,
    readings: bool = False,
    lasts: bool = False,
    seeds: Mapping[str, tuple[int, int]] | None = None,
) -> Core:
    """Seeds, first readings and per-minute changes in one request.

    A second request only for bays without a reading in the day before ``start``; none when the
    ``seeds`` are known already (the rollup keeper's state at its watermark).
    """
    query = core_query(scope, start, end, seeds=seeds is None, readings=readings, lasts=lasts)
    core = parse_core(await store.query(query, epoch="ns"))
    if seeds is not None:
        core.seeds = {bay: state for bay, state in seeds.items() if scope.covers(bay)}
        return core
    missing = [bay for bay in scope.known if bay not in core.seeds]
    if missing:
        parse_core(await store.query(deep_seed_query(scope, start, missing), epoch="ns"), core)
    return core


async def fetch_profile(
    store: InfluxStore,
    scope: Scope,
    start: int,
    end: int,
    *,
    readings: bool = False,
    lasts: bool = False,
    seeds: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[Profile, Core]:
    core = await fetch_core(store, scope, start, end, readings=readings, lasts=lasts, seeds=seeds)
    return build_profile(core, start, end), core


async def fetch_seeds(store: InfluxStore, scope: Scope, start: int) -> dict[str, tuple[int, int]]:
    core = parse_core(await store.query(seed_statement(scope, start, start - DAY_NS), epoch="ns"))
    missing = [bay for bay in scope.known if bay not in core.seeds]
    if missing:
        parse_core(await store.query(deep_seed_query(scope, start, missing), epoch="ns"), core)
    return core.seeds


async def raw_buckets(
    store: InfluxStore,
    scope: Scope,
    start: int,
    end: int,
    every: int,
    seeds: Mapping[str, tuple[int, int]] | None = None,
) -> dict[int, Bucket]:
    profile, _ = await fetch_profile(store, scope, start, end, seeds=seeds)
    return profile_buckets(profile, every)


async def rollup_buckets(
    store: InfluxStore,
    site: str,
    zone: str | None,
    start: int,
    end: int,
    every: int,
    step: int,
    fields: Sequence[str],
) -> dict[int, Bucket]:
    query = rollup_query(site, zone, start, end, every, step_ns=step, fields=fields)
    return parse_rollup(await store.query(query, epoch="ns"))


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
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"zone {zone!r} is not known in site {site.id!r} (zones: {', '.join(site.zones)})",
        )
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
) -> dict[str, Any]:
    """Occupancy of a site or zone per interval: occupied share of the bays whose state was known.

    Defaults: the last 24 hours and an `every` giving at most ~400 points. Intervals are aligned
    (UTC; 7-day intervals start on Monday) and each point covers its whole interval.
    """
    now = time.time_ns()
    scope = zone_scope(site, zone)
    window = window_for(start, end, every, default_span_ns=DAY_NS, source=source, now=now)
    until = min(window.end_ns, now)
    buckets, used = await interval_buckets(
        services.store, keeper, scope, zone, window, until, source, OCCUPANCY_FIELDS
    )
    return {
        "site": site.id,
        "zone": zone,
        "every": format_duration(window.every_ns),
        "source": used,
        "start": ns_to_rfc3339(window.start_ns),
        "end": ns_to_rfc3339(window.end_ns),
        "points": occupancy_points(window.starts(until), buckets),
    }


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
) -> dict[str, Any]:
    """Arrivals (free -> occupied) per interval, and per bay: with every=1d, vehicles per bay-day.

    Default: the last 7 days per day.
    """
    now = time.time_ns()
    scope = zone_scope(site, zone)
    window = window_for(start, end, every, default_span_ns=WEEK_NS, source=source, now=now)
    until = min(window.end_ns, now)
    buckets, used = await interval_buckets(
        services.store, keeper, scope, zone, window, until, source, TURNOVER_FIELDS
    )
    bays = len(scope.known)
    points = turnover_points(window.starts(until), buckets, bays)
    return {
        "site": site.id,
        "zone": zone,
        "every": format_duration(window.every_ns),
        "source": used,
        "start": ns_to_rfc3339(window.start_ns),
        "end": ns_to_rfc3339(window.end_ns),
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
) -> dict[str, Any]:
    """Mean occupancy per weekday and hour of day (local time Europe/Berlin), from the hourly rollup.

    The last `weeks` weeks up to the last full hour; a cell is occupied bay-minutes over known
    bay-minutes of all its hours (null if no bay was known).
    """
    now = time.time_ns()
    scope = zone_scope(site, zone)
    end = floor_to(now, HOUR_NS)
    window = Window(end - weeks * WEEK_NS, end, HOUR_NS)
    buckets, used = await interval_buckets(
        services.store, keeper, scope, zone, window, end, "auto", OCCUPANCY_FIELDS
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
