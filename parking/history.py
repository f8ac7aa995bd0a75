"""Occupancy history over ``bay_status``: InfluxQL builders and the pure arithmetic around them.

No I/O here; ``api/rollups.py`` keeps the rollups and reads InfluxDB, ``api/routes/history.py`` serves them.

How a bay's state is counted (see docs/history.md for the whole story):

- A bay's state is its latest reading, carried forward until the next one. It is sampled at the end
  of every minute: minute ``[t, t+1m)`` counts with the state after every reading before ``t+1m``.
  With readings on whole minutes this is the exact time-weighted rate; otherwise each change is off
  by less than a minute.
- At the start of a range a bay's state comes from its last reading before the range (its *seed*):
  looked up in the last day, then up to ``SEED_LOOKBACK_NS`` back for the registry's bays still
  missing. A bay without a seed is *unknown* until its first reading and is left out of the rate
  (unknown is never free); ``reporting`` counts the bays whose state was known.
- Occupancy of an interval = occupied bay-minutes / known bay-minutes. Sums of bay-minutes add
  across zones, hours and query parts, so the raw path, the rollup and any mix of both give the
  same figures.

Rollups: ``site_occupancy_5m`` and ``site_occupancy_1h`` hold those sums per 5 minutes and per hour,
for each site (no ``zone`` tag) and each zone of the registry. An ``every`` of whole hours is
answered from the hourly one, of whole 5 minutes from the 5-minute one, anything else (1m, 7m)
from raw readings only, over at most 7 days.

What InfluxDB computes: per minute, the sum and count of the non-zero ``difference()`` of each bay's
readings (``net`` = arrivals - departures, ``changes`` = arrivals + departures), each bay's seed and
first reading in the range. Python turns those at most one-row-per-minute totals into running
occupied/known counts (a prefix sum) and sums them into intervals. The textbook
``mean(...) FROM (SELECT last(...) ... GROUP BY time(..), bay fill(previous)) GROUP BY time(..)``
is not used: InfluxDB 1.x (and 2.x's InfluxQL) merge the filled series wrongly when the outer query
does not group by the bay (influxdata/influxdb#9049, #16960), and it costs bays x minutes rows.
"""

from __future__ import annotations

import bisect
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from parking.events import is_valid_name, ns_to_rfc3339
from parking.lineprotocol import BAY_STATUS, influxql_string, point
from parking.store import Series

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
WEEK_NS = 7 * DAY_NS

SAMPLE_NS = MINUTE_NS
ROLLUP_MEASUREMENT = "site_occupancy_1h"  # the hourly rollup; it also carries the reading counts
ROLLUP_NS = HOUR_NS
FINE_ROLLUP_MEASUREMENT = "site_occupancy_5m"
FINE_ROLLUP_NS = 5 * MINUTE_NS
ROLLUPS = {ROLLUP_NS: ROLLUP_MEASUREMENT, FINE_ROLLUP_NS: FINE_ROLLUP_MEASUREMENT}

MIN_EVERY_NS = MINUTE_NS
MAX_EVERY_NS = WEEK_NS
MAX_POINTS = 5000
TARGET_POINTS = 400
MAX_RANGE_NS = 400 * DAY_NS
RAW_MAX_RANGE_NS = 7 * DAY_NS
DWELL_MAX_RANGE_NS = 31 * DAY_NS
DWELL_LOOKAHEAD_NS = DAY_NS
DWELL_CHUNK_NS = 7 * DAY_NS
DWELL_MAX_CHANGES = 1_000_000
SEED_WINDOW_NS = DAY_NS
SEED_LOOKBACK_NS = 400 * DAY_NS
EARLIEST_NS = 0  # 1970-01-01
LATEST_NS = 7_258_118_400 * SECOND_NS  # 2200-01-01, well inside InfluxDB's range
# Weeks start on Monday: 1970-01-01 was a Thursday, so 7-day buckets are shifted by 4 days.
WEEK_OFFSET_NS = 4 * DAY_NS
EVERY_LADDER_NS = tuple(m * MINUTE_NS for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 10080))
WEEKDAYS = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
DWELL_BIN_EDGES_MIN = (0, 15, 30, 60, 120, 240, 480, 1440)
HEATMAP_TZ = "Europe/Berlin"

