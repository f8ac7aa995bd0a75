"""The rollups the API keeps in InfluxDB, and the reads that history queries share.

``RollupKeeper`` maintains the 5-minute and hourly rollup measurements; ``Coalescer`` makes
identical reads in flight once; the ``fetch_*`` and ``*_buckets`` functions read InfluxDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from parking.events import ns_to_rfc3339
from parking.history import (
    DAY_NS,
    FINE_ROLLUP_MEASUREMENT,
    FINE_ROLLUP_NS,
    HOUR_NS,
    ROLLUP_MEASUREMENT,
    ROLLUP_NS,
    Bucket,
    Core,
    Profile,
    Scope,
    build_profile,
    ceil_to,
    core_query,
    deep_seed_query,
    first_mismatch,
    floor_to,
    hourly_counts,
    parse_core,
    parse_rollup,
    profile_buckets,
    readings_statement,
    rollup_last_query,
    rollup_lines,
    rollup_query,
    rollup_readings_query,
    seed_statement,
)
from parking.lineprotocol import BAY_STATUS, influxql_string
from parking.registry import Registry
from parking.store import InfluxStore, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")


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
