"""The rollup keeper: 5-minute and hourly sums of ``bay_status`` kept in InfluxDB (docs/history.md).

Rows per interval for each site (no ``zone`` tag) and each zone of the registry; an hourly row also
carries the hour's count of raw readings, by which late readings are found and recomputed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from parking.events import ns_to_rfc3339
from parking.history.coalescer import Coalescer
from parking.history.influxql import (
    FINE_ROLLUP_MEASUREMENT,
    ROLLUP_MEASUREMENT,
    Scope,
    bay_tags_query,
    readings_statement,
    rollup_last_query,
    rollup_readings_query,
    site_first_reading_query,
)
from parking.history.readers import fetch_profile
from parking.history.sums import (
    Profile,
    fine_buckets,
    first_mismatch,
    hourly_counts,
    profile_buckets,
    rollup_lines,
)
from parking.history.windows import DAY_NS, FINE_ROLLUP_NS, HOUR_NS, ROLLUP_NS, ceil_to, chunks, floor_to
from parking.registry import Registry
from parking.store import InfluxStore, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RollupPolicy:
    """How the keeper works; the API's settings ``PARKLOTSE_ROLLUP_*`` fill it."""

    # False on extra API replicas: they then only read how far the rollup another replica keeps goes.
    enabled: bool = True
    interval_s: float = 300.0
    # Hours of the last day are compared with the raw readings at every pass; all history this often.
    recheck_s: float = 86_400.0
    chunk_days: int = 7


class RollupKeeper:
    """Keeps the rollups (rows per 5 minutes and per hour, site and zone) in step with ``bay_status``.

    At start-up and then every ``policy.interval_s``: the hours since the last pass are computed,
    and the last day's hours whose count of raw readings no longer matches the rollup's (late
    data, a spool replayed after an outage) are recomputed from there on; all of the history is
    checked that way once a day. Writes are idempotent, so two replicas doing it are harmless.
    """

    def __init__(
        self,
        store: InfluxStore,
        registry: Registry,
        policy: RollupPolicy | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.registry = registry
        self.policy = policy or RollupPolicy()
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
                    if self.policy.enabled:
                        await self.refresh(site)
                    else:
                        await self.follow(site)
                    self.last_error = None
                except StoreError as exc:
                    self.last_error = str(exc)
                    log.warning("rollup of site %s postponed: %s", site, exc)
                except Exception:
                    log.exception("rollup of site %s failed; trying again at the next pass", site)
            await asyncio.sleep(self.policy.interval_s)

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
                full = last_full is None or time.monotonic() - last_full >= self.policy.recheck_s
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
        stored = await self.store.query(bay_tags_query(site))
        if any(str(row[-1]) not in found.bays for s in stored for row in s.values):
            scopes.append((None, Scope(site, tuple(sorted(found.bays)), exclude=True)))
        return scopes

    async def _compute(self, site: str, begin: int, end: int, *, advance: bool) -> int:
        """Rows of both rollups for [begin, end), chunk by chunk, zones and site from one pass."""
        scopes = await self._scopes(site)
        written = 0
        for a, b in chunks(begin, end, self.policy.chunk_days * DAY_NS):
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
        series = await self.store.query(site_first_reading_query(site), epoch="ns")
        return int(series[0].values[0][0]) if series and series[0].values else None

    async def _first_mismatch(self, site: str, start: int, end: int, first_hour: int) -> int | None:
        """The first hour in [start, end) whose raw readings the rollup does not account for."""
        for a, b in chunks(start, end, 31 * DAY_NS):
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
