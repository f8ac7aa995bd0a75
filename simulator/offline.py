"""Offline runs: the twin towns over whole days, the figures saved, and the report's sweeps.

Both twins of one call have the same entropy, so they meet the same drivers making the same
choices (common random numbers); they differ only where steering changes a decision. "Saved" is
always the twin without sensors minus the town with sensors, over the drivers arriving in the
window, so positive means the sensors helped, and with nobody steered it is exactly 0.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from tqdm import tqdm

from parking.registry import Site
from simulator import metrics
from simulator.collector import collector_paused
from simulator.demand import DAY_S, HOUR_S
from simulator.engine import Engine, TwinName, preset_date, preset_scenario, seed_entropy, twin_engines
from simulator.grid import Network, build_network
from simulator.scenario import Scenario, SteeringMode

PROGRESS_DELAY_S = 2.0  # no bar for runs shorter than this
TAIL_S = 2 * HOUR_S  # after the last day, until every driver of it has parked or left
FIGURES = ("search_min", "km", "co2_kg")


@dataclass(frozen=True, slots=True)
class SweepPoint:
    value: float
    figures: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What an offline run simulates: the scenario as set for it, and which days."""

    scenario: Scenario
    preset: str | None  # None: consecutive calendar days from run.start_date
    first_day: date
    day_kind: str | None  # with a preset every day is of its kind (dates a week apart)
    days: int

    def dates(self) -> list[date]:
        step = 7 if self.day_kind else 1
        return [self.first_day + timedelta(days=step * d) for d in range(self.days)]


def settings_for(
    scenario: Scenario,
    days: int,
    preset: str | None = None,
    steering: SteeringMode | None = None,
    share: float | None = None,
    latency_s: float | None = None,
    demand_factor: float | None = None,
) -> RunSettings:
    """The scenario with a preset and the command line's settings applied (ValueError on a bad value)."""
    if preset is not None:
        chosen = scenario.preset(preset)
        first_day, kind = preset_date(scenario, chosen), chosen.day
        scenario = preset_scenario(scenario, chosen)
    else:
        first_day, kind = scenario.run.start_date, None
    if steering is not None or share is not None:
        scenario = scenario.with_steering(steering, share)
    if latency_s is not None:
        if not 0.0 <= latency_s <= 86_400.0:
            raise ValueError(f"sensor latency must be within 0..86400 s, got {latency_s}")
        scenario = scenario.with_guidance(latency_s=latency_s)
    if demand_factor is not None:
        scenario = scenario.with_demand_factor(demand_factor)
    return RunSettings(scenario, preset, first_day, kind, days)


def run_twins(
    settings: RunSettings,
    network: Network,
    seed: int,
    tick: Callable[[float], None] | None = None,
) -> dict[TwinName, Engine]:
    """Both twins over the settings' days (and the tail), with records."""
    twins = twin_engines(
        settings.scenario, network, seed_entropy(seed), settings.first_day, day_kind=settings.day_kind
    )
    with collector_paused():
        for engine in twins.values():
            run(engine, settings.days, tick or (lambda _h: None))
            engine.run_until(settings.days * DAY_S + TAIL_S)
    return twins


def run(engine: Engine, days: int, tick: Callable[[float], None]) -> Engine:
    for hour in range(1, days * 24 + 1):
        engine.run_until(hour * HOUR_S)
        tick(1.0)
    return engine


