"""A site's forecaster as the API runs it: trained on the site's own history, back-tested on its last days.

Each scope of a site (the whole site and each zone) is one series, as places are in the back-test; one
model learns from all of them. ``fit_site`` trains the model on everything known and back-tests the same
recipe on the site's last days (trained only on what came before them), so the error published with a
forecast is that of this site's model, measured the way ``parklotse forecast backtest`` measures it.
``forecast_scope`` answers from a scope's latest reading at 15-minute steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from forecast import report
from forecast.backtest import BacktestError, run_backtest
from forecast.calendar import HolidayCalendar
from forecast.data import Series
from forecast.features import Frame, build_frame
from forecast.model import (
    DEFAULT_CONFIG,
    MIN_HISTORY_DAYS,
    Band,
    ModelConfig,
    NotEnoughHistory,
    QuantileModel,
    check_history,
    training_origins,
    training_rows,
)
from forecast.report import HorizonScore
from forecast.timeseries import DAY, Ints, WeekProfile, local_day

STEP_S = 15 * 60
MAX_HORIZON_S = DAY
STEPS = np.arange(STEP_S, MAX_HORIZON_S + 1, STEP_S, dtype=np.int64)


def series_from_shares(
    place_id: str, times: Sequence[int], shares: Sequence[float], capacity: int, zone: ZoneInfo
) -> Series:
    """A series from UTC seconds and occupied shares (a reading is stamped when it was complete)."""
    utc = np.asarray(times, dtype=np.int64)
    # The offset changes twice a year, on the hour: the zone is asked at both ends of each UTC day of
    # data, and hour by hour only on a day where the two differ (asking per hour cost 0.4 s for the
    # city's 56 days, on the API's event loop).
    days, at = np.unique(utc // DAY, return_inverse=True)
    first, last = (
        np.array([_offset(d * DAY + h, zone) for d in days.tolist()], dtype=np.int64) for h in (0, DAY - 3600)
    )
    local = utc + first[at.reshape(-1)]
    for day in np.flatnonzero(first != last).tolist():
        on_day = at.reshape(-1) == day
        local[on_day] = utc[on_day] + [_offset(t // 3600 * 3600, zone) for t in utc[on_day].tolist()]
    return Series(
        place_id=place_id,
        times=utc,
        local=local,
        share=np.clip(np.asarray(shares, dtype=np.float64), 0.0, 1.0),
        capacity=np.full(len(utc), capacity, dtype=np.int64),
    )


def _offset(utc: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(utc, UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@dataclass(frozen=True)
class SiteBacktest:
    """The site's own back-test: the model trained on what came before ``test_from``."""

    test_from: int  # UTC seconds
    test_to: int
    refits: int
    scores: list[HorizonScore]

    def beats_persistence(self, horizon_min: int) -> bool:
        """Whether the model erred less than carrying the last value forward, on enough forecasts."""
        for s in self.scores:
            if s.horizon_min == horizon_min:
                return s.n > 0 and s.mae["model"] < s.mae["persistence"]
        return False


@dataclass(frozen=True)
class SiteModel:
    model: QuantileModel
    calendar: HolidayCalendar
    trained_from: int  # UTC seconds: the first and last reading trained on
    trained_to: int
    backtest: SiteBacktest | None
    backtest_note: str | None  # why there is no back-test yet


def fit_site(
    series: list[Series],
    calendar: HolidayCalendar,
    *,
    backtest_days: int,
    config: ModelConfig = DEFAULT_CONFIG,
) -> SiteModel:
    """Train on all of ``series`` and back-test on its last ``backtest_days`` days (one refit).

    Raises NotEnoughHistory (saying how much there is) below MIN_HISTORY_DAYS of readings.
    """
    series = [s for s in series if len(s) > 1]
    end = max((int(s.times[-1]) for s in series), default=0)
    check_history(series, end + 1)
    rng = np.random.default_rng(config.seed)
    candidates = Frame.concat(
        [
            build_frame(s, WeekProfile.build(s.local, s.share), calendar, *training_origins(s, rng))
            for s in series
        ]
    )
    model = QuantileModel(config).fit(training_rows(candidates, end + 1, rng))
    backtest, note = _backtest(series, calendar, end, backtest_days, config)
    return SiteModel(
        model=model,
        calendar=calendar,
        trained_from=min(int(s.times[0]) for s in series),
        trained_to=end,
        backtest=backtest,
        backtest_note=note,
    )


def _backtest(
    series: list[Series], calendar: HolidayCalendar, end: int, days: int, config: ModelConfig
) -> tuple[SiteBacktest | None, str | None]:
    start = end - days * DAY
    try:
        check_history(series, start)
        result = run_backtest(series, calendar, start, config, refit_days=days)
    except (NotEnoughHistory, BacktestError) as exc:
        return None, (
            f"no back-test yet: it needs {MIN_HISTORY_DAYS} days of history before its {days} test "
            f"days ({exc})"
        )
    scores = report.score(result)
    return SiteBacktest(result.test_from, result.test_to, result.refits, scores), None


@dataclass(frozen=True)
class ScopeForecast:
    """Forecast occupied shares at ``times`` (UTC seconds, 15 minutes apart from the latest reading)."""

    origin: int  # UTC seconds of the latest reading used
    times: Ints
    band: Band


def forecast_scope(model: SiteModel, series: Series, steps: Ints = STEPS) -> ScopeForecast:
    """From the series' latest reading, ``steps`` seconds ahead (default: every 15 minutes for a day)."""
    if len(series) == 0:
        raise NotEnoughHistory("not enough history: no readings")
    profile = WeekProfile.known_on(series.local, series.share, int(local_day(series.local[-1:])[0]))
    origins = np.full(len(steps), len(series) - 1, dtype=np.intp)
    frame = build_frame(series, profile, model.calendar, origins, steps)
    band = model.model.predict(frame)
    origin = int(series.times[-1])
    return ScopeForecast(origin=origin, times=origin + steps, band=band)


def append_series(old: Series, new: Series, keep_from: int) -> Series:
    """``old`` with ``new`` appended: where they overlap, ``new`` wins (a later pass may have completed
    an interval); readings before ``keep_from`` (UTC seconds) are dropped, so memory stays bounded."""
    if len(old) == 0:
        return new
    keep = old.times < (new.times[0] if len(new) else old.times[-1] + 1)
    keep &= old.times >= keep_from
    return Series(
        new.place_id if len(new) else old.place_id,
        np.concatenate([old.times[keep], new.times]),
        np.concatenate([old.local[keep], new.local]),
        np.concatenate([old.share[keep], new.share]),
        np.concatenate([old.capacity[keep], new.capacity]),
    )