_EVERY_RE = re.compile(r"([1-9][0-9]{0,5})([mhdw])")
_UNIT_NS = {"m": MINUTE_NS, "h": HOUR_NS, "d": DAY_NS, "w": WEEK_NS}


class HistoryError(ValueError):
    """A request the history cannot answer as asked; the message says why (an HTTP 422)."""


# ---------------------------------------------------------------- durations and time windows


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


# ---------------------------------------------------------------- InfluxQL


def bay_regex(bays: Iterable[str]) -> str:
    """``/^(?:A01|A02)$/`` for a tag condition; every name is checked and escaped."""
    names = sorted(set(bays))
    if not names:
        raise ValueError("a bay regex needs at least one bay")
    parts = []
    for name in names:
        if not is_valid_name(name):
            raise ValueError(f"{name!r} is not a valid bay name")
        parts.append(re.sub(r"([\\.+*?()|\[\]{}^$/])", r"\\\1", name))
    return "/^(?:" + "|".join(parts) + ")$/"


@dataclass(frozen=True, slots=True)
class Scope:
    """A set of bays of one site: all of them, or the listed ones, or all but the listed ones.

    ``known`` are the registry's bays in the scope: those still without a seed after the last day
    are looked up further back.
    """

    site: str
    bays: tuple[str, ...] | None = None
    exclude: bool = False
    known: tuple[str, ...] = ()

    def condition(self) -> str:
        cond = f'"site" = {influxql_string(self.site)}'
        if self.bays is not None:
            if not self.bays:
                # An empty zone matches nothing; an excluded empty list matches everything.
                return cond if self.exclude else f"{cond} AND \"bay\" = ''"
            cond += f' AND "bay" {"!~" if self.exclude else "=~"} {bay_regex(self.bays)}'
        return cond

    def covers(self, bay: str) -> bool:
        if self.bays is None:
            return True
        return (bay in self.bays) != self.exclude

    def only(self, bays: Iterable[str]) -> Scope:
        return Scope(self.site, tuple(sorted(bays)), known=self.known)


def time_condition(start_ns: int, end_ns: int) -> str:
    """Integer time literals are nanoseconds in InfluxQL."""
    return f"time >= {start_ns} AND time < {end_ns}"


def seed_statement(scope: Scope, start_ns: int, from_ns: int) -> str:
    return (
        f"SELECT last(occupied) AS seed FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(from_ns, start_ns)} GROUP BY bay"
    )


def first_statement(scope: Scope, start_ns: int, end_ns: int) -> str:
    return (
        f"SELECT first(occupied) AS first FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(start_ns, end_ns)} GROUP BY bay"
    )


def changes_statement(scope: Scope, start_ns: int, end_ns: int, step_ns: int = SAMPLE_NS) -> str:
    """Per minute over all bays of the scope: net change (arrivals - departures) and changes."""
    tc = time_condition(start_ns, end_ns)
    return (
        f"SELECT sum(d) AS net, count(d) AS changes FROM (SELECT difference(occupied) AS d "
        f"FROM {BAY_STATUS} WHERE {scope.condition()} AND {tc} GROUP BY bay) "
        f"WHERE d <> 0 AND {tc} GROUP BY time({step_ns}ns) fill(none)"
    )


def readings_statement(scope: Scope, start_ns: int, end_ns: int) -> str:
    return (
        f"SELECT count(occupied) AS readings FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(start_ns, end_ns)} GROUP BY time({ROLLUP_NS}ns) fill(none)"
    )


def last_statement(scope: Scope, start_ns: int, end_ns: int) -> str:
    return (
        f"SELECT last(occupied) AS last FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(start_ns, end_ns)} GROUP BY bay"
    )


def core_query(
    scope: Scope,
    start_ns: int,
    end_ns: int,
    *,
    seeds: bool = True,
    readings: bool = False,
    lasts: bool = False,
) -> str:
    """Seeds from the last day, first readings and per-minute changes in one request.

    ``readings`` adds the count of readings per hour, ``lasts`` each bay's last reading in the
    range (the seeds of the range that follows).
    """
    statements = [seed_statement(scope, start_ns, start_ns - SEED_WINDOW_NS)] if seeds else []
    statements += [first_statement(scope, start_ns, end_ns), changes_statement(scope, start_ns, end_ns)]
    if readings:
        statements.append(readings_statement(scope, start_ns, end_ns))
    if lasts:
        statements.append(last_statement(scope, start_ns, end_ns))
    return "; ".join(statements)