@contextmanager
def progress_bar(total_hours: float, enabled: bool) -> Iterator[Callable[[float], None]]:
    bar = tqdm(
        total=total_hours,
        unit="sim-h",
        desc="simulating",
        delay=PROGRESS_DELAY_S,
        # None: only on a terminal, so a log file or a pipe does not fill with bar redraws.
        disable=None if enabled else True,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
    try:
        yield bar.update
    finally:
        bar.close()


# ----------------------------------------------------------------------------- saved figures


def _band(values: np.ndarray) -> dict[str, float]:
    return {
        "mean": float(values.mean()),
        "p10": float(np.quantile(values, 0.1)),
        "p90": float(np.quantile(values, 0.9)),
    }


@dataclass(frozen=True, slots=True)
class SavedDays:
    """Twin minus run per day and per clock hour of arrival (columns: search_min, km, co2_kg)."""

    dates: list[date]
    per_day: np.ndarray  # (days, 3)
    per_hour: np.ndarray  # (days, 24, 3)
    curve: list[dict[str, Any]]

    def band_day(self) -> dict[str, dict[str, float]]:
        """Mean and 10-90 % band over the days of each daily figure."""
        return {name: _band(self.per_day[:, k]) for k, name in enumerate(FIGURES)}

    def band_hours(self) -> list[dict[str, Any]]:
        return [
            {"hour": hour, **{name: _band(self.per_hour[:, hour, k]) for k, name in enumerate(FIGURES)}}
            for hour in range(24)
        ]

    def per_day_list(self) -> list[dict[str, Any]]:
        return [
            {"date": day.isoformat(), **{name: float(row[k]) for k, name in enumerate(FIGURES)}}
            for day, row in zip(self.dates, self.per_day, strict=True)
        ]

    def per_hour_list(self) -> list[dict[str, Any]]:
        """Each clock hour's total over the whole run."""
        total = self.per_hour.sum(axis=0)
        return [
            {"hour": hour, **{name: float(total[hour, k]) for k, name in enumerate(FIGURES)}}
            for hour in range(24)
        ]


def saved_figures(twins: dict[TwinName, Engine], settings: RunSettings) -> SavedDays:
    """Per day and per hour: twin minus run over the drivers arriving then (positive = sensors helped)."""
    scenario = settings.scenario
    speed_m_per_min = scenario.search.speed_kmh / 3.6 * 60.0
    ef = metrics.co2_g_per_km(scenario)
    days = settings.days
    totals = []
    for name in ("without_sensors", "with_sensors"):
        records = twins[name].record_arrays()
        keep = records["t_arrival"] < days * DAY_S
        slot = (records["t_arrival"][keep] // HOUR_S).astype(int)
        metres = np.bincount(slot, weights=records["search_m"][keep], minlength=days * 24)[: days * 24]
        totals.append(metres.reshape(days, 24))
    saved_m = totals[0] - totals[1]
    per_hour = np.stack(
        [saved_m / speed_m_per_min, saved_m / 1000.0, saved_m / 1000.0 * ef / 1000.0], axis=-1
    )
    return SavedDays(settings.dates(), per_hour.sum(axis=1), per_hour, twin_curve(twins, scenario))


def twin_curve(twins: dict[TwinName, Engine], scenario: Scenario) -> list[dict[str, Any]]:
    """Mean search time by search-area occupancy at arrival, both twins, bins of 5 %."""
    curves = {
        name: metrics.occupancy_curve(engine.record_arrays(), scenario) for name, engine in twins.items()
    }
    by_bin: dict[float, dict[str, Any]] = {}
    for name, curve in curves.items():
        for point in curve:
            entry = by_bin.setdefault(
                point["occupancy"],
                {"occupancy": point["occupancy"], "without_sensors_min": None, "with_sensors_min": None},
            )
            entry[f"{name}_min"] = point["mean_search_min"]
            if name == "without_sensors":
                entry["searches"] = point["searches"]
    return [{"searches": 0, **by_bin[key]} for key in sorted(by_bin)]


def saved_days(
    scenario: Scenario,
    site: Site,
    seed: int,
    days: int,
    preset: str | None = None,
    steering: SteeringMode | None = None,
    share: float | None = None,
    latency_s: float | None = None,
    demand_factor: float | None = None,
    network: Network | None = None,
) -> SavedDays:
    """N days of the preset's kind (default preset if None) with these settings: what the sensors saved."""
    settings = settings_for(
        scenario, days, preset or scenario.default_preset, steering, share, latency_s, demand_factor
    )
    net = network or build_network(site, scenario.space)
    return saved_figures(run_twins(settings, net, seed), settings)


# ----------------------------------------------------------------------------- the report's runs


@dataclass(frozen=True, slots=True)
class OfflineResult:
    settings: RunSettings
    site: Site
    network: Network
    seed: int
    without_sensors: Engine
    with_sensors: Engine
    saved: SavedDays
    sweep_days: int
    latency_sweep: list[SweepPoint]
    share_sweep: list[SweepPoint]

    @property
    def scenario(self) -> Scenario:
        return self.settings.scenario

    @property
    def days(self) -> int:
        return self.settings.days


def run_offline(
    scenario: Scenario,
    site: Site,
    seed: int,
    days: int,
    progress: bool = True,
    *,
    settings: RunSettings | None = None,
) -> OfflineResult:
    settings = settings or settings_for(scenario, days)
    scenario = settings.scenario
    network = build_network(site, scenario.space)
    report = scenario.report
    sweep_days = min(settings.days, report.sweep_days)
    sweep_settings = RunSettings(scenario, settings.preset, settings.first_day, settings.day_kind, sweep_days)
    total = 24.0 * (2 * days + 2 * sweep_days * (len(report.sweep_latencies_s) + len(report.sweep_shares)))

    with progress_bar(total, progress) as tick:
        twins = run_twins(settings, network, seed, tick)
        saved = saved_figures(twins, settings)
        baseline = _window(twins["without_sensors"], scenario, sweep_days)

        def point(varied: Scenario) -> dict[str, Any]:
            pair = run_twins(
                RunSettings(varied, settings.preset, settings.first_day, settings.day_kind, sweep_days),
                network,
                seed,
                tick,
            )
            return _sweep_figures(pair["with_sensors"], baseline)

        latency_sweep = [
            SweepPoint(
                latency,
                point(
                    scenario.with_steering(share=report.sweep_latency_share).with_guidance(latency_s=latency)
                ),
            )
            for latency in report.sweep_latencies_s
        ]
        share_sweep = [
            SweepPoint(share, point(scenario.with_steering(share=share))) for share in report.sweep_shares
        ]
    del sweep_settings
    return OfflineResult(
        settings,
        site,
        network,
        seed,
        twins["without_sensors"],
        twins["with_sensors"],
        saved,
        sweep_days,
        latency_sweep,
        share_sweep,
    )


@dataclass(frozen=True, slots=True)
class _Window:
    """The twin without sensors over the sweep days, and its peak hours."""

    scenario: Scenario
    days: int
    peak: Any
    stats: dict[str, Any]


def _window(without: Engine, scenario: Scenario, days: int) -> _Window:
    occupancy = metrics.hourly_occupancy(without, days * 24)
    peak = occupancy >= scenario.windows.peak_occupancy
    records = without.record_arrays()
    mask = metrics.in_hours(records["t_arrival"], peak) & (records["t_arrival"] < days * DAY_S)
    return _Window(
        scenario,
        days,
        peak,
        metrics.search_stats(records["search_m"][mask], records["gave_up"][mask], scenario),
    )


def _sweep_figures(engine: Engine, baseline: _Window) -> dict[str, Any]:
    records = engine.record_arrays()
    mask = metrics.in_hours(records["t_arrival"], baseline.peak) & (
        records["t_arrival"] < baseline.days * DAY_S
    )
    stats = metrics.search_stats(records["search_m"][mask], records["gave_up"][mask], baseline.scenario)
    base = baseline.stats
    guided = records["guided"][mask]
    return {
        "mean_search_min": stats["mean_search_min"],
        "mean_search_km": stats["mean_search_km"],
        "search_time_change": metrics.relative_change(base["mean_search_min"], stats["mean_search_min"]),
        "search_km_change": metrics.relative_change(base["mean_search_km"], stats["mean_search_km"]),
        "co2_g_saved_per_search": (
            base["co2_g_per_search"] - stats["co2_g_per_search"]
            if stats["searches"] and base["searches"]
            else None
        ),
        "guidance_misses_per_guided_search": (
            float(records["misses"][mask][guided].mean()) if guided.any() else None
        ),
    }
