"""The arithmetic after InfluxDB: per-minute profiles, interval sums, rollup rows, heatmap, dwell.

A property test checks ``build_profile`` against the definition (each bay's state at the end of
every minute is its latest reading) on random readings, with an in-memory stand-in for what
InfluxDB answers to ``core_query``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from parking.events import datetime_to_ns
from parking.history.sums import (
    Bucket,
    Core,
    build_profile,
    first_mismatch,
    heatmap_values,
    merge_buckets,
    occupancy_points,
    parse_core,
    parse_rollup,
    profile_buckets,
    rollup_lines,
    turnover_points,
)
from parking.history.visits import parse_transitions
from parking.history.windows import DAY_NS, HOUR_NS, MINUTE_NS, WEEK_NS
from parking.store import Series

Readings = dict[str, list[tuple[int, int]]]  # bay -> [(time_ns, 0/1)] in time order


def ns(text: str) -> int:
    return datetime_to_ns(datetime.fromisoformat(text).replace(tzinfo=UTC))


def core_of(readings: Readings, start: int, end: int) -> Core:
    """What InfluxDB answers to core_query (seed lookback unbounded here)."""
    core = Core()
    per_minute: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for bay, points in readings.items():
        before = [p for p in points if p[0] < start]
        inside = [p for p in points if start <= p[0] < end]
        if before:
            core.seeds[bay] = before[-1]
        if inside:
            core.firsts[bay] = inside[0]
        for (_, v0), (t1, v1) in pairwise(inside):
            if v1 != v0:
                minute = t1 - (t1 % MINUTE_NS)
                per_minute[minute][0] += v1 - v0
                per_minute[minute][1] += 1
    core.changes = sorted((t, net, n) for t, (net, n) in per_minute.items())
    return core


def brute_force(readings: Readings, start: int, end: int) -> tuple[list[int], list[int], list[int]]:
    """Occupied, known and arrivals per minute straight from the definition."""
    minutes = -(-(end - start) // MINUTE_NS)
    occupied, known, arrivals = [0] * minutes, [0] * minutes, [0] * minutes
    for points in readings.values():
        for k in range(minutes):
            edge = start + (k + 1) * MINUTE_NS
            seen = [v for t, v in points if t < min(edge, end)]
            if seen:
                known[k] += 1
                occupied[k] += seen[-1]
        for (_, v0), (t1, v1) in pairwise(points):
            if v0 == 0 and v1 == 1 and start <= t1 < end:
                arrivals[(t1 - start) // MINUTE_NS] += 1
    return occupied, known, arrivals


START = ns("2026-03-02T10:00:00")


@st.composite
def readings_strategy(draw: st.DrawFn) -> Readings:
    result: Readings = {}
    for i in range(draw(st.integers(0, 5))):
        offsets = sorted(set(draw(st.lists(st.integers(-7200, 7200), max_size=12))))
        result[f"B{i}"] = [(START + o * 1_000_000_000, draw(st.integers(0, 1))) for o in offsets]
    return result


@settings(max_examples=150, deadline=None)
@given(readings_strategy(), st.integers(1, 120))
def test_profile_matches_the_definition(readings: Readings, minutes: int) -> None:
    end = START + minutes * MINUTE_NS - 17_000_000_000 * (minutes > 1)  # an end off the minute too
    profile = build_profile(core_of(readings, START, end), START, end)
    occupied, known, arrivals = brute_force(readings, START, end)
    assert profile.occupied == occupied
    assert profile.known == known
    assert profile.arrivals == arrivals


@settings(max_examples=60, deadline=None)
@given(readings_strategy(), st.sampled_from([15 * MINUTE_NS, HOUR_NS, 2 * HOUR_NS]))
def test_split_ranges_and_hourly_rows_add_up_to_the_same_intervals(readings: Readings, every: int) -> None:
    """The rollup's promise: hourly sums re-bucketed, or raw parts merged, equal one raw query."""
    end = START + 4 * HOUR_NS
    whole = profile_buckets(build_profile(core_of(readings, START, end), START, end), every)
    middle = START + 2 * HOUR_NS
    parts = merge_buckets(
        profile_buckets(build_profile(core_of(readings, START, middle), START, middle), every),
        profile_buckets(build_profile(core_of(readings, middle, end), middle, end), every),
    )
    assert parts == whole
    hourly = profile_buckets(build_profile(core_of(readings, START, end), START, end), HOUR_NS)
    if every % HOUR_NS == 0:
        regrouped: dict[int, Bucket] = {}
        for b in hourly.values():
            key = b.time_ns - b.time_ns % every
            moved = Bucket(key, b.occupied, b.samples, b.reporting, b.arrivals)
            regrouped[key] = regrouped[key] + moved if key in regrouped else moved
        assert regrouped == whole


def test_time_weighted_occupancy_of_a_small_example() -> None:
    t = START
    readings: Readings = {
        "A01": [(t - 30 * MINUTE_NS, 0), (t + 15 * MINUTE_NS, 1), (t + 45 * MINUTE_NS, 0)],
        "A02": [(t, 1), (t + 30 * MINUTE_NS, 1), (t + 60 * MINUTE_NS, 0)],
    }
    end = t + HOUR_NS
    buckets = profile_buckets(build_profile(core_of(readings, t, end), t, end), 15 * MINUTE_NS)
    points = occupancy_points([t + i * 15 * MINUTE_NS for i in range(4)], buckets)
    assert [p["occupancy"] for p in points] == [0.5, 1.0, 1.0, 0.5]
    assert [p["reporting"] for p in points] == [2, 2, 2, 2]
    assert points[0]["time"] == "2026-03-02T10:00:00.000Z"
    assert buckets[t + 15 * MINUTE_NS].arrivals == 1