def deep_seed_query(scope: Scope, start_ns: int, missing: Iterable[str]) -> str:
    """Seeds for bays without a reading in the last day, up to SEED_LOOKBACK_NS back."""
    return seed_statement(scope.only(missing), start_ns - SEED_WINDOW_NS, start_ns - SEED_LOOKBACK_NS)


def transitions_query(scope: Scope, start_ns: int, end_ns: int, *, limit: int | None = None) -> str:
    """Each bay's first reading and its changes (difference != 0), per bay, in time order."""
    tc = time_condition(start_ns, end_ns)
    tail = f" LIMIT {limit}" if limit is not None else ""
    return (
        f"{first_statement(scope, start_ns, end_ns)}; "
        f"SELECT d FROM (SELECT difference(occupied) AS d FROM {BAY_STATUS} "
        f"WHERE {scope.condition()} AND {tc} GROUP BY bay) WHERE d <> 0 AND {tc} GROUP BY bay{tail}"
    )


ROLLUP_AGGREGATES = {
    "occupied": "sum(occupied) AS occupied",
    "samples": "sum(samples) AS samples",
    "reporting": "max(reporting) AS reporting",
    "arrivals": "sum(arrivals) AS arrivals",
}
OCCUPANCY_FIELDS = ("occupied", "samples", "reporting")
TURNOVER_FIELDS = ("arrivals",)


def rollup_query(
    site: str,
    zone: str | None,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    *,
    step_ns: int = ROLLUP_NS,
    fields: Sequence[str] = tuple(ROLLUP_AGGREGATES),
) -> str:
    """Sums of a rollup per interval; rows without a zone tag are the whole site.

    Only the ``fields`` asked for are read: each is a column of its own in InfluxDB.
    """
    offset = bucket_offset(every_ns)
    group = f"time({every_ns}ns, {offset}ns)" if offset else f"time({every_ns}ns)"
    select = ", ".join(ROLLUP_AGGREGATES[f] for f in fields)
    zone_literal = influxql_string(zone or "")
    return (
        f'SELECT {select} FROM {ROLLUPS[step_ns]} WHERE "site" = {influxql_string(site)} '
        f'AND "zone" = {zone_literal} AND {time_condition(start_ns, end_ns)} '
        f"GROUP BY {group} fill(none)"
    )


def rollup_readings_query(site: str, start_ns: int, end_ns: int) -> str:
    return (
        f'SELECT readings FROM {ROLLUP_MEASUREMENT} WHERE "site" = {influxql_string(site)} '
        f"AND \"zone\" = '' AND {time_condition(start_ns, end_ns)}"
    )


def rollup_last_query(site: str, zone: str | None = None, *, step_ns: int = ROLLUP_NS) -> str:
    return (
        f'SELECT last(samples) FROM {ROLLUPS[step_ns]} WHERE "site" = {influxql_string(site)} '
        f'AND "zone" = {influxql_string(zone or "")}'
    )


def csv_page_query(scope: Scope, start_ns: int, end_ns: int, limit: int) -> str:
    """Raw readings in time order (all bays merged), one page."""
    return (
        f"SELECT occupied, bay FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(start_ns, end_ns)} LIMIT {limit}"
    )


# ---------------------------------------------------------------- reading the answers


def _state(value: Any) -> int:
    return 1 if value else 0


@dataclass
class Core:
    """What InfluxDB answered for one scope and range (times in ns)."""

    seeds: dict[str, tuple[int, int]] = field(default_factory=dict)
    firsts: dict[str, tuple[int, int]] = field(default_factory=dict)
    changes: list[tuple[int, int, int]] = field(default_factory=list)
    readings: dict[int, int] = field(default_factory=dict)
    lasts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def states_at_end(self) -> dict[str, tuple[int, int]]:
        """Each bay's latest reading at the end of the range: the seeds of the range after it."""
        return {**self.seeds, **self.lasts}


