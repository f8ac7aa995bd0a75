"""The back-test: no look-ahead, training only on outcomes known before the refit, like-with-like scores."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from forecast.backtest import Backtest, run_backtest
from forecast.calendar import HolidayCalendar
from forecast.data import Series, load_csv
from forecast.features import Frame, build_frame
from forecast.model import Band, ModelConfig, NotEnoughHistory, training_origins, training_rows
from forecast.report import score
from forecast.timeseries import DAY, WeekProfile
from tests.unit.forecast.synthetic import occupancy_rows, write_csv

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "occupancy"
CALENDAR = HolidayCalendar("DE-SH")
SMALL = ModelConfig(max_iter=10)  # for behaviours that do not depend on accuracy: a tenth of the time


def _series(tmp_path: Path, days: int) -> Series:
    return load_csv(write_csv(tmp_path / "in.csv", occupancy_rows(days))).series[0]


def test_a_forecast_does_not_change_when_the_future_after_its_origin_does(tmp_path: Path) -> None:
    series = _series(tmp_path, 16)
    start = int(series.times[0]) + 15 * DAY
    origin = int(series.times[np.searchsorted(series.times, start + 11 * 3600)])  # 11:00 on the last day
    rng = np.random.default_rng(7)
    later = series.times > origin
    scrambled = series.share.copy()
    scrambled[later] = rng.permutation(scrambled[later])
    before = run_backtest([series], CALENDAR, start, SMALL)
    after = run_backtest([replace(series, share=scrambled)], CALENDAR, start, SMALL)
    assert not np.array_equal(before.rows.truth, after.rows.truth)  # the scramble reached the outcomes
    upto = before.rows.origin <= origin
    assert np.array_equal(upto, after.rows.origin <= origin) and upto.sum() > 0
    for field in ("low", "median", "high"):
        assert np.array_equal(getattr(before.forecast, field)[upto], getattr(after.forecast, field)[upto])
    for field in ("x", "persistence", "same_slot_last_week", "weekday_slot_median"):
        assert np.array_equal(
            getattr(before.rows, field)[upto], getattr(after.rows, field)[upto], equal_nan=True
        )


def test_training_uses_only_outcomes_known_before_the_refit(tmp_path: Path) -> None:
    series = _series(tmp_path, 16)
    rng = np.random.default_rng(0)
    profile = WeekProfile.build(series.local, series.share)
    candidates = build_frame(series, profile, CALENDAR, *training_origins(series, rng))
    cutoff = int(series.times[0]) + 14 * DAY
    rows = training_rows(candidates, cutoff, rng)
    assert len(rows) > 0
    assert (rows.truth_known_at < cutoff).all()
    assert (rows.origin + rows.horizon <= rows.truth_known_at).all()


def test_too_little_history_is_said_not_guessed(tmp_path: Path) -> None:
    series = _series(tmp_path, 10)
    with pytest.raises(NotEnoughHistory, match="needs 14"):
        run_backtest([series], CALENDAR, int(series.times[0]) + 9 * DAY)


def test_scores_compare_model_and_baselines_on_the_same_forecasts() -> None:
    n = 4
    rows = Frame(
        x=np.zeros((n, 1)),
        origin=np.arange(n, dtype=np.int64),
        horizon=np.full(n, 15 * 60, dtype=np.int64),
        persistence=np.array([0.5, 0.5, 0.5, 0.5]),
        same_slot_last_week=np.array([0.4, np.nan, 0.4, 0.4]),  # the second forecast has no week-ago value
        weekday_slot_median=np.array([0.6, 0.6, 0.6, 0.6]),
        truth=np.array([0.5, 0.9, 0.6, 0.4]),
        truth_known_at=np.arange(n, dtype=np.int64),
    )
    median = np.array([0.5, 0.9, 0.5, 0.5])
    result = Backtest(rows, Band(median - 0.05, median, median + 0.05), 0, n, 1)
    fifteen = score(result)[0]
    assert fifteen.n == 3
    assert fifteen.mae["model"] == pytest.approx(100 * (0 + 0.1 + 0.1) / 3)
    assert fifteen.mae["persistence"] == pytest.approx(100 * (0 + 0.1 + 0.1) / 3)
    assert fifteen.mae["same_slot_last_week"] == pytest.approx(100 * (0.1 + 0.2 + 0) / 3)
    assert fifteen.mae["weekday_slot_median"] == pytest.approx(100 * (0.1 + 0 + 0.2) / 3)
    assert fifteen.band_coverage == pytest.approx(1 / 3)


def test_on_a_real_car_park_the_model_beats_carrying_the_last_value_forward() -> None:
    loaded = load_csv(FIXTURES / "birmingham-excerpt.csv")
    car_park = next(s for s in loaded.series if s.place_id == "BHMEURBRD01")
    # a third of the trees keeps the test quick; the full model's figures are in README.md (Forecast)
    config = ModelConfig(max_iter=30)
    result = run_backtest([car_park], HolidayCalendar("GB-ENG"), int(car_park.times[-1]) - DAY, config)
    by_horizon = {s.horizon_min: s for s in score(result)}
    for minutes in (30, 60):
        assert by_horizon[minutes].n > 0
        assert by_horizon[minutes].mae["model"] < by_horizon[minutes].mae["persistence"]
