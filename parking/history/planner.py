"""Which reads answer a window: the rollups up to their watermark, raw readings for the rest.

Intervals of whole hours come from the hourly rollup, of whole 5 minutes from the 5-minute one,
the tail since the keeper's last pass (and every other ``every``) from raw readings, seeded from
the keeper's cached per-bay state where it has one. Local days (``tz``) are hourly sums added up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

from parking.events import ns_to_rfc3339
from parking.history.coalescer import LIVE_REUSE_S
from parking.history.influxql import Scope
from parking.history.readers import raw_buckets, rollup_buckets
from parking.history.rollups import RollupKeeper
from parking.history.sums import Bucket, merge_buckets
from parking.history.windows import (
    HOUR_NS,
    MINUTE_NS,
    RAW_MAX_RANGE_NS,
    Window,
    ceil_to,
    format_duration,
    resolve_window,
)
from parking.localdays import local_days, regroup, time_zone
from parking.store import InfluxStore

Source = Literal["raw", "rollup"]


class RollupNotReady(Exception):
    """The rollups cannot answer a range yet and raw readings may not (an HTTP 503); says why."""


async def interval_buckets(
    store: InfluxStore,
    keeper: RollupKeeper,
    scope: Scope,
    zone: str | None,
    window: Window,
    until: int,
    source: str,
    fields: Sequence[str],
) -> tuple[dict[int, Bucket], Source]:
    """Sums per interval: what the rollups cover from them, the rest (the tail) from raw readings."""
    start = window.start_ns
    if until <= start:
        return {}, "raw"
    site = scope.site
    step = window.rollup_step if source != "raw" else None
    watermark = keeper.watermark(site)
    if step is not None and watermark is None:
        if source == "rollup" or until - start > RAW_MAX_RANGE_NS:
            why = keeper.last_error or "it is being built"
            raise RollupNotReady(
                f"the rollup of site {site!r} is not ready yet ({why}); "
                "retry in a minute, or ask for at most 7 days"
            )
        step = None
    reads = keeper.reads
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
        raise RollupNotReady(
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
        seeds = keeper.seeds_at(site, split)
        key = ("tail", scope, split, raw_end, every, seeds is not None)
        tasks.append(
            reads.run(key, lambda: raw_buckets(store, scope, split, raw_end, every, seeds), reuse_s=live)
        )
    parts = await asyncio.gather(*tasks)
    return merge_buckets(*parts), "rollup" if split > start else "raw"


@dataclass(frozen=True)
class Intervals:
    """The sums per interval of an answer, and what its head says about them."""

    starts: list[int]  # the intervals that have begun, in order
    buckets: dict[int, Bucket]
    every: str
    tz: str
    source: Source
    start_ns: int
    end_ns: int

    def head(self, site: str, zone: str | None) -> dict[str, object]:
        return {
            "site": site,
            "zone": zone,
            "every": self.every,
            "tz": self.tz,
            "source": self.source,
            "start": ns_to_rfc3339(self.start_ns),
            "end": ns_to_rfc3339(self.end_ns),
        }


async def intervals(
    store: InfluxStore,
    keeper: RollupKeeper,
    scope: Scope,
    zone: str | None,
    asked: tuple[int | None, int | None, str | None],
    tz: str,
    source: str,
    fields: Sequence[str],
    *,
    default_span_ns: int,
) -> Intervals:
    """Sums per interval of the UTC grid or, with a time zone other than UTC, per local day.

    ``asked`` is the request's start, end and every. Local days are hourly sums (read from InfluxDB
    like every other interval) added up. HistoryError for a window that breaks a rule.
    """
    now = time.time_ns()
    start, end, every = asked
    if tz == "UTC":
        window = resolve_window(start, end, every, now, default_span_ns=default_span_ns, source=source)
        until = min(window.end_ns, now)
        buckets, used = await interval_buckets(store, keeper, scope, zone, window, until, source, fields)
        every_text = format_duration(window.every_ns)
        return Intervals(window.starts(until), buckets, every_text, tz, used, window.start_ns, window.end_ns)
    bounds, days = local_days(
        start, end, every, now, time_zone(tz), default_span_ns=default_span_ns, source=source
    )
    until = min(bounds[-1], now)
    hourly, used = await interval_buckets(
        store, keeper, scope, zone, Window(bounds[0], bounds[-1], HOUR_NS), until, source, fields
    )
    starts = [b for b in bounds[:-1] if b < until]
    return Intervals(starts, regroup(hourly, bounds), f"{days}d", tz, used, bounds[0], bounds[-1])
