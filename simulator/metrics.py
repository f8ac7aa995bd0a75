"""Key figures from a run: search time and distance, CO2, occupancy, and the windows they refer to.

Definitions (docs/simulator.md explains them at length):

* search (``search_m``): metres driven beyond the shortest route from the driver's town entrance to its
  destination point (the middle of the destination face); 0 ("no search") for a driver who parks on
  the way, continuous after that. A drive to a garage counts in full (after giving up: the circling
  before it too). Search time = search distance ÷ search speed. This is what sensors can save.
* search path (``path_m``, calibration T1/T3): metres from where the route entered the search radius
  around the destination to the bay, as start2park records a search from the moment the driver
  starts looking (docs/research.md §1c).
* CO2 = search km × fleet emission factor × stop-and-go factor × (1 − EV share).
* search area: bays within ``space.search_area_radius_m`` of an attractor; its occupancy is what
  the peak and off-peak windows and the occupancy curve refer to.
* peak hours: clock hours whose mean search-area occupancy (in the run without guidance) is at least
  ``windows.peak_occupancy``; off-peak hours: clock hours in which the search-area occupancy stays
  below ``windows.off_peak_occupancy`` throughout (an hour that ramps up into the peak is not off-peak).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from parking.simulator_messages import (
    Factor,
    GroupToday,
    KpisNow,
    KpisToday,
    LiveKpis,
    Saved,
    TwinCount,
    TwinShare,
)
from simulator.demand import DAY_S, HOUR_S
from simulator.grid import Network, attractor_points
from simulator.scenario import Scenario

if TYPE_CHECKING:
    from simulator.engine import Engine

FIVE_MIN_S = 300.0


def co2_g_per_km(scenario: Scenario) -> float:
    e = scenario.emissions
    return e.fleet_g_per_km * e.stop_and_go_factor * (1.0 - e.ev_share)


def factors(scenario: Scenario) -> dict[str, Any]:
    """The factors behind every derived figure, each with its source."""
    names = (
        "emissions.fleet_g_per_km",
        "emissions.stop_and_go_factor",
        "emissions.ev_share",
        "search.speed_kmh",
    )
    out: dict[str, Any] = {}
    for path in names:
        section, key = path.split(".")
        out[path] = {"value": getattr(getattr(scenario, section), key), "source": scenario.source(path)}
    out["co2_g_per_search_km"] = {
        "value": co2_g_per_km(scenario),
        "source": "fleet_g_per_km × stop_and_go_factor × (1 − ev_share)",
    }
    return out


def search_stats(search_m: np.ndarray, gave_up: np.ndarray, scenario: Scenario) -> dict[str, Any]:
    """The headline figures of a set of parking searches (None where there are none)."""
    n = int(search_m.size)
    if n == 0:
        keys = (
            "mean_search_min",
            "median_search_min",
            "share_over_5min",
            "share_no_search",
            "mean_search_km",
            "co2_g_per_search",
            "share_gave_up",
        )
        return {"searches": 0, **dict.fromkeys(keys)}
    speed = scenario.search.speed_kmh / 3.6
    minutes = search_m / speed / 60.0
    km = search_m / 1000.0
    return {
        "searches": n,
        "mean_search_min": float(minutes.mean()),
        "median_search_min": float(np.median(minutes)),
        "share_over_5min": float((search_m / speed > FIVE_MIN_S).mean()),
        "share_no_search": float((search_m <= 0).mean()),
        "mean_search_km": float(km.mean()),
        "co2_g_per_search": float(km.mean() * co2_g_per_km(scenario)),
        "share_gave_up": float(gave_up.mean()),
    }


def relative_change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return after / before - 1.0


def hourly_occupancy(engine: Engine, n_hours: int) -> np.ndarray:
    """Mean search-area occupancy in each of the first ``n_hours`` simulated clock hours."""
    s = engine.samples.arrays()
    keep = s["t"] < n_hours * HOUR_S
    hour = (s["t"][keep] // HOUR_S).astype(int)
    total = np.bincount(hour, weights=s["core_occupied"][keep], minlength=n_hours)
    count = np.bincount(hour, minlength=n_hours)
    return np.asarray(np.where(count > 0, total / np.maximum(count, 1) / engine.n_core, 0.0))


def hourly_max_occupancy(engine: Engine, n_hours: int) -> np.ndarray:
    """Highest search-area occupancy sampled in each of the first ``n_hours`` simulated clock hours."""
    s = engine.samples.arrays()
    keep = s["t"] < n_hours * HOUR_S
    hour = (s["t"][keep] // HOUR_S).astype(int)
    out = np.zeros(n_hours)
    np.maximum.at(out, hour, s["core_occupied"][keep] / engine.n_core)
    return out


def hour_index(t: np.ndarray) -> np.ndarray:
    return np.asarray((t // HOUR_S).astype(int))


def in_hours(t: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Which arrivals fall in the selected clock hours (a boolean per simulated hour)."""
    index = hour_index(t)
    ok = index < hours.size
    mask = np.zeros(t.size, dtype=bool)
    mask[ok] = hours[index[ok]]
    return mask


