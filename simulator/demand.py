"""Who arrives when, where they are going, and how long they stay (docs/research.md §6.2, §6.3).

Arrivals are a non-homogeneous Poisson process, piecewise constant per hour:
λ(day, hour) = weekday_arrivals_per_day × day_factor(day) × profile(day, hour), split into
visitors and long-stay parkers with their own hourly profiles, plus residents coming home
(resident_arrivals_per_day × their profile). Each arrival gets a destination face, a dwell time
from its class's lognormal, the town entrance it comes through, and the uniform numbers that fix
whether it would use the app or follow the signs. All of it comes from the demand stream alone,
so both twins of a run (and every steering setting) see the same drivers.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np

from simulator.scenario import DayProfiles, DayValues, Demand, Dwell

DAY_S: Final = 86_400.0
HOUR_S: Final = 3_600.0


def day_type(day: date) -> str:
    weekday = day.weekday()
    return "saturday" if weekday == 5 else "sunday" if weekday == 6 else "weekday"


@dataclass(frozen=True, slots=True)
class Arrivals:
    """One day's drivers, sorted by arrival time (seconds since the run's first midnight).

    Typed arrays: compact, and indexing them gives plain Python numbers for the event loop.
    """

    t: array[float]
    dwell_s: array[float]
    dest: array[int]
    entrance: array[int]
    u_app: array[float]  # the driver uses the app if this is below the app share
    u_sign: array[float]  # the driver follows the signs if this is below the compliance

    @classmethod
    def empty(cls) -> Arrivals:
        return cls(array("d"), array("d"), array("l"), array("l"), array("d"), array("d"))

    def __len__(self) -> int:
        return len(self.t)


def _profile(profiles: DayProfiles, kind: str) -> np.ndarray:
    values = np.asarray(getattr(profiles, kind), dtype=float)
    return np.asarray(values / values.sum())


def _factor(values: DayValues, kind: str) -> float:
    return float(getattr(values, kind))


class DemandModel:
    """Draws each day's arrivals in order from its own random stream.

    Three kinds of parkers: visitors and long-stay parkers (employees) go to the attractive faces
    around the market square; residents coming home go to any face with bays.
    """

    def __init__(
        self,
        demand: Demand,
        dwell: Dwell,
        seg_weight: list[float],
        rng: np.random.Generator,
        first_day: date,
        entrance_cum: tuple[float, ...] = (1.0,),
        first_index: int = 0,
        seg_has_bays: list[bool] | None = None,
        day_kind: str | None = None,
    ) -> None:
        self.demand = demand
        self.dwell = dwell
        self.rng = rng
        self.first_day = first_day
        self.seg_p = np.asarray(seg_weight, dtype=float)
        self.seg_p = self.seg_p / self.seg_p.sum()
        homes = np.asarray(seg_has_bays if seg_has_bays is not None else self.seg_p > 0, dtype=float)
        self.home_p = homes / homes.sum() if homes.sum() > 0 else self.seg_p
        self.entrance_cum = np.asarray(entrance_cum, dtype=float)
        self.next_day = first_index
        self.day_kind = day_kind  # every day of this kind (N market Saturdays), else by the calendar

    def kind(self, day_index: int) -> str:
        return self.day_kind or day_type(self.first_day + timedelta(days=day_index))

    def expected_per_hour(self, day_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean visitor, long-stay and resident arrivals in each hour of a day."""
        kind = self.kind(day_index)
        total = self.demand.weekday_arrivals_per_day * _factor(self.demand.day_factor, kind)
        share = self.demand.long_stay_share
        visitors = total * (1 - share) * _profile(self.demand.visitor_profile, kind)
        long_stay = total * share * _profile(self.demand.long_stay_profile, kind)
        factor = _factor(self.demand.day_factor, kind)
        residents = (
            self.demand.resident_arrivals_per_day * factor * _profile(self.demand.resident_profile, kind)
        )
        return visitors, long_stay, residents

    def arrivals(self, day_index: int) -> Arrivals:
        if day_index != self.next_day:
            raise ValueError(f"days are drawn in order: expected day {self.next_day}, got {day_index}")
        self.next_day += 1
        rng = self.rng
        d = self.dwell
        classes = (
            (d.visitor_median_min, d.visitor_sigma, False),
            (d.long_stay_median_min, d.long_stay_sigma, False),
            (d.resident_median_min, d.resident_sigma, True),
        )
        times: list[np.ndarray] = []
        dwells: list[np.ndarray] = []
        dests: list[np.ndarray] = []
        for expected, (median, sigma, home) in zip(self.expected_per_hour(day_index), classes, strict=True):
            counts = rng.poisson(expected)
            hours = np.repeat(np.arange(24, dtype=float), counts)
            n = hours.size
            times.append(day_index * DAY_S + (hours + rng.random(n)) * HOUR_S)
            dwells.append(60.0 * median * np.exp(sigma * rng.standard_normal(n)))
            p = self.home_p if home else self.seg_p
            dests.append(rng.choice(p.size, size=n, p=p))
        t = np.concatenate(times)
        n = t.size
        u = rng.random((3, n))
        entrance = np.minimum(
            np.searchsorted(self.entrance_cum, u[0], side="right"), self.entrance_cum.size - 1
        )
        order = np.argsort(t, kind="stable")
        return Arrivals(
            t=_doubles(t[order]),
            dwell_s=_doubles(np.concatenate(dwells)[order]),
            dest=array("l", np.concatenate(dests)[order].tolist()),
            entrance=array("l", entrance[order].tolist()),
            u_app=_doubles(u[1][order]),
            u_sign=_doubles(u[2][order]),
        )


def _doubles(values: np.ndarray) -> array[float]:
    out = array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def mean_dwell_min(dwell: Dwell, long_stay_share: float) -> float:
    """E[dwell] of the mixture (a lognormal's mean is median × exp(σ²/2))."""
    visitor = dwell.visitor_median_min * math.exp(dwell.visitor_sigma**2 / 2)
    long_stay = dwell.long_stay_median_min * math.exp(dwell.long_stay_sigma**2 / 2)
    return (1 - long_stay_share) * visitor + long_stay_share * long_stay
