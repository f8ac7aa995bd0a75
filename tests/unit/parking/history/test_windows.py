"""Durations, aligned windows and range checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parking.events import datetime_to_ns
from parking.history.windows import (
    DAY_NS,
    HOUR_NS,
    MINUTE_NS,
    WEEK_NS,
    HistoryError,
    Window,
    bucket_offset,
    ceil_to,
    check_range,
    choose_every,
    chunks,
    floor_to,
    format_duration,
    parse_every,
    resolve_range,
    resolve_window,
    rollup_step,
)


def ns(text: str) -> int:
    return datetime_to_ns(datetime.fromisoformat(text).replace(tzinfo=UTC))


NOW = ns("2026-11-21T10:07:30")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1m", MINUTE_NS), ("15m", 15 * MINUTE_NS), ("2h", 2 * HOUR_NS), ("1d", DAY_NS), ("1w", WEEK_NS)],
)
def test_every_parses_whole_units(text: str, expected: int) -> None:
    assert parse_every(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0m", "not a duration"),
        ("5s", "not a duration"),
        ("1.5h", "not a duration"),
        ("abc", "not a duration"),
        ("8d", "between 1m and 7d"),
        ("2w", "between 1m and 7d"),
        ("999999m", "between 1m and 7d"),
    ],
)
def test_every_out_of_shape_or_bounds_says_why(text: str, reason: str) -> None:
    with pytest.raises(HistoryError, match=reason):
        parse_every(text)


def test_durations_are_spelled_shortest() -> None:
    assert [format_duration(v) for v in (MINUTE_NS, 90 * MINUTE_NS, HOUR_NS, DAY_NS, WEEK_NS)] == [
        "1m",
        "90m",
        "1h",
        "1d",
        "7d",
    ]


def test_weeks_start_on_monday_and_days_at_utc_midnight() -> None:
    t = ns("2026-11-21T10:07:30")  # a Saturday
    week = floor_to(t, WEEK_NS, bucket_offset(WEEK_NS))
    assert datetime.fromtimestamp(week / 1e9, UTC) == datetime(2026, 11, 16, tzinfo=UTC)  # Monday
    assert floor_to(t, DAY_NS) == ns("2026-11-21T00:00:00")
    assert ceil_to(t, HOUR_NS) == ns("2026-11-21T11:00:00")
    assert ceil_to(ns("2026-11-21T11:00:00"), HOUR_NS) == ns("2026-11-21T11:00:00")
    assert bucket_offset(HOUR_NS) == 0


def test_default_every_keeps_about_400_points() -> None:
    assert choose_every(DAY_NS) == 5 * MINUTE_NS  # 288 points
    assert choose_every(7 * DAY_NS) == 30 * MINUTE_NS  # 336
    assert choose_every(365 * DAY_NS, rollup=True) == DAY_NS  # 365
    assert choose_every(8 * DAY_NS, rollup=True) == 30 * MINUTE_NS  # 384, from the 5-minute rollup
    assert choose_every(30 * MINUTE_NS) == MINUTE_NS
    assert choose_every(30 * MINUTE_NS, rollup=True) == 5 * MINUTE_NS


def test_the_coarsest_rollup_that_adds_up_answers() -> None:
    assert rollup_step(DAY_NS) == rollup_step(2 * HOUR_NS) == HOUR_NS
    assert rollup_step(15 * MINUTE_NS) == rollup_step(90 * MINUTE_NS) == 5 * MINUTE_NS
    assert rollup_step(MINUTE_NS) is None and rollup_step(7 * MINUTE_NS) is None


def test_window_defaults_to_the_last_day_aligned_to_every() -> None:
    window = resolve_window(None, None, None, NOW)
    assert window.every_ns == 5 * MINUTE_NS
    assert window.start_ns == ns("2026-11-20T10:05:00")
    assert window.end_ns == ns("2026-11-21T10:10:00")
    assert len(window.starts(NOW)) == 289
    assert window.starts(NOW)[-1] == ns("2026-11-21T10:05:00")


def test_long_default_window_is_hourly_so_the_rollup_answers() -> None:
    window = resolve_window(NOW - 365 * DAY_NS, NOW, None, NOW)
    assert window.every_ns == DAY_NS and window.rollup_step == HOUR_NS


@pytest.mark.parametrize(
    ("start", "end", "every", "source", "reason"),
    [
        (NOW, NOW, None, "auto", "must be after start"),
        (NOW, NOW - 1, None, "auto", "must be after start"),
        (NOW - 401 * DAY_NS, NOW, "1d", "auto", "at most 400 days"),
        (NOW - 7 * DAY_NS, NOW, "1m", "auto", "at most 5000"),
        (NOW - 8 * DAY_NS, NOW, "7m", "auto", "over 7 days are answered from the rollups"),
        (NOW - DAY_NS, NOW, "7m", "rollup", "whole 5 minutes"),
        (NOW - 8 * DAY_NS, NOW, "1h", "raw", "limited to ranges of 7 days"),
        (-DAY_NS, NOW, "1d", "auto", "outside 1970-01-01"),
    ],
)
def test_bad_windows_say_why(start: int, end: int, every: str | None, source: str, reason: str) -> None:
    with pytest.raises(HistoryError, match=reason):
        resolve_window(start, end, every, NOW, source=source)


def test_range_message_names_both_ends() -> None:
    with pytest.raises(HistoryError) as info:
        check_range(ns("2026-11-21T10:00:00"), ns("2026-11-21T09:00:00"))
    assert str(info.value) == (
        "end (2026-11-21T09:00:00.000Z) must be after start (2026-11-21T10:00:00.000Z)"
    )


def test_resolve_range_defaults() -> None:
    assert resolve_range(None, None, NOW, default_span_ns=WEEK_NS, max_span_ns=WEEK_NS) == (
        NOW - WEEK_NS,
        NOW,
    )


def test_window_starts_stop_at_until() -> None:
    window = Window(ns("2026-11-21T00:00:00"), ns("2026-11-22T00:00:00"), HOUR_NS)
    assert len(window.starts()) == 24
    assert len(window.starts(ns("2026-11-21T10:00:00"))) == 10
    assert len(window.starts(ns("2026-11-21T10:00:01"))) == 11
    assert window.starts(ns("2026-11-20T00:00:00")) == []


def test_chunks_cover_the_range_in_order_and_the_last_one_is_cut() -> None:
    assert chunks(0, 10 * DAY_NS, 7 * DAY_NS) == [(0, 7 * DAY_NS), (7 * DAY_NS, 10 * DAY_NS)]
    assert chunks(5, 5, DAY_NS) == []