def occupancy_curve(
    records: dict[str, np.ndarray], scenario: Scenario, width: float = 0.05
) -> list[dict[str, Any]]:
    """Mean search time by search-area occupancy at arrival, in bins of ``width``."""
    speed = scenario.search.speed_kmh / 3.6
    occupancy, minutes = records["occupancy"], records["search_m"] / speed / 60.0
    edges = np.round(np.arange(0.0, 1.0 + width, width), 6)
    out: list[dict[str, Any]] = []
    for low, high in itertools.pairwise(edges):
        mask = (occupancy >= low) & ((occupancy < high) if high < 1.0 else (occupancy <= high))
        if mask.any():
            out.append(
                {
                    "occupancy": float((low + high) / 2),
                    "mean_search_min": float(minutes[mask].mean()),
                    "searches": int(mask.sum()),
                }
            )
    return out


def mean_search_near(curve: list[dict[str, Any]], occupancy: float, min_searches: int = 20) -> float | None:
    """The curve's value at the bin containing ``occupancy`` (None if too few searches there)."""
    for point in curve:
        if abs(point["occupancy"] - occupancy) < 0.025 + 1e-9 and point["searches"] >= min_searches:
            return float(point["mean_search_min"])
    return None


def histogram(
    search_m: np.ndarray, scenario: Scenario, step_min: float = 0.5, top_min: float = 15.0
) -> dict[str, Any]:
    speed = scenario.search.speed_kmh / 3.6
    minutes = np.minimum(search_m / speed / 60.0, top_min)
    edges = np.arange(0.0, top_min + step_min, step_min)
    counts, _ = np.histogram(minutes, bins=edges)
    share = counts / max(int(search_m.size), 1)
    return {"bin_start_min": edges[:-1].tolist(), "bin_width_min": step_min, "share": share.tolist()}


