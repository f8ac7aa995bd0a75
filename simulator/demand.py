"""Who arrives when, where they are going, and how long they stay (parking-search.md §6.2, §6.3).

Arrivals are a non-homogeneous Poisson process, piecewise constant per hour:
λ(day, hour) = weekday_arrivals_per_day × day_factor(day) × profile(day, hour), split into
visitors and long-stay parkers with their own hourly profiles. Each arrival gets a destination
face (probability = attractiveness), a dwell time from its class's lognormal, and the uniform
numbers that fix its approach and whether it follows guidance. All of it comes from the demand
stream alone, so every variant of a run (guided or not, any latency) sees the same drivers.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from simulator.scenario import DayProfiles, DayValues, Demand, Dwell

DAY_S = 86_400.0
HOUR_S = 3_600.0


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
    u_end: array[float]
    u_approach: array[float]
    u_guided: array[float]

    @classmethod
    def empty(cls) -> Arrivals:
        return cls(array("d"), array("d"), array("l"), array("d"), array("d"), array("d"))

    def __len__(self) -> int:
        return len(self.t)


def _profile(profiles: DayProfiles, kind: str) -> np.ndarray:
    values = np.asarray(getattr(profiles, kind), dtype=float)
    return np.asarray(values / values.sum())


def _factor(values: DayValues, kind: str) -> float:
    return float(getattr(values, kind))


class DemandModel:
    """Draws each day's arrivals in order from its own random stream."""

    def __init__(
        self, demand: Demand, dwell: Dwell, seg_weight: list[float], rng: np.random.Generator, first_day: date
    ) -> None:
        self.demand = demand
        self.dwell = dwell
        self.rng = rng
        self.first_day = first_day
        self.seg_p = np.asarray(seg_weight, dtype=float)
        self.seg_p = self.seg_p / self.seg_p.sum()
        self.next_day = 0

    def expected_per_hour(self, day_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean visitor and long-stay arrivals in each hour of a day."""
        kind = day_type(self.first_day + timedelta(days=day_index))
        total = self.demand.weekday_arrivals_per_day * _factor(self.demand.day_factor, kind)
        share = self.demand.long_stay_share
        visitors = total * (1 - share) * _profile(self.demand.visitor_profile, kind)
        long_stay = total * share * _profile(self.demand.long_stay_profile, kind)
        return visitors, long_stay

    def arrivals(self, day_index: int) -> Arrivals:
        if day_index != self.next_day:
            raise ValueError(f"days are drawn in order: expected day {self.next_day}, got {day_index}")
        self.next_day += 1
        rng = self.rng
        visitors, long_stay = self.expected_per_hour(day_index)
        times: list[np.ndarray] = []
        kinds: list[np.ndarray] = []
        for is_long, expected in ((False, visitors), (True, long_stay)):
            counts = rng.poisson(expected)
            hours = np.repeat(np.arange(24, dtype=float), counts)
            times.append(day_index * DAY_S + (hours + rng.random(hours.size)) * HOUR_S)
            kinds.append(np.full(hours.size, is_long))
        t = np.concatenate(times)
        is_long_stay = np.concatenate(kinds)
        n = t.size
        d = self.dwell
        median = np.where(is_long_stay, d.long_stay_median_min, d.visitor_median_min)
        sigma = np.where(is_long_stay, d.long_stay_sigma, d.visitor_sigma)
        dwell_s = 60.0 * median * np.exp(sigma * rng.standard_normal(n))
        dest = rng.choice(self.seg_p.size, size=n, p=self.seg_p)
        u = rng.random((3, n))
        order = np.argsort(t, kind="stable")
        return Arrivals(
            t=_doubles(t[order]),
            dwell_s=_doubles(dwell_s[order]),
            dest=array("l", dest[order].tolist()),
            u_end=_doubles(u[0][order]),
            u_approach=_doubles(u[1][order]),
            u_guided=_doubles(u[2][order]),
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
