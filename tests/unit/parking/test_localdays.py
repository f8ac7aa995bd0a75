"""Local days and weeks (Europe/Berlin) as UTC intervals, and hourly sums regrouped into them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from parking.history.sums import Bucket
from parking.history.windows import HOUR_NS, HistoryError
from parking.localdays import day_boundaries, local_days, regroup, time_zone

BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def test_a_winter_day_in_berlin_starts_at_23_utc() -> None:
    bounds = day_boundaries(utc("2026-11-20T12:00"), utc("2026-11-21T12:00"), 1, BERLIN)
    assert bounds == [utc("2026-11-19T23:00"), utc("2026-11-20T23:00"), utc("2026-11-21T23:00")]


def test_the_spring_change_makes_a_day_of_23_hours() -> None:
    bounds = day_boundaries(utc("2026-03-29T06:00"), utc("2026-03-29T07:00"), 1, BERLIN)
    assert bounds == [utc("2026-03-28T23:00"), utc("2026-03-29T22:00")]


def test_the_autumn_change_makes_a_day_of_25_hours() -> None:
    bounds = day_boundaries(utc("2026-10-25T06:00"), utc("2026-10-25T07:00"), 1, BERLIN)
    assert bounds == [utc("2026-10-24T22:00"), utc("2026-10-25T23:00")]


def test_weeks_start_on_monday_at_local_midnight() -> None:
    # 2026-11-21 is a Saturday; its week began on Monday 2026-11-16, 00:00 in Berlin.
    bounds = day_boundaries(utc("2026-11-21T10:00"), utc("2026-11-21T11:00"), 7, BERLIN)
    assert bounds == [utc("2026-11-15T23:00"), utc("2026-11-22T23:00")]


def test_a_time_zone_with_half_hours_is_refused() -> None:
    with pytest.raises(HistoryError, match="whole hours"):
        day_boundaries(utc("2026-11-20T12:00"), utc("2026-11-21T12:00"), 1, ZoneInfo("Asia/Kolkata"))


def test_an_unknown_time_zone_is_refused_by_name() -> None:
    with pytest.raises(HistoryError, match="tz='Europe/Kiel' is not a known IANA time zone"):
        time_zone("Europe/Kiel")


def test_a_path_is_no_time_zone() -> None:
    with pytest.raises(HistoryError, match="not a known IANA time zone"):
        time_zone("../../etc/passwd")


def test_hours_add_up_into_their_local_day_and_the_peak_of_reporting_bays_is_kept() -> None:
    bounds = [utc("2026-11-19T23:00"), utc("2026-11-20T23:00"), utc("2026-11-21T23:00")]
    hourly = {
        utc("2026-11-19T22:00"): Bucket(utc("2026-11-19T22:00"), 60, 60, 1, 1),  # the day before: left out
        utc("2026-11-19T23:00"): Bucket(utc("2026-11-19T23:00"), 30, 60, 1, 1),
        utc("2026-11-20T22:00"): Bucket(utc("2026-11-20T22:00"), 60, 120, 2, 2),
        utc("2026-11-20T23:00"): Bucket(utc("2026-11-20T23:00"), 0, 60, 1, 0),
    }
    assert regroup(hourly, bounds) == {
        bounds[0]: Bucket(bounds[0], 90, 180, 2, 3),
        bounds[1]: Bucket(bounds[1], 0, 60, 1, 0),
    }


def test_every_hour_lands_in_exactly_one_interval() -> None:
    bounds = day_boundaries(utc("2026-10-20T00:00"), utc("2026-11-03T00:00"), 1, BERLIN)
    hourly = {t: Bucket(t, 1, 1, 1, 0) for t in range(bounds[0], bounds[-1], HOUR_NS)}
    grouped = regroup(hourly, bounds)
    assert sum(b.samples for b in grouped.values()) == len(hourly)
    assert grouped[utc("2026-10-24T22:00")].samples == 25  # the day the clocks go back


def test_local_days_default_to_one_day_intervals() -> None:
    bounds, days = local_days(
        utc("2026-11-18T12:00"),
        utc("2026-11-20T12:00"),
        None,
        utc("2026-11-21T00:00"),
        BERLIN,
        default_span_ns=7 * 24 * HOUR_NS,
    )
    assert days == 1
    assert bounds == [
        utc("2026-11-17T23:00"),
        utc("2026-11-18T23:00"),
        utc("2026-11-19T23:00"),
        utc("2026-11-20T23:00"),
    ]


def test_local_days_need_every_in_whole_days() -> None:
    with pytest.raises(HistoryError, match="every must be whole days"):
        local_days(None, None, "6h", utc("2026-11-21T00:00"), BERLIN, default_span_ns=24 * HOUR_NS)


def test_raw_readings_over_more_than_a_week_of_local_days_are_refused() -> None:
    with pytest.raises(HistoryError, match="limited to ranges of 7 days"):
        local_days(
            utc("2026-11-01T00:00"),
            utc("2026-11-20T00:00"),
            "1d",
            utc("2026-11-21T00:00"),
            BERLIN,
            default_span_ns=24 * HOUR_NS,
            source="raw",
        )
