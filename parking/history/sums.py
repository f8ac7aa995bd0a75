"""The arithmetic after InfluxDB: per-minute profiles, sums per interval, rollup rows, answers. Pure.

A bay's state is its latest reading, carried forward, sampled at the end of every minute; a range's
seeds are each bay's last reading before it. InfluxDB answers per minute the net change and the
count of changes over all bays (``influxql.core_query``); ``build_profile`` turns those at most
one-row-per-minute totals into running occupied/known counts (a prefix sum) and ``profile_buckets``
sums them into intervals. Occupied and known bay-minutes add across bays, zones, hours and query
parts, so the raw path, the rollups and any mix of both give the same figures (docs/history.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from parking.events import ns_to_rfc3339
from parking.history.influxql import ROLLUP_AGGREGATES, ROLLUP_MEASUREMENT
from parking.history.windows import FINE_ROLLUP_NS, SAMPLE_NS, SECOND_NS, bucket_offset, floor_to
from parking.lineprotocol import point
from parking.store import Series

WEEKDAYS = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
HEATMAP_TZ = "Europe/Berlin"


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


# ---------------------------------------------------------------- answers


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


def fine_buckets(profile: Profile) -> list[Bucket]:
    """5-minute rows worth writing: a missing one reads as zeros (hourly rows mark what is done)."""
    return [b for b in profile_buckets(profile, FINE_ROLLUP_NS).values() if b.samples or b.arrivals]
