"""The simple forecasts any model must beat, for origins (indices of readings) and horizons (seconds).

- persistence: the last value carried forward;
- same_slot_last_week: the value at the target time a week earlier;
- weekday_slot_median: the median of all earlier readings on that weekday in that half hour.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from forecast.data import Series
from forecast.timeseries import WEEK, Floats, WeekProfile, value_at

Index = npt.NDArray[np.intp]

NAMES = ("persistence", "same_slot_last_week", "weekday_slot_median")


def persistence(series: Series, origins: Index) -> Floats:
    return series.share[origins]


def same_slot_weeks_ago(
    series: Series, origins: Index, horizons: npt.NDArray[np.int64], weeks: int
) -> Floats:
    """Known before the origin for horizons under a week: the readings used are at least a day older."""
    values, _ = value_at(series.times, series.share, series.times[origins] + horizons - weeks * WEEK)
    return values


def same_slot_last_week(series: Series, origins: Index, horizons: npt.NDArray[np.int64]) -> Floats:
    return same_slot_weeks_ago(series, origins, horizons, 1)


def weekday_slot_median(
    series: Series, profile: WeekProfile, origins: Index, horizons: npt.NDArray[np.int64]
) -> Floats:
    """The median as known at the start of the origin's day (readings of earlier days only)."""
    origin_local = series.local[origins]
    return profile.lookup(origin_local, origin_local + horizons)
