"""Feature rows for (origin, horizon) pairs of one series, with the baselines and the truth beside them.

Every feature uses readings at or before the origin only: recent values and their change, time of day,
weekday and public holiday of the target time, the same slot one and two weeks earlier, and the
weekday × slot median known at the start of the origin's day. The model learns the change from now, and
past levels enter as differences from now, so a lasting shift (fewer sensors, a lockdown) does not
pull every forecast towards an old level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from forecast import baselines
from forecast.calendar import HolidayCalendar
from forecast.data import Series
from forecast.timeseries import DAY, WEEK, Floats, Ints, WeekProfile, local_day, value_at, weekday

LAGS_MIN = (5, 10, 15, 30, 60, 120)
NAMES = (
    "horizon_min",
    "share_now",
    *(f"change_{lag}min" for lag in LAGS_MIN),
    "target_hour",
    "target_weekday",
    "target_holiday",
    "origin_hour",
    "week_ago_minus_now",
    "two_weeks_ago_minus_now",
    "week_ago_change",
    "slot_median_minus_now",
    "slot_median_change",
)


@dataclass(frozen=True)
class Frame:
    """One row per (origin, horizon); ``truth`` is NaN where the series has no value at the target time."""

    x: Floats  # [rows, len(NAMES)]
    origin: Ints  # UTC seconds
    horizon: Ints  # seconds
    persistence: Floats
    same_slot_last_week: Floats
    weekday_slot_median: Floats
    truth: Floats
    truth_known_at: Ints  # UTC seconds when the truth was known (-1: never)

    def __len__(self) -> int:
        return len(self.origin)

    def take(self, rows: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> Frame:
        return Frame(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))

    @staticmethod
    def concat(frames: list[Frame]) -> Frame:
        return Frame(
            *(np.concatenate([getattr(f, name) for f in frames]) for name in Frame.__dataclass_fields__)
        )


def build_frame(
    series: Series,
    profile: WeekProfile,
    calendar: HolidayCalendar,
    origins: npt.NDArray[np.intp],
    horizons: Ints,
) -> Frame:
    """Rows for readings ``origins`` (indices into the series) and ``horizons`` (seconds), pairwise."""
    now_utc = series.times[origins]
    now_local = series.local[origins]
    target_local = now_local + horizons
    share_now = baselines.persistence(series, origins)
    changes = [share_now - value_at(series.times, series.share, now_utc - lag * 60)[0] for lag in LAGS_MIN]
    week_ago = baselines.same_slot_last_week(series, origins, horizons)
    two_weeks_ago = baselines.same_slot_weeks_ago(series, origins, horizons, 2)
    week_ago_now, _ = value_at(series.times, series.share, now_utc - WEEK)
    slot_median = baselines.weekday_slot_median(series, profile, origins, horizons)
    slot_median_now = profile.lookup(now_local, now_local)
    x = np.column_stack(
        [
            horizons / 60.0,
            share_now,
            *changes,
            (target_local % DAY) / 3600.0,
            weekday(target_local),
            calendar.flags(local_day(target_local)),
            (now_local % DAY) / 3600.0,
            week_ago - share_now,
            two_weeks_ago - share_now,
            week_ago - week_ago_now,
            slot_median - share_now,
            slot_median - slot_median_now,
        ]
    ).astype(np.float64)
    truth, known_at = value_at(series.times, series.share, now_utc + horizons)
    return Frame(
        x=x,
        origin=now_utc,
        horizon=horizons.astype(np.int64),
        persistence=share_now,
        same_slot_last_week=week_ago,
        weekday_slot_median=slot_median,
        truth=truth,
        truth_known_at=known_at,
    )