def test_unknown_bays_are_not_free() -> None:
    buckets = profile_buckets(build_profile(Core(), START, START + HOUR_NS), HOUR_NS)
    assert buckets[START].occupancy is None and buckets[START].reporting == 0
    assert occupancy_points([START, START + HOUR_NS], {}) == [
        {"time": "2026-03-02T10:00:00.000Z", "occupancy": None, "reporting": 0},
        {"time": "2026-03-02T11:00:00.000Z", "occupancy": None, "reporting": 0},
    ]


def test_weekly_buckets_are_aligned_on_monday() -> None:
    start = ns("2026-03-04T00:00:00")  # a Wednesday
    profile = build_profile(Core(seeds={"A": (0, 1)}), start, start + DAY_NS)
    (bucket,) = profile_buckets(profile, WEEK_NS).values()
    assert bucket.time_ns == ns("2026-03-02T00:00:00")
    assert bucket.samples == bucket.occupied == 1440


def test_parse_core_sorts_statements_by_alias() -> None:
    series = [
        Series("bay_status", {"bay": "A"}, ["time", "seed"], [[1, 1]]),
        Series("bay_status", {"bay": "B"}, ["time", "first"], [[5, 0]]),
        Series("bay_status", {}, ["time", "net", "changes"], [[60, 1, 3]]),
        Series("bay_status", {}, ["time", "readings"], [[0, 7]]),
        Series("bay_status", {"bay": "A"}, ["time", "d"], [[61, -1], [62, 1]]),
    ]
    core = parse_core(series)
    assert core.seeds == {"A": (1, 1)} and core.firsts == {"B": (5, 0)}
    assert core.changes == [(60, 1, 3)] and core.readings == {0: 7}
    lasts = parse_core([Series("bay_status", {"bay": "B"}, ["time", "last"], [[9, 1]])], core)
    assert lasts.states_at_end() == {"A": (1, 1), "B": (9, 1)}
    assert parse_transitions(series) == {"A": [(61, -1), (62, 1)]}


def test_rollup_rows_round_trip() -> None:
    bucket = Bucket(START, occupied=90, samples=120, reporting=2, arrivals=3)
    (line,) = rollup_lines("showroom", "Süd Ost", [bucket], {START: 5})
    assert line == (
        "site_occupancy_1h,site=showroom,zone=Süd\\ Ost occupied=90i,samples=120i,reporting=2i,"
        f"arrivals=3i,readings=5i,occupancy=0.75 {START}"
    )
    assert rollup_lines("s", None, [Bucket(START)], {})[0].startswith("site_occupancy_1h,site=s occupied=0i")
    series = [
        Series(
            "site_occupancy_1h",
            {},
            ["time", "occupied", "samples", "reporting", "arrivals"],
            [[START, 90, 120, 2, 3]],
        )
    ]
    assert parse_rollup(series) == {START: bucket}
    only = [Series("site_occupancy_5m", {}, ["time", "arrivals"], [[START, 3]])]
    assert parse_rollup(only) == {START: Bucket(START, arrivals=3)}
    (fine,) = rollup_lines("s", None, [bucket], measurement="site_occupancy_5m")
    assert fine.startswith("site_occupancy_5m,site=s occupied=90i,samples=120i,reporting=2i,arrivals=3i,occ")


def test_first_mismatch_finds_late_readings() -> None:
    assert first_mismatch({1: 3, 2: 4}, {1: 3, 2: 4}) is None
    assert first_mismatch({1: 3, 2: 5, 3: 1}, {1: 3, 2: 4, 3: 1}) == 2
    assert first_mismatch({0: 1}, {}) == 0


def test_heatmap_cells_are_local_berlin_time() -> None:
    winter = Bucket(ns("2026-01-05T09:00:00"), occupied=30, samples=60)  # Monday 10:00 CET
    summer = Bucket(ns("2026-07-05T09:00:00"), occupied=60, samples=60)  # Sunday 11:00 CEST
    summer2 = Bucket(ns("2026-07-12T09:00:00"), occupied=0, samples=60)  # the next Sunday 11:00
    values = heatmap_values([winter, summer, summer2, Bucket(ns("2026-07-13T00:00:00"))])
    assert values[0][10] == 0.5
    assert values[6][11] == 0.5
    assert values[0][2] is None  # Monday 02:00 CEST: known bay-minutes 0
    assert sum(v is not None for row in values for v in row) == 2


def test_turnover_points() -> None:
    points = turnover_points([START, START + DAY_NS], {START: Bucket(START, arrivals=8)}, bays=16)
    assert points == [
        {"time": "2026-03-02T10:00:00.000Z", "arrivals": 8, "per_bay": 0.5},
        {"time": "2026-03-03T10:00:00.000Z", "arrivals": 0, "per_bay": 0.0},
    ]
