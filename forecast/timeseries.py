"""Reading an irregular series at any instant, and the weekday × time-of-day medians known on a given day.

Both only ever look at readings at or before the instant they are asked about (``value_at`` between two
readings, ``WeekProfile`` before the day), which is what keeps forecasts free of look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DAY = 86_400
WEEK = 7 * DAY
# Between two readings at most this far apart the share is interpolated; across a longer gap it is
# unknown (so a place sampled every 30 min, with the odd missed reading, still has values).
MAX_GAP = 75 * 60
SLOT = 30 * 60
SLOTS_PER_DAY = DAY // SLOT

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def value_at(times: Ints, values: Floats, at: Ints, max_gap: int = MAX_GAP) -> tuple[Floats, Ints]:
    """The value at each instant in ``at`` and the time it became known (NaN / -1 when unknown).

    A reading at the instant is taken as it is; otherwise the two readings around it are interpolated
    linearly, which needs the later one, so the value is known only from that reading's time on.
    """
    after = np.searchsorted(times, at, side="right")  # first reading later than the instant
    before = after - 1
    n = len(times)
    lo = np.clip(before, 0, max(n - 1, 0))
    hi = np.clip(after, 0, max(n - 1, 0))
    out = np.full(len(at), np.nan)
    known = np.full(len(at), -1, dtype=np.int64)
    if n == 0:
        return out, known
    exact = (before >= 0) & (times[lo] == at)
    out[exact] = values[lo[exact]]
    known[exact] = times[lo[exact]]
    inside = ~exact & (before >= 0) & (after < n) & (times[hi] - times[lo] <= max_gap)
    span = (times[hi] - times[lo]).astype(np.float64)
    weight = np.divide(at - times[lo], span, out=np.zeros(len(at)), where=span > 0)
    out[inside] = (values[lo] + weight * (values[hi] - values[lo]))[inside]
    known[inside] = times[hi[inside]]
    return out, known


def local_day(local: Ints) -> Ints:
    return local // DAY


def weekday(local: Ints) -> Ints:
    """Monday 0 … Sunday 6 (1 January 1970 was a Thursday)."""
    return (local // DAY + 3) % 7


def slot_of_day(local: Ints) -> Ints:
    return (local % DAY) // SLOT


@dataclass(frozen=True)
class WeekProfile:
    """For each local day: the median share per weekday × half-hour slot over all readings before that day."""

    first_day: int
    table: Floats  # [day - first_day, weekday * SLOTS_PER_DAY + slot]

    @classmethod
    def build(cls, local: Ints, values: Floats) -> WeekProfile:
        days = local_day(local)
        first, last = int(days.min()), int(days.max())
        cells = weekday(local) * SLOTS_PER_DAY + slot_of_day(local)
        table = np.full((last - first + 2, 7 * SLOTS_PER_DAY), np.nan)
        order = np.lexsort((days, cells))  # by cell, then by day
        cells_sorted, days_sorted, values_sorted = cells[order], days[order], values[order]
        bounds = np.flatnonzero(np.diff(cells_sorted)) + 1
        for group in np.split(np.arange(len(order)), bounds):
            if len(group) == 0:
                continue
            cell = cells_sorted[group[0]]
            group_days = days_sorted[group]
            ends = np.flatnonzero(np.diff(group_days)) + 1  # where a new day starts within the group
            for end in [*ends.tolist(), len(group)]:
                # everything up to and including this day, usable from the next day on
                table[group_days[end - 1] - first + 1, cell] = np.median(values_sorted[group[:end]])
        _forward_fill(table)
        return cls(first_day=first, table=table)

    @classmethod
    def known_on(cls, local: Ints, values: Floats, day: int) -> WeekProfile:
        """Only the row of local day ``day`` (the medians of all readings before it): what a forecast
        made that day looks up, without the rows of every earlier day that ``build`` computes."""
        before = local_day(local) < day
        cells = weekday(local[before]) * SLOTS_PER_DAY + slot_of_day(local[before])
        order = np.argsort(cells, kind="stable")
        cells_sorted, values_sorted = cells[order], values[before][order]
        row = np.full((1, 7 * SLOTS_PER_DAY), np.nan)
        bounds = np.flatnonzero(np.diff(cells_sorted)) + 1
        for group in np.split(np.arange(len(order)), bounds):
            if len(group):
                row[0, cells_sorted[group[0]]] = np.median(values_sorted[group])
        return cls(first_day=day, table=row)

    def lookup(self, as_of_local: Ints, at_local: Ints) -> Floats:
        """The median for the slot of ``at_local`` as known at the start of the day of ``as_of_local``."""
        row = np.clip(local_day(as_of_local) - self.first_day, 0, len(self.table) - 1)
        cell = weekday(at_local) * SLOTS_PER_DAY + slot_of_day(at_local)
        return self.table[row, cell]  # type: ignore[no-any-return]


def _forward_fill(table: Floats) -> None:
    """Each NaN takes the last value above it in its column."""
    rows = np.where(~np.isnan(table), np.arange(len(table))[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    filled = table[rows, np.arange(table.shape[1])]
    table[:] = filled
