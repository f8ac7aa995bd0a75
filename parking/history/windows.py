"""Time windows of history answers: durations, aligned intervals, range checks. Pure.

A window is ``[start, end)`` cut into aligned intervals of ``every``: UTC multiples of it, 7-day
intervals on Monday 00:00 UTC (InfluxDB's ``GROUP BY time`` grid, shifted for weeks). Whether a
rollup can answer it follows from ``every``: whole hours the hourly rollup, whole 5 minutes the
5-minute one, anything else raw readings only, over at most 7 days (docs/history.md).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from parking.events import ns_to_rfc3339

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
WEEK_NS = 7 * DAY_NS

SAMPLE_NS = MINUTE_NS  # a bay's state is sampled at the end of every minute
ROLLUP_NS = HOUR_NS  # the hourly rollup; it also carries the reading counts
FINE_ROLLUP_NS = 5 * MINUTE_NS

MIN_EVERY_NS = MINUTE_NS
MAX_EVERY_NS = WEEK_NS
MAX_POINTS = 5000
TARGET_POINTS = 400
MAX_RANGE_NS = 400 * DAY_NS
RAW_MAX_RANGE_NS = 7 * DAY_NS
DWELL_MAX_RANGE_NS = 31 * DAY_NS
SEED_WINDOW_NS = DAY_NS  # a range's seeds are first looked for in the day before it
SEED_LOOKBACK_NS = 400 * DAY_NS  # and then this far back, for the bays still missing
EARLIEST_NS = 0  # 1970-01-01
LATEST_NS = 7_258_118_400 * SECOND_NS  # 2200-01-01, well inside InfluxDB's range
# Weeks start on Monday: 1970-01-01 was a Thursday, so 7-day buckets are shifted by 4 days.
WEEK_OFFSET_NS = 4 * DAY_NS
EVERY_LADDER_NS = tuple(m * MINUTE_NS for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 10080))

_EVERY_RE = re.compile(r"([1-9][0-9]{0,5})([mhdw])")
_UNIT_NS = {"m": MINUTE_NS, "h": HOUR_NS, "d": DAY_NS, "w": WEEK_NS}


class HistoryError(ValueError):
    """A request the history cannot answer as asked; the message says why (an HTTP 422)."""


def parse_every(text: str) -> int:
    """``5m``, ``1h``, ``1d``, ``1w`` as nanoseconds, between 1 minute and 7 days."""
    match = _EVERY_RE.fullmatch(text.strip())
    if match is None:
        raise HistoryError(
            f"every={text!r} is not a duration: use a whole number and m, h, d or w, e.g. 15m, 1h, 1d"
        )
    value = int(match.group(1)) * _UNIT_NS[match.group(2)]
    if value < MIN_EVERY_NS or value > MAX_EVERY_NS:
        raise HistoryError(f"every={text!r} is out of bounds: it must be between 1m and 7d")
    return value


def format_duration(ns: int) -> str:
    """The shortest exact spelling: 90 minutes is ``90m``, 2 days ``2d``, a week ``7d``."""
    for unit, size in (("d", DAY_NS), ("h", HOUR_NS), ("m", MINUTE_NS), ("s", SECOND_NS)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def bucket_offset(every_ns: int) -> int:
    """InfluxDB aligns buckets on the epoch; whole weeks are shifted so that they start on Monday."""
    return WEEK_OFFSET_NS % every_ns if every_ns % WEEK_NS == 0 else 0


def floor_to(t: int, step: int, offset: int = 0) -> int:
    return t - (t - offset) % step


def ceil_to(t: int, step: int, offset: int = 0) -> int:
    down = floor_to(t, step, offset)
    return down if down == t else down + step


def rollup_step(every_ns: int) -> int | None:
    """The coarsest rollup whose rows add up to intervals of ``every``, or None (raw readings only)."""
    for step in (ROLLUP_NS, FINE_ROLLUP_NS):
        if every_ns % step == 0:
            return step
    return None


def choose_every(span_ns: int, *, target: int = TARGET_POINTS, rollup: bool = False) -> int:
    """The finest step of the ladder giving at most ``target`` points (one a rollup has if ``rollup``)."""
    for step in EVERY_LADDER_NS:
        if rollup and rollup_step(step) is None:
            continue
        if math.ceil(span_ns / step) <= target:
            return step
    return EVERY_LADDER_NS[-1]


@dataclass(frozen=True, slots=True)
class Window:
    """Aligned intervals ``[start, end)`` of length ``every``; each point covers a whole interval."""

    start_ns: int
    end_ns: int
    every_ns: int

    @property
    def offset_ns(self) -> int:
        return bucket_offset(self.every_ns)

    @property
    def span_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def rollup_step(self) -> int | None:
        """The rollup that can answer it (intervals of whole hours or 5 minutes), if any."""
        return rollup_step(self.every_ns)

    def starts(self, until_ns: int | None = None) -> list[int]:
        """Start of every interval that has begun before ``until_ns`` (default: all of them)."""
        stop = self.end_ns if until_ns is None else min(self.end_ns, until_ns)
        return list(range(self.start_ns, stop, self.every_ns)) if stop > self.start_ns else []


def check_range(start_ns: int, end_ns: int, *, max_span_ns: int = MAX_RANGE_NS) -> None:
    for name, value in (("start", start_ns), ("end", end_ns)):
        if not EARLIEST_NS <= value <= LATEST_NS:
            raise HistoryError(f"{name}={ns_to_rfc3339(value)} is outside 1970-01-01 .. 2200-01-01")
    if end_ns <= start_ns:
        raise HistoryError(f"end ({ns_to_rfc3339(end_ns)}) must be after start ({ns_to_rfc3339(start_ns)})")
    if end_ns - start_ns > max_span_ns:
        raise HistoryError(
            f"the range from {ns_to_rfc3339(start_ns)} to {ns_to_rfc3339(end_ns)} is "
            f"{format_span(end_ns - start_ns)}; at most {format_span(max_span_ns)} are allowed"
        )


def format_span(ns: int) -> str:
    days, rest = divmod(ns, DAY_NS)
    hours = rest / HOUR_NS
    if days and not rest:
        return f"{days} days"
    return f"{days} days {hours:.1f} hours" if days else f"{hours:.1f} hours"


def resolve_range(
    start_ns: int | None, end_ns: int | None, now_ns: int, *, default_span_ns: int, max_span_ns: int
) -> tuple[int, int]:
    """Defaults (``end`` now, ``start`` one default span before ``end``) and the range checks."""
    end = now_ns if end_ns is None else end_ns
    start = end - default_span_ns if start_ns is None else start_ns
    check_range(start, end, max_span_ns=max_span_ns)
    return start, end


def resolve_window(
    start_ns: int | None,
    end_ns: int | None,
    every: str | None,
    now_ns: int,
    *,
    default_span_ns: int = DAY_NS,
    max_span_ns: int = MAX_RANGE_NS,
    source: str = "auto",
) -> Window:
    """Check and align a requested range; ``every`` defaults to at most ~400 points.

    Raises HistoryError naming the broken rule: end not after start, a range too long, more than
    5000 points, or an ``every`` the raw path cannot afford over more than 7 days.
    """
    start, end = resolve_range(
        start_ns, end_ns, now_ns, default_span_ns=default_span_ns, max_span_ns=max_span_ns
    )
    span = end - start
    from_rollup = source == "rollup" or (source == "auto" and span > RAW_MAX_RANGE_NS)
    every_ns = choose_every(span, rollup=from_rollup) if every is None else parse_every(every)
    offset = bucket_offset(every_ns)
    window = Window(floor_to(start, every_ns, offset), ceil_to(end, every_ns, offset), every_ns)
    points = window.span_ns // every_ns
    if points > MAX_POINTS:
        raise HistoryError(
            f"every={format_duration(every_ns)} over {format_span(span)} gives {points} points; "
            f"at most {MAX_POINTS} are allowed, choose a larger every"
        )
    if source == "rollup" and window.rollup_step is None:
        raise HistoryError(
            f"source=rollup needs every in whole 5 minutes (the rollups are per 5 minutes and per "
            f"hour), got {format_duration(every_ns)}"
        )
    if window.rollup_step is None and window.span_ns > RAW_MAX_RANGE_NS:
        raise HistoryError(
            f"ranges over 7 days are answered from the rollups, which need every in whole 5 minutes "
            f"(e.g. 15m, 1h, 1d); every={format_duration(every_ns)} is only allowed up to 7 days"
        )
    if source == "raw" and window.span_ns > RAW_MAX_RANGE_NS:
        raise HistoryError("source=raw reads raw readings and is limited to ranges of 7 days")
    return window


def chunks(start_ns: int, end_ns: int, size_ns: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut into consecutive pieces of at most ``size_ns`` (reads of bounded cost)."""
    return [(a, min(a + size_ns, end_ns)) for a in range(start_ns, end_ns, size_ns)]