def parse_core(series: Iterable[Series], core: Core | None = None) -> Core:
    """Sort the series of ``core_query``/``deep_seed_query`` by their column aliases."""
    core = core or Core()
    for s in series:
        columns = s.columns
        if columns == ["time", "seed"]:
            for t, v in s.values:
                if v is not None:
                    core.seeds[s.tags["bay"]] = (int(t), _state(v))
        elif columns == ["time", "first"]:
            for t, v in s.values:
                if v is not None:
                    core.firsts[s.tags["bay"]] = (int(t), _state(v))
        elif columns == ["time", "net", "changes"]:
            core.changes.extend((int(t), int(net or 0), int(n or 0)) for t, net, n in s.values)
        elif columns == ["time", "readings"]:
            core.readings.update((int(t), int(n or 0)) for t, n in s.values)
        elif columns == ["time", "last"]:
            for t, v in s.values:
                if v is not None:
                    core.lasts[s.tags["bay"]] = (int(t), _state(v))
    return core


@dataclass
class Profile:
    """Per minute from ``start_ns``: bays occupied and bays known at its end, arrivals within it."""

    start_ns: int
    occupied: list[int]
    known: list[int]
    arrivals: list[int]

    def __len__(self) -> int:
        return len(self.known)

    def __add__(self, other: Profile) -> Profile:
        if other.start_ns != self.start_ns or len(other) != len(self):
            raise ValueError("profiles of different ranges cannot be added")
        return Profile(
            self.start_ns,
            [a + b for a, b in zip(self.occupied, other.occupied, strict=True)],
            [a + b for a, b in zip(self.known, other.known, strict=True)],
            [a + b for a, b in zip(self.arrivals, other.arrivals, strict=True)],
        )


def empty_profile(start_ns: int, end_ns: int) -> Profile:
    n = max(0, math.ceil((end_ns - start_ns) / SAMPLE_NS))
    return Profile(start_ns, [0] * n, [0] * n, [0] * n)


def build_profile(core: Core, start_ns: int, end_ns: int) -> Profile:
    """Running occupied/known counts per minute: seeds, plus first readings, plus net changes."""
    if start_ns % SAMPLE_NS:
        raise ValueError("a profile starts on a whole minute")
    profile = empty_profile(start_ns, end_ns)
    n = len(profile)
    occ_delta = [0] * (n + 1)
    known_delta = [0] * (n + 1)

    def index(t: int) -> int | None:
        k = (t - start_ns) // SAMPLE_NS
        return k if 0 <= k < n else None

    occ_delta[0] += sum(v for _, v in core.seeds.values())
    known_delta[0] += len(core.seeds)
    for bay, (t, value) in core.firsts.items():
        k = index(t)
        if k is None:
            continue
        seed = core.seeds.get(bay)
        if seed is None:
            known_delta[k] += 1
            occ_delta[k] += value
        else:
            occ_delta[k] += value - seed[1]
            if seed[1] == 0 and value == 1:
                profile.arrivals[k] += 1
    for t, net, changes in core.changes:
        k = index(t)
        if k is None:
            continue
        occ_delta[k] += net
        profile.arrivals[k] += (changes + net) // 2
    occupied = known = 0
    for k in range(n):
        occupied += occ_delta[k]
        known += known_delta[k]
        profile.occupied[k] = occupied
        profile.known[k] = known
    return profile


@dataclass(frozen=True, slots=True)
class Bucket:
    """Sums over one interval: occupied and known bay-minutes, peak known bays, arrivals."""

    time_ns: int
    occupied: int = 0
    samples: int = 0
    reporting: int = 0
    arrivals: int = 0

    @property
    def occupancy(self) -> float | None:
        return self.occupied / self.samples if self.samples else None

    def __add__(self, other: Bucket) -> Bucket:
        return Bucket(
            self.time_ns,
            self.occupied + other.occupied,
            self.samples + other.samples,
            max(self.reporting, other.reporting),
            self.arrivals + other.arrivals,
        )


