"""The three baselines on a series small enough to check by hand."""

from __future__ import annotations

import numpy as np

from forecast import baselines
from forecast.data import Series
from forecast.timeseries import DAY, WEEK, Ints, WeekProfile

MONDAY = 20458 * DAY  # 2026-01-05, local time = UTC here
H = 3600


def _series() -> Series:
    readings = [
        (MONDAY + 10 * H, 0.2),
        (MONDAY + 10 * H + 1800, 0.3),
        (MONDAY + WEEK + 10 * H, 0.4),
        (MONDAY + WEEK + 10 * H + 1800, 0.5),
        (MONDAY + 2 * WEEK + 9 * H, 0.6),  # the origin
        (MONDAY + 2 * WEEK + 10 * H, 0.9),  # same day: not yet in the medians
    ]
    times = np.array([t for t, _ in readings], dtype=np.int64)
    return Series("A", times, times.copy(), np.array([v for _, v in readings]), np.full(len(times), 10))


ORIGIN = np.array([4], dtype=np.intp)


def _minutes(m: int) -> Ints:
    return np.array([m * 60], dtype=np.int64)


def test_persistence_carries_the_value_at_the_origin_forward() -> None:
    assert baselines.persistence(_series(), ORIGIN).tolist() == [0.6]


def test_same_slot_last_week_takes_the_reading_a_week_before_the_target() -> None:
    assert baselines.same_slot_last_week(_series(), ORIGIN, _minutes(60)).tolist() == [0.4]


def test_same_slot_last_week_interpolates_between_readings() -> None:
    assert np.allclose(baselines.same_slot_last_week(_series(), ORIGIN, _minutes(75)), [0.45])


def test_same_slot_last_week_is_unknown_without_readings_then() -> None:
    assert np.isnan(baselines.same_slot_last_week(_series(), ORIGIN, _minutes(360))).all()


def test_weekday_slot_median_uses_earlier_days_only() -> None:
    series = _series()
    profile = WeekProfile.build(series.local, series.share)
    # Monday 10:00-10:30 held 0.2 and 0.4 on earlier Mondays; today's 0.9 is not known at the day's start
    assert np.allclose(baselines.weekday_slot_median(series, profile, ORIGIN, _minutes(60)), [0.3])
    # Monday 10:30-11:00: 0.3 and 0.5
    assert np.allclose(baselines.weekday_slot_median(series, profile, ORIGIN, _minutes(90)), [0.4])


def test_weekday_slot_median_is_unknown_for_a_slot_never_seen() -> None:
    series = _series()
    profile = WeekProfile.build(series.local, series.share)
    assert np.isnan(baselines.weekday_slot_median(series, profile, ORIGIN, _minutes(180))).all()
