"""Calibration: run the default scenario and hold its figures against targets T1-T5.

The targets are those of docs/research.md §7. Where §7 gives a value with "≈" rather than a band,
the band used here is stated in the table (and in docs/simulator.md). The twins are simulated over
``CALIBRATION_DAYS`` from a Monday: the town without sensors (the baseline for T1, T2, T4, T5) and the
same drivers with most of them (``MOST_GUIDED``, 95 %) using the app at the scenario's sensor latency (T3
and the savings of T4: "most drivers guided").

Two measures of search, each where its source measured it:

* the **search path** (T1, T3's changes, T4's CO2 per search): metres from where the driver starts
  searching (its route enters ``search.search_radius_m`` around the destination) to its bay, as the
  start2park GPS app records a search from the moment the driver starts looking (docs/research.md §1c),
  and as Köln-Nippes' test drives compared search time and route (§1d);
* the **search beyond the direct route** (the model's search measure, ``search_m``: what sensors can
  save): T1's arrivals without a search (parked on the way, no metre beyond the direct route), T2's shape
  against occupancy (cruising, §3), T3 off-peak, T4's savings and T5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from parking.registry import Site
from simulator import metrics, offline
from simulator.demand import DAY_S, HOUR_S, day_type
from simulator.engine import Engine, seed_entropy, twin_engines
from simulator.grid import build_network
from simulator.scenario import Scenario

CALIBRATION_DAYS = 56  # eight weeks: with four, single seeds' Saturdays decide too much (docs/simulator.md)
# §7 T3/T4 "most drivers guided": 95 % use the app. Köln-Nippes' test drives all followed the displays
# (§1d), but a whole town's drivers never all do; with 100 % the heavier seeds' saving per guided search
# ends above the band.
MOST_GUIDED = 0.95


@dataclass(frozen=True, slots=True)
class Check:
    target: str
    name: str
    measured: float | None
    low: float | None
    high: float | None
    unit: str
    source: str

    @property
    def passed(self) -> bool:
        if self.measured is None:
            return False
        return (self.low is None or self.measured >= self.low) and (
            self.high is None or self.measured <= self.high
        )

    def band(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{_fmt(self.low, self.unit)} … {_fmt(self.high, self.unit)}"
        if self.low is not None:
            return f"≥ {_fmt(self.low, self.unit)}"
        assert self.high is not None
        return f"≤ {_fmt(self.high, self.unit)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "name": self.name,
            "measured": self.measured,
            "low": self.low,
            "high": self.high,
            "unit": self.unit,
            "passed": self.passed,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Calibration:
    scenario: str
    seed: int
    days: int
    checks: list[Check]
    context: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "days": self.days,
            "passed": self.passed,
            "checks": [c.as_dict() for c in self.checks],
            "context": self.context,
        }


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.1f} %" if abs(value) >= 0.01 else f"{value * 100:.3f} %"
    if unit == "×":
        return f"{value:.1f}×"
    return f"{value:.2f} {unit}".rstrip()


def run_pair(
    scenario: Scenario,
    site: Site,
    seed: int,
    days: int,
    share: float,
    latency_s: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Engine, Engine]:
    """The twins: the same drivers without sensors and with ``share`` of them using the app."""
    network = build_network(site, scenario.space)
    tick = progress or (lambda _hours: None)
    app = scenario.with_steering("app", share).with_guidance(latency_s=latency_s)
    twins = twin_engines(app, network, seed_entropy(seed), scenario.run.start_date)
    for engine in twins.values():
        offline.run(engine, days, tick)
    return twins["without_sensors"], twins["with_sensors"]


def calibrate(
    scenario: Scenario,
    site: Site,
    seed: int = 1,
    progress: Callable[[float], None] | None = None,
    days: int = CALIBRATION_DAYS,
) -> Calibration:
    baseline, guided = run_pair(scenario, site, seed, days, MOST_GUIDED, progress=progress)
    base, full = baseline.record_arrays(), guided.record_arrays()
    occupancy = metrics.hourly_occupancy(baseline, days * 24)
    peak = occupancy >= scenario.windows.peak_occupancy
    # off-peak: hours that stay below the threshold throughout, not the hour that ramps up into a peak
    off_peak = metrics.hourly_max_occupancy(baseline, days * 24) < scenario.windows.off_peak_occupancy
    base_peak = metrics.in_hours(base["t_arrival"], peak)
    full_peak = metrics.in_hours(full["t_arrival"], peak)
    b = metrics.search_stats(base["path_m"][base_peak], base["gave_up"][base_peak], scenario)
    g = metrics.search_stats(full["path_m"][full_peak], full["gave_up"][full_peak], scenario)
    no_search = float((base["search_m"][base_peak] <= 0).mean()) if base_peak.any() else None
    beyond_b = float(base["search_m"][base_peak].mean()) if base_peak.any() else None
    beyond_g = float(full["search_m"][full_peak].mean()) if full_peak.any() else None
    speed_m_per_min = scenario.search.speed_kmh / 3.6 * 60.0

    curve = metrics.occupancy_curve(base, scenario)
    below_80 = base["occupancy"] < 0.80
    at_60 = metrics.mean_search_near(curve, 0.60)
    at_95 = metrics.mean_search_near(curve, 0.95)
    ratio = at_95 / max(at_60, 0.01) if at_95 is not None and at_60 is not None else None
    quiet = _quiet_arrivals(base["t_arrival"], scenario)

    base_off = metrics.in_hours(base["t_arrival"], off_peak)
    full_off = metrics.in_hours(full["t_arrival"], off_peak)
    off_change = None
    if base_off.any() and full_off.any():
        off_change = (
            float(full["search_m"][full_off].mean() - base["search_m"][base_off].mean()) / speed_m_per_min
        )

    ef = metrics.co2_g_per_km(scenario)
    saving_g = (beyond_b - beyond_g) / 1000.0 * ef if beyond_b is not None and beyond_g is not None else None
    saved_t_year = (base["search_m"].sum() - full["search_m"].sum()) / 1000.0 * ef / 1e6 * 365.0 / days
    town_t_year = scenario.traffic.catchment_population * scenario.traffic.car_co2_t_per_inhabitant_year
    town_share = saved_t_year / town_t_year if town_t_year > 0 else None
    cruising = metrics.searching_share(base, peak, baseline, scenario)

    daily_peak = _daily_peaks(occupancy, scenario, days)
    time_change = metrics.relative_change(b["mean_search_min"], g["mean_search_min"])
    km_change = metrics.relative_change(b["mean_search_km"], g["mean_search_km"])
    calm = _mean_minutes(base, below_80, scenario)
    quiet_search = _mean_minutes(base, quiet, scenario)
    t0 = "docs/research.md §6.2: search area peaks ≈ 90 % on weekdays, ≈ 95 % on Saturdays, ≤ 60 % on Sundays"
    t1, t2, t3, t4, t5 = (
        "start2park GPS (mean 2:05, median 1:13, 9 % > 5 min, 16-34 % without search, ≈ 350 m)",
        "Levy et al. 2013; Fulman & Benenson 2018; SFpark/Shoup 85 % rule; BASt 1993",
        "Köln-Nippes −45 % time / −41 % route; SFpark −43 % time, −30 % VMT; PARKAGENT, BASt 1993 off-peak",
        "Destatis 179 g/km × 1.3 stop-and-go; NPM/VDA 0.4-0.9 Mt of 115 Mt (< 1 %)",
        "Bischoff & Nagel 2017 (up to 20 %); Leonberg; Shoup/FHWA caveats on 30 %",
    )
    checks = [
        Check("T1", "day peak 6-24 h, weekdays (≈ 90 %)", daily_peak["weekday"], 0.87, 0.93, "%", t0),
        Check("T1", "day peak 6-24 h, Saturdays (≈ 95 %)", daily_peak["saturday"], 0.92, 0.98, "%", t0),
        Check("T1", "day peak 6-24 h, Sundays (≤ 60 %)", daily_peak["sunday"], None, 0.60, "%", t0),
        Check("T1", "mean search path time, no guidance, peak", b["mean_search_min"], 1.5, 3.0, "min", t1),
        Check("T1", "median search path time (≈ 1.2 min)", b["median_search_min"], 0.8, 1.8, "min", t1),
        Check("T1", "search paths over 5 min (≈ 10 %)", b["share_over_5min"], 0.05, 0.15, "%", t1),
        Check("T1", "arrivals without a search (parked on the way)", no_search, 0.15, 0.35, "%", t1),
        Check("T1", "search path (≈ 350 m)", b["mean_search_km"], 0.25, 0.50, "km", t1),
        Check("T2", "mean search below 80 % occupancy", calm, None, 0.5, "min", t2),
        Check("T2", "search at 95 % ÷ search at 60 % occupancy", ratio, 3.0, None, "×", t2),
        Check("T2", "mean search on Sundays and after 19:00", quiet_search, None, 0.5, "min", t2),
        Check("T3", "search path time change, 95 % guided, peak", time_change, -0.45, -0.25, "%", t3),
        Check("T3", "search path change, 95 % guided, peak", km_change, -0.40, -0.30, "%", t3),
        Check("T3", "search time change off-peak (< 80 %)", off_change, -0.1, 0.1, "min", t3),
        Check("T4", "CO2 per search path, no guidance, peak", b["co2_g_per_search"], 60.0, 90.0, "g", t4),
        Check("T4", "CO2 saved per guided search, peak", saving_g, 20.0, 30.0, "g", t4),
        Check("T4", "CO2 saved ÷ the town's car CO2 (95 % guided)", town_share, None, 0.01, "%", t4),
        Check("T5", "share of moving cars in the area that search, peak", cruising, 0.05, 0.20, "%", t5),
    ]  # fmt: skip
    context = {
        "peak_hours": int(peak.sum()),
        "search_area_occupancy_in_peak_hours": _mean(occupancy[peak]),
        "off_peak_hours": int(off_peak.sum()),
        "peak_searches": b["searches"],
        "search_at_60_pct_min": at_60,
        "search_at_95_pct_min": at_95,
        "saved_t_co2_per_year_guided": float(saved_t_year),
        "town_car_t_co2_per_year": float(town_t_year),
        "guidance_misses_per_guided_search": float(full["misses"].mean()) if full["misses"].size else None,
        "gave_up_share_peak": b["share_gave_up"],
        "search_beyond_direct_route_min_peak": beyond_b / speed_m_per_min if beyond_b is not None else None,
    }
    return Calibration(scenario.name, seed, days, checks, context)


DAY_FROM_HOUR = 6  # a day's peak is looked for from 6 h: the night belongs to the evening before


def _daily_peaks(occupancy: np.ndarray, scenario: Scenario, days: int) -> dict[str, float | None]:
    """Mean over days of each day's highest hourly search-area occupancy from 6 h on, by kind of day.

    Residents who came home the evening before are still parked until the early morning: a Sunday's
    occupancy at 0-5 h is Saturday night's, not the Sunday demand §6.2's "≤ 60 %" is about.
    """
    hours = np.zeros(days * 24)
    hours[: min(occupancy.size, hours.size)] = occupancy[: hours.size]
    peaks = hours.reshape(days, 24)[:, DAY_FROM_HOUR:].max(axis=1)
    kinds = np.array([day_type(scenario.run.start_date + timedelta(days=d)) for d in range(days)])
    return {kind: _mean(peaks[kinds == kind]) for kind in ("weekday", "saturday", "sunday")}


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _mean_minutes(records: dict[str, np.ndarray], mask: np.ndarray, scenario: Scenario) -> float | None:
    if not mask.any():
        return None
    return float(records["search_m"][mask].mean() / (scenario.search.speed_kmh / 3.6 * 60.0))


def _quiet_arrivals(t_arrival: np.ndarray, scenario: Scenario) -> np.ndarray:
    """Arrivals on Sundays, or after 19:00 on any day."""
    day = (t_arrival // DAY_S).astype(int)
    sunday = np.array(
        [day_type(scenario.run.start_date + timedelta(days=int(d))) == "sunday" for d in day], dtype=bool
    )
    evening = (t_arrival % DAY_S) >= 19 * HOUR_S
    return np.asarray(sunday | evening)


def format_table(result: Calibration) -> str:
    rows = [("", "target", "measured", "band", "")]
    for c in result.checks:
        measured = _fmt(c.measured, c.unit) if c.measured is not None else "n/a"
        rows.append((c.target, c.name, measured, c.band(), "pass" if c.passed else "FAIL"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        f"Calibration of scenario {result.scenario!r} against docs/research.md §7 "
        f"(seed {result.seed}, {result.days} days from Monday; baseline without guidance, T3/T4 savings with "
        f"{MOST_GUIDED:.0%} of the drivers guided)",
        "",
    ]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    passed = sum(c.passed for c in result.checks)
    lines.append("")
    verdict = "all targets met" if result.passed else "NOT calibrated"
    lines.append(f"{passed} of {len(result.checks)} checks pass: {verdict}")
    return "\n".join(lines)