def profile_buckets(profile: Profile, every_ns: int, offset_ns: int | None = None) -> dict[int, Bucket]:
    """Intervals of ``every`` (aligned like InfluxDB's GROUP BY time) summed from a profile."""
    offset = bucket_offset(every_ns) if offset_ns is None else offset_ns
    buckets: dict[int, Bucket] = {}
    k = 0
    n = len(profile)
    while k < n:
        t = profile.start_ns + k * SAMPLE_NS
        start = floor_to(t, every_ns, offset)
        stop = min(n, k + (start + every_ns - t) // SAMPLE_NS)
        buckets[start] = Bucket(
            start,
            sum(profile.occupied[k:stop]),
            sum(profile.known[k:stop]),
            max(profile.known[k:stop]),
            sum(profile.arrivals[k:stop]),
        )
        k = stop
    return buckets


def parse_rollup(series: Iterable[Series]) -> dict[int, Bucket]:
    """Buckets from ``rollup_query`` (fields it did not ask for are 0)."""
    buckets: dict[int, Bucket] = {}
    for s in series:
        if s.columns[:1] != ["time"] or not set(s.columns[1:]) <= set(ROLLUP_AGGREGATES):
            continue
        for row in s.values:
            values = {c: int(v or 0) for c, v in zip(s.columns[1:], row[1:], strict=True)}
            buckets[int(row[0])] = Bucket(int(row[0]), **values)
    return buckets


def merge_buckets(*parts: Mapping[int, Bucket]) -> dict[int, Bucket]:
    merged: dict[int, Bucket] = {}
    for part in parts:
        for t, bucket in part.items():
            merged[t] = merged[t] + bucket if t in merged else bucket
    return merged


def rollup_lines(
    site: str,
    zone: str | None,
    buckets: Iterable[Bucket],
    readings: Mapping[int, int] | None = None,
    *,
    measurement: str = ROLLUP_MEASUREMENT,
) -> list[str]:
    """Line protocol of rollup rows, one per interval computed (even an empty one: it marks it done).

    Hourly rows also carry ``readings``, the count of raw readings of the hour, by which late
    readings are found later.
    """
    tags = {"site": site} if zone is None else {"site": site, "zone": zone}
    lines = []
    for b in buckets:
        fields: dict[str, bool | int | float | str] = {
            "occupied": b.occupied,
            "samples": b.samples,
            "reporting": b.reporting,
            "arrivals": b.arrivals,
        }
        if readings is not None:
            fields["readings"] = readings.get(b.time_ns, 0)
        fields["occupancy"] = b.occupied / b.samples if b.samples else 0.0
        lines.append(point(measurement, tags, fields, b.time_ns))
    return lines


def first_mismatch(raw: Mapping[int, int], rolled: Mapping[int, int]) -> int | None:
    """The earliest hour whose count of raw readings differs from the rollup's (late data)."""
    hours = sorted(h for h in set(raw) | set(rolled) if raw.get(h, 0) != rolled.get(h, 0))
    return hours[0] if hours else None


def hourly_counts(series: Iterable[Series], column: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for s in series:
        if s.columns == ["time", column]:
            counts.update((int(t), int(v or 0)) for t, v in s.values)
    return counts


# ---------------------------------------------------------------- results


def occupancy_points(starts: Sequence[int], buckets: Mapping[int, Bucket]) -> list[dict[str, Any]]:
    points = []
    for t in starts:
        b = buckets.get(t)
        points.append(
            {
                "time": ns_to_rfc3339(t),
                "occupancy": b.occupancy if b else None,
                "reporting": b.reporting if b else 0,
            }
        )
    return points


def turnover_points(starts: Sequence[int], buckets: Mapping[int, Bucket], bays: int) -> list[dict[str, Any]]:
    points = []
    for t in starts:
        b = buckets.get(t)
        arrivals = b.arrivals if b else 0
        points.append(
            {"time": ns_to_rfc3339(t), "arrivals": arrivals, "per_bay": arrivals / bays if bays else None}
        )
    return points


def heatmap_values(buckets: Iterable[Bucket], tz: str = HEATMAP_TZ) -> list[list[float | None]]:
    """Mean occupancy per local weekday (Monday first) and hour from hourly buckets."""
    zone = ZoneInfo(tz)
    occupied = [[0] * 24 for _ in range(7)]
    samples = [[0] * 24 for _ in range(7)]
    for b in buckets:
        local = datetime.fromtimestamp(b.time_ns // SECOND_NS, tz=UTC).astimezone(zone)
        occupied[local.weekday()][local.hour] += b.occupied
        samples[local.weekday()][local.hour] += b.samples
    return [[occupied[d][h] / samples[d][h] if samples[d][h] else None for h in range(24)] for d in range(7)]


# ---------------------------------------------------------------- one bay's timeline


def status_name(value: int | None) -> str:
    return "unknown" if value is None else ("occupied" if value else "free")


def timeline_changes(
    seed: tuple[int, int] | None,
    first: tuple[int, int] | None,
    diffs: Iterable[tuple[int, int]],
    limit: int,
) -> tuple[list[dict[str, str]], int | None]:
    """Status changes (the first reading if it differs from the seed, then every change).

    Returns at most ``limit`` changes and the time of the next one if there are more.
    """
    changes: list[tuple[int, int]] = []
    if first is not None and (seed is None or seed[1] != first[1]):
        changes.append(first)
    changes.extend((t, 1 if d > 0 else 0) for t, d in diffs if d)
    next_ns = changes[limit][0] if len(changes) > limit else None
    return [{"time": ns_to_rfc3339(t), "status": status_name(v)} for t, v in changes[:limit]], next_ns


# ---------------------------------------------------------------- dwell times


@dataclass
class VisitTracker:
    """Pairs arrivals (free -> occupied) in ``[start, end)`` with the bay's next departure.

    Feed each bay's seed once, then per chunk (in time order) its first reading and its changes.
    """

    start_ns: int
    end_ns: int
    states: dict[str, int] = field(default_factory=dict)
    arrived: dict[str, int] = field(default_factory=dict)
    durations_ns: list[int] = field(default_factory=list)
    changes: int = 0

    def seed(self, bay: str, value: int) -> None:
        self.states[bay] = value

    def reading(self, bay: str, t: int, value: int) -> None:
        previous = self.states.get(bay)
        self.states[bay] = value
        if previous is None or previous == value:
            return
        self.changes += 1
        if value == 1:
            if self.start_ns <= t < self.end_ns:
                self.arrived[bay] = t
        else:
            began = self.arrived.pop(bay, None)
            if began is not None:
                self.durations_ns.append(t - began)

    def chunk(self, core: Core, transitions: Mapping[str, Sequence[tuple[int, int]]]) -> None:
        bays = set(core.firsts) | set(transitions)
        for bay in sorted(bays):
            first = core.firsts.get(bay)
            if first is not None:
                self.reading(bay, *first)
            for t, d in transitions.get(bay, ()):
                self.reading(bay, t, 1 if d > 0 else 0)

    @property
    def open_visits(self) -> int:
        return len(self.arrived)


def parse_transitions(series: Iterable[Series]) -> dict[str, list[tuple[int, int]]]:
    result: dict[str, list[tuple[int, int]]] = {}
    for s in series:
        if s.columns == ["time", "d"]:
            result.setdefault(s.tags.get("bay", ""), []).extend(
                (int(t), int(d)) for t, d in s.values if d is not None
            )
    return result


def dwell_summary(durations_ns: Sequence[int], open_visits: int) -> dict[str, Any]:
    minutes = sorted(d / MINUTE_NS for d in durations_ns)
    edges = DWELL_BIN_EDGES_MIN
    bins = []
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else None
        upper = len(minutes) if high is None else bisect.bisect_left(minutes, high)
        count = upper - bisect.bisect_left(minutes, low)
        bins.append({"from_min": low, "to_min": high, "count": count})
    return {
        "visits": len(minutes),
        "open": open_visits,
        "mean_min": statistics.fmean(minutes) if minutes else None,
        "median_min": statistics.median(minutes) if minutes else None,
        "bins": bins,
    }


# ---------------------------------------------------------------- CSV export


def csv_rows(series: Iterable[Series], site: str) -> list[tuple[int, str, str, int | None]]:
    rows: list[tuple[int, str, str, int | None]] = []
    for s in series:
        if s.columns != ["time", "occupied", "bay"]:
            continue
        rows.extend(
            (int(t), site, str(bay), None if occupied is None else int(occupied))
            for t, occupied, bay in s.values
        )
    return rows
