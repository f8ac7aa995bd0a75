"""The backfill's pure core: simulated time on the local calendar, what to fill, readings → lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from parking.history.windows import DAY_NS, HOUR_NS
from parking.simulated import local_midnight_ns
from parklotse.backfill import (
    Model,
    Reading,
    SimClock,
    Target,
    TargetState,
    lines_for,
    plan_span,
    simulate,
)

BERLIN = ZoneInfo("Europe/Berlin")
S = 1_000_000_000


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp()) * S


def test_a_simulated_day_is_stamped_on_its_local_day() -> None:
    clock = SimClock(date(2026, 11, 20), BERLIN)
    assert clock.to_ns(0.0) == ns("2026-11-20T00:00:00+01:00")
    assert clock.to_ns(86_400.0 + 10.5 * 3600) == ns("2026-11-21T10:30:00+01:00")


def test_a_day_with_a_clock_change_is_stretched_so_time_never_runs_backwards() -> None:
    clock = SimClock(date(2026, 3, 29), BERLIN)  # 23 hours in Berlin
    stamps = [clock.to_ns(t) for t in range(0, 86_400 + 1, 600)]
    assert stamps == sorted(stamps)
    assert stamps[0] == local_midnight_ns(date(2026, 3, 29), BERLIN)
    assert stamps[-1] == local_midnight_ns(date(2026, 3, 30), BERLIN)


def test_a_fresh_site_gets_whole_days_from_midnight_weeks_back_up_to_now() -> None:
    now = ns("2026-11-21T10:15:00+01:00")
    assert plan_span(now, None, 4, BERLIN) == (ns("2026-10-24T00:00:00+02:00"), now)


def test_a_site_with_recent_history_gets_nothing() -> None:
    now = ns("2026-11-21T10:15:00+01:00")
    assert plan_span(now, now - 10 * 60 * S, 4, BERLIN) is None


def test_a_site_that_paused_gets_only_the_gap() -> None:
    now = ns("2026-11-21T10:15:00+01:00")
    covered = now - 3 * DAY_NS
    assert plan_span(now, covered, 4, BERLIN) == (covered, now)


def test_readings_before_the_start_only_set_the_state_announced_at_the_start() -> None:
    start, end = 100, 1000
    state = TargetState(Target("x", {"m1": "A01", "m2": "A02", "m3": "A03"}, start), end)
    changes = [(10, "m1", True), (20, "m2", True), (30, "m2", False), (150, "m3", True), (1000, "m1", False)]
    assert state.take(changes, day_end_ns=2000) == [
        Reading(100, "x", "A01", True),
        Reading(100, "x", "A02", False),
        Reading(100, "x", "A03", False),
        Reading(150, "x", "A03", True),
    ]


def test_a_view_site_gets_only_its_bays_under_its_own_names() -> None:
    state = TargetState(Target("showroom", {"TC-0133": "A01"}, 0), 1000)
    out = state.take([(5, "TC-0001", True), (6, "TC-0133", True)], day_end_ns=1000)
    assert [r for r in out if r.time_ns > 0] == [Reading(6, "showroom", "A01", True)]


def test_the_state_is_announced_only_once_the_day_reaches_the_start() -> None:
    state = TargetState(Target("x", {"m1": "A01"}, 5000), 9000)
    assert state.take([(10, "m1", True)], day_end_ns=4000) == []
    assert state.take([(6000, "m1", False)], day_end_ns=8000) == [
        Reading(5000, "x", "A01", True),
        Reading(6000, "x", "A01", False),
    ]


def test_simulated_readings_are_bay_status_points_tagged_as_simulated() -> None:
    lines = lines_for([Reading(1_700_000_000_000_000_000, "town centre", "A,1", True)])
    assert lines == [r"bay_status,bay=A\,1,site=town\ centre,source=sim occupied=1i 1700000000000000000"]


def test_the_model_runs_from_the_day_before_and_writes_every_target_from_its_start() -> None:
    def run_days(first_day: date, days: int) -> Iterator[list[tuple[float, str, bool]]]:
        assert first_day == date(2026, 11, 19)
        for day in range(days):
            yield [(day * 86_400.0 + 8 * 3600, "m1", True), (day * 86_400.0 + 18 * 3600, "m1", False)]

    model = Model("s", "town", ("m1",), {"table": {"T1": "m1"}}, run_days)
    start, end = ns("2026-11-20T12:00:00+01:00"), ns("2026-11-21T12:00:00+01:00")
    targets = model.targets({"town": start, "table": start + HOUR_NS})
    readings = [r for day in simulate(model, targets, end, BERLIN) for r in day]
    assert readings == [
        Reading(start, "town", "m1", True),
        Reading(ns("2026-11-20T18:00:00+01:00"), "town", "m1", False),
        Reading(start + HOUR_NS, "table", "T1", True),
        Reading(ns("2026-11-20T18:00:00+01:00"), "table", "T1", False),
        Reading(ns("2026-11-21T08:00:00+01:00"), "town", "m1", True),
        Reading(ns("2026-11-21T08:00:00+01:00"), "table", "T1", True),
    ]
