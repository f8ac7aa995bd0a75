"""Back-test: rolling origins over a test period, the model refitted daily on what was known before.

Every reading in the test period is an origin. For each test day the model is trained only on examples
whose outcome was known before that day began; features use readings up to the origin. The baselines
see the same data, and every figure compares model and baselines on the same forecasts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np

from forecast.calendar import HolidayCalendar
from forecast.data import Series
from forecast.features import Frame, build_frame
from forecast.model import (
    DEFAULT_CONFIG,
    Band,
    ModelConfig,
    QuantileModel,
    check_history,
    training_origins,
    training_rows,
)
from forecast.timeseries import DAY, WeekProfile

EVAL_HORIZONS_MIN = (15, 30, 60, 120, 1440)  # 1440: the next day at the same time
TEST_SHARE = 0.25  # by default the last quarter of the data is the test period


class BacktestError(ValueError):
    """The test period cannot be set up as asked (it names the dates)."""


@dataclass(frozen=True)
class Backtest:
    rows: Frame  # one per (origin, horizon) in the test period with a known outcome
    forecast: Band
    test_from: int  # UTC seconds
    test_to: int
    refits: int


def default_test_start(series: list[Series]) -> int:
    """Local midnight after three quarters of the data's time span, as UTC seconds."""
    first = min(int(s.times[0]) for s in series)
    last = max(int(s.times[-1]) for s in series)
    split = first + int((last - first) * (1 - TEST_SHARE))
    offset = _offset_near(series, split)
    return ((split + offset) // DAY + 1) * DAY - offset


def test_start_from_date(series: list[Series], day: date) -> int:
    midnight_local = (day.toordinal() - date(1970, 1, 1).toordinal()) * DAY
    first = min(int(s.times[0]) for s in series)
    last = max(int(s.times[-1]) for s in series)
    start = midnight_local - _offset_near(series, midnight_local)
    if not first < start <= last:
        raise BacktestError(
            f"--test-from {day}: the data run from {_day(first)} to {_day(last)}; "
            "the test period must start after the first day and not after the last"
        )
    return start


def _offset_near(series: list[Series], utc: int) -> int:
    """The data's offset from UTC (local minus UTC) at the reading nearest ``utc``."""
    nearest = min(series, key=lambda s: int(np.abs(s.times - utc).min()))
    i = int(np.abs(nearest.times - utc).argmin())
    return int(nearest.local[i] - nearest.times[i])


def _day(utc: int) -> str:
    return str(date.fromordinal(date(1970, 1, 1).toordinal() + utc // DAY))


def run_backtest(
    series: list[Series],
    calendar: HolidayCalendar,
    test_from: int | None = None,
    config: ModelConfig = DEFAULT_CONFIG,
    progress: Callable[[Iterable[int]], Iterable[int]] = lambda days: days,
    refit_days: int = 1,
) -> Backtest:
    """Back-test on ``series`` from ``test_from`` (UTC seconds; default: the last quarter) to the end.

    The model is refitted every ``refit_days`` days of the test period (default: daily, as in
    service); a longer period tests an older model, which is the stricter test and costs fewer fits.
    """
    start = default_test_start(series) if test_from is None else test_from
    end = max(int(s.times[-1]) for s in series)
    check_history(series, start)
    rng = np.random.default_rng(config.seed)
    profiles = [WeekProfile.build(s.local, s.share) for s in series]
    candidates = Frame.concat(
        [
            build_frame(s, p, calendar, *training_origins(s, rng))
            for s, p in zip(series, profiles, strict=True)
        ]
    )
    tests = Frame.concat([_test_frame(s, p, calendar, start) for s, p in zip(series, profiles, strict=True)])
    tests = tests.take(~np.isnan(tests.truth))
    if len(tests) == 0:
        raise BacktestError(f"no forecast in the test period from {_day(start)} has a known outcome")
    day_of = (tests.origin - start) // (DAY * refit_days)
    low, median, high = (np.full(len(tests), np.nan) for _ in range(3))
    days = np.unique(day_of)
    for day in progress(days.tolist()):
        cutoff = start + day * DAY * refit_days
        model = QuantileModel(config).fit(training_rows(candidates, cutoff, rng))
        today = np.flatnonzero(day_of == day)
        band = model.predict(tests.take(today))
        low[today], median[today], high[today] = band.low, band.median, band.high
    return Backtest(
        rows=tests,
        forecast=Band(low=low, median=median, high=high),
        test_from=start,
        test_to=end,
        refits=len(days),
    )


def _test_frame(series: Series, profile: WeekProfile, calendar: HolidayCalendar, start: int) -> Frame:
    origins = np.flatnonzero(series.times >= start)
    horizons = np.array(EVAL_HORIZONS_MIN, dtype=np.int64) * 60
    return build_frame(
        series,
        profile,
        calendar,
        np.repeat(origins, len(horizons)).astype(np.intp),
        np.tile(horizons, len(origins)),
    )