def by_clock_hour(records: dict[str, np.ndarray], scenario: Scenario, days: int) -> dict[str, list[float]]:
    """Search km and CO2 per clock hour of the day, averaged over the simulated days."""
    hour = (records["t_arrival"] % DAY_S // HOUR_S).astype(int)
    km = np.bincount(hour, weights=records["search_m"] / 1000.0, minlength=24)[:24] / max(days, 1)
    searches = np.bincount(hour, minlength=24)[:24] / max(days, 1)
    return {
        "hour": list(range(24)),
        "search_km": km.tolist(),
        "co2_kg": (km * co2_g_per_km(scenario) / 1000.0).tolist(),
        "arrivals": searches.tolist(),
    }


def searching_share(
    records: dict[str, np.ndarray], hours: np.ndarray, engine: Engine, scenario: Scenario
) -> float | None:
    """Share of the cars moving in the search area that are searching, over the selected hours.

    Vehicle-time in the area: searching cars (the simulated search), parkers' approach and departure
    (the simulated approach, plus driving between the area's edge and their destination at the
    background speed), and other traffic (``traffic.background_veh_per_h_per_street`` on every face of
    the area at the busiest hour, following the visitor profile through the day).
    """
    mask = in_hours(records["t_arrival"], hours)
    if not mask.any():
        return None
    net = engine.net
    speed = scenario.search.speed_kmh / 3.6
    background_speed = scenario.traffic.background_speed_kmh / 3.6
    radius = scenario.space.search_area_radius_m
    searching = float(records["search_m"][mask].sum() / speed)
    edge = np.maximum(radius - records["dest_r"][mask], 0.0)
    # the approach from the town entrance is simulated; the drive out again is not
    parkers = float((records["approach_m"][mask] / speed).sum() + (edge / background_speed).sum())
    centres = attractor_points(net.centre, scenario.space)
    area_faces = [s for s in range(net.n_segments) if _face_in_area(net, s, centres, radius)]
    area_km = sum(net.seg_len[s] for s in area_faces) / 1000.0
    background = 0.0
    for index in np.flatnonzero(hours):
        day, hour = divmod(int(index), 24)
        level = _profile_level(engine, day, hour)
        flow = scenario.traffic.background_veh_per_h_per_street * level
        background += flow * area_km / (background_speed * 3.6) * HOUR_S
    total = searching + parkers + background
    return searching / total if total > 0 else None


def _face_in_area(
    net: Network, s: int, centres: list[tuple[float, float, float, float]], radius: float
) -> bool:
    x, y = net.seg_mid(s)
    return any(math.hypot(x - cx, y - cy) <= radius for cx, cy, _sigma, _weight in centres)


def _profile_level(engine: Engine, day: int, hour: int) -> float:
    """The hour's visitor arrivals relative to the busiest weekday hour."""
    visitors = engine.demand.expected_per_hour(day)[0]
    weekday_peak = max(engine.demand.expected_per_hour(_first_weekday(engine))[0].max(), 1e-9)
    return float(visitors[hour] / weekday_peak)


def _first_weekday(engine: Engine) -> int:
    for day in range(7):
        if (engine.first_day.toordinal() + day) % 7 in (1, 2, 3, 4, 5):  # Mon..Fri (ordinal 1 = Monday)
            return day
    return 0


# ----------------------------------------------------------------------------- live figures


class TwinTown(Protocol):
    """What the live figures read of one twin (``simulator.engine.Engine`` provides it)."""

    @property
    def t(self) -> float: ...
    @property
    def daily(self) -> Mapping[int, Any]: ...
    @property
    def net(self) -> Network: ...
    @property
    def searching(self) -> Sequence[int]: ...
    @property
    def on_road(self) -> int: ...
    @property
    def occupied(self) -> int: ...
    @property
    def core_occupied(self) -> int: ...
    @property
    def n_core(self) -> int: ...


class TwinRun(Protocol):
    """What the live figures read of a live simulation (``simulator.engine.Simulation`` provides it;
    typed here so that the engine need not know the figures: no import circle)."""

    @property
    def scenario(self) -> Scenario: ...
    @property
    def with_sensors(self) -> TwinTown: ...
    @property
    def without_sensors(self) -> TwinTown: ...
    @property
    def t_s(self) -> float: ...
    def now(self) -> datetime: ...


def live_kpis(sim: TwinRun) -> LiveKpis:
    """The figures of a live simulation as the status message carries them.

    "Without sensors" is the twin town (the same drivers, nobody steered); the guided and unguided
    groups are the steered and the other drivers of the town with sensors.
    """
    scenario = sim.scenario
    run, twin = sim.with_sensors, sim.without_sensors
    ef = co2_g_per_km(scenario)
    speed_m_per_min = scenario.search.speed_kmh / 3.6 * 60.0
    day = int(run.t // DAY_S)

    def group(totals: Any, groups: tuple[int, ...]) -> GroupToday:
        n = sum(totals.searches[g] for g in groups) if totals else 0
        metres = sum(totals.search_m[g] for g in groups) if totals else 0.0
        return GroupToday(
            searches=n,
            mean_search_min=metres / n / speed_m_per_min if n else None,
            search_km=metres / 1000.0,
            co2_g=metres / 1000.0 * ef,
            share_no_search=sum(totals.no_search[g] for g in groups) / n if n else None,
            gave_up=sum(totals.gave_up[g] for g in groups) if totals else 0,
            to_garage=sum(totals.to_garage[g] for g in groups) if totals else 0,
            guidance_misses=sum(totals.misses[g] for g in groups) if totals else 0,
        )

    today, twin_today = run.daily.get(day), twin.daily.get(day)
    with_sensors, without = group(today, (0, 1)), group(twin_today, (0, 1))
    saved = None
    if with_sensors.searches and without.searches:
        # per search, so that drivers still on the road in one twin and finished in the other do not count
        n = min(with_sensors.searches, without.searches)
        km = (without.search_km / without.searches - with_sensors.search_km / with_sensors.searches) * n
        saved = Saved(search_min=km * 1000.0 / speed_m_per_min, km=km, co2_kg=km * ef / 1000.0)

    def count(town: TwinTown) -> int:
        return town.searching[0] + town.searching[1]

    n_bays = max(run.net.n_bays, 1)
    return LiveKpis(
        t_s=sim.t_s,
        sim_time=sim.now().isoformat(),
        now=KpisNow(
            searching=TwinCount(without_sensors=count(twin), with_sensors=count(run)),
            on_road=TwinCount(without_sensors=twin.on_road, with_sensors=run.on_road),
            occupancy=TwinShare(without_sensors=twin.occupied / n_bays, with_sensors=run.occupied / n_bays),
            search_area_occupancy=TwinShare(
                without_sensors=twin.core_occupied / twin.n_core,
                with_sensors=run.core_occupied / run.n_core,
            ),
        ),
        today=KpisToday(
            without_sensors=without,
            with_sensors=with_sensors,
            guided=group(today, (1,)),
            unguided=group(today, (0,)),
            saved=saved,
        ),
        factors={name: Factor.model_validate(factor) for name, factor in factors(scenario).items()},
    )
