"""The site's forecaster as the API runs it: local time from the site's zone, fitting, its own back-test."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from forecast.calendar import HolidayCalendar
from forecast.data import Series
from forecast.model import ModelConfig, NotEnoughHistory
from forecast.site import (
    STEP_S,
    STEPS,
    SiteModel,
    append_series,
    fit_site,
    forecast_scope,
    series_from_shares,
)
from forecast.timeseries import DAY, WeekProfile

BERLIN = ZoneInfo("Europe/Berlin")
CALENDAR = HolidayCalendar("DE-SH")
SMALL = ModelConfig(max_iter=10)  # for behaviours that do not depend on accuracy
START = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())  # a Monday


def _series(days: int, step_s: int = 900, seed: int = 1) -> Series:
    rng = np.random.default_rng(seed)
    times = np.arange(START, START + days * DAY, step_s)
    hours = (times % DAY) / 3600
    weekday = ((times // DAY + 3) % 7) < 5
    peak = np.where(weekday, 0.7, 0.35)
    shares = 0.15 + peak * np.exp(-(((hours - 12) / 3.5) ** 2)) + rng.normal(0, 0.02, len(times))
    return series_from_shares("A", times.tolist(), shares.tolist(), 40, BERLIN)


def test_local_time_follows_the_sites_zone_across_the_clock_change() -> None:
    winter = int(datetime(2026, 3, 28, 12, tzinfo=UTC).timestamp())
    summer = int(datetime(2026, 3, 30, 12, tzinfo=UTC).timestamp())
    series = series_from_shares("A", [winter, summer], [0.5, 0.5], 10, BERLIN)
    assert (series.local - series.times).tolist() == [3600, 7200]


def test_shares_outside_0_to_1_are_clipped_and_capacity_is_the_bays() -> None:
    series = series_from_shares("A", [START, START + 300], [-0.1, 1.2], 12, BERLIN)
    assert series.share.tolist() == [0.0, 1.0] and series.capacity.tolist() == [12, 12]


def test_with_too_little_history_fitting_says_how_much_there_is() -> None:
    with pytest.raises(NotEnoughHistory, match=r"4\.8 days of readings, the forecast needs 14"):
        fit_site([_series(5, step_s=DAY // 4)], CALENDAR, backtest_days=2, config=SMALL)


def test_without_history_before_the_test_days_there_is_a_model_but_no_backtest() -> None:
    model = fit_site([_series(15)], CALENDAR, backtest_days=7, config=SMALL)
    assert model.backtest is None
    assert model.backtest_note is not None and "14 days" in model.backtest_note


@pytest.fixture(scope="module")
def eighteen_days() -> tuple[Series, SiteModel]:
    series = _series(18)
    return series, fit_site([series], CALENDAR, backtest_days=2, config=SMALL)


def test_the_backtest_covers_the_last_days_with_one_refit(eighteen_days: tuple[Series, SiteModel]) -> None:
    series, model = eighteen_days
    assert model.backtest is not None and model.backtest.refits == 1
    assert model.backtest.test_to == int(series.times[-1])
    assert model.backtest.test_to - model.backtest.test_from == 2 * DAY
    assert [s.horizon_min for s in model.backtest.scores] == [15, 30, 60, 120, 1440]
    assert all(s.n > 0 and math.isfinite(s.mae["model"]) for s in model.backtest.scores)
    assert (model.trained_from, model.trained_to) == (int(series.times[0]), int(series.times[-1]))


def test_beats_persistence_compares_the_two_errors_at_that_horizon(
    eighteen_days: tuple[Series, SiteModel],
) -> None:
    _, model = eighteen_days
    assert model.backtest is not None
    for s in model.backtest.scores:
        assert model.backtest.beats_persistence(s.horizon_min) == (s.mae["model"] < s.mae["persistence"])
    assert not model.backtest.beats_persistence(45)  # not measured


def test_a_forecast_runs_every_15_minutes_for_a_day_from_the_latest_reading() -> None:
    series = _series(15)
    model = fit_site([series], CALENDAR, backtest_days=1, config=SMALL)
    forecast = forecast_scope(model, series)
    assert forecast.origin == int(series.times[-1])
    assert (forecast.times - forecast.origin).tolist() == STEPS.tolist()
    assert len(STEPS) == 96 and STEPS[0] == STEP_S
    band = forecast.band
    assert (band.low <= band.median).all() and (band.median <= band.high).all()
    assert ((band.low >= 0) & (band.high <= 1)).all()


def test_the_profile_known_on_a_day_is_the_row_build_computes_for_it() -> None:
    series = _series(16)
    day = int(series.local[-1] // DAY)
    full = WeekProfile.build(series.local, series.share)
    one = WeekProfile.known_on(series.local, series.share, day)
    at = series.local[-1] + STEPS
    as_of = np.full(len(at), series.local[-1])
    assert np.array_equal(full.lookup(as_of, at), one.lookup(as_of, at), equal_nan=True)


def test_the_local_time_of_every_reading_is_asked_of_the_zone_on_the_clock_change_day() -> None:
    # 2026-03-29: Berlin goes from +1 h to +2 h at 01:00 UTC; readings every 5 minutes around it.
    first = int(datetime(2026, 3, 29, 0, tzinfo=UTC).timestamp())
    times = np.arange(first, first + 2 * 3600, 300)
    found = series_from_shares("A", times.tolist(), [0.5] * len(times), 10, BERLIN)
    expected = [
        int(datetime.fromtimestamp(t, UTC).astimezone(BERLIN).utcoffset().total_seconds())  # type: ignore[union-attr]
        for t in times.tolist()
    ]
    assert (found.local - found.times).tolist() == expected
    assert set(expected) == {3600, 7200}


def test_appended_readings_replace_the_overlap_and_old_ones_are_dropped() -> None:
    old = series_from_shares("A", [0, 300, 600, 900], [0.1, 0.2, 0.3, 0.4], 10, BERLIN)
    new = series_from_shares("A", [600, 900, 1200], [0.35, 0.45, 0.5], 10, BERLIN)
    found = append_series(old, new, keep_from=300)
    assert found.times.tolist() == [300, 600, 900, 1200]
    assert found.share.tolist() == [0.2, 0.35, 0.45, 0.5]
    assert len(found.local) == len(found.capacity) == 4


def test_nothing_new_keeps_what_there_was() -> None:
    old = series_from_shares("A", [0, 300], [0.1, 0.2], 10, BERLIN)
    empty = series_from_shares("A", [], [], 10, BERLIN)
    assert append_series(old, empty, keep_from=0).times.tolist() == [0, 300]
    assert append_series(empty, old, keep_from=0).times.tolist() == [0, 300]
