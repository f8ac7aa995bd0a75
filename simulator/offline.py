"""Offline runs: the same drivers with and without guidance over whole days, and the sweeps.

Every run of one call gets the same seed, so every run sees the same drivers (arrival times,
destinations, dwell times and who would follow guidance). Only what guidance changes differs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from parking.registry import Site
from simulator import metrics
from simulator.demand import DAY_S, HOUR_S
from simulator.engine import Engine, seed_entropy
from simulator.grid import Network, build_network
from simulator.scenario import Scenario

PROGRESS_DELAY_S = 2.0  # no bar for runs shorter than this


@dataclass(frozen=True, slots=True)
class SweepPoint:
    value: float
    figures: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OfflineResult:
    scenario: Scenario
    site: Site
    network: Network
    seed: int
    days: int
    unguided: Engine
    guided: Engine
    sweep_days: int
    latency_sweep: list[SweepPoint]
    share_sweep: list[SweepPoint]


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
        disable=not enabled,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
    try:
        yield bar.update
    finally:
        bar.close()


def run_offline(scenario: Scenario, site: Site, seed: int, days: int, progress: bool = True) -> OfflineResult:
    network = build_network(site, scenario.space)
    entropy = seed_entropy(seed)
    start = scenario.run.start_date
    settings = scenario.report
    sweep_days = min(days, settings.sweep_days)
    total = 24.0 * (2 * days + sweep_days * (len(settings.sweep_latencies_s) + len(settings.sweep_shares)))

    def engine(share: float, latency_s: float | None = None) -> Engine:
        return Engine(scenario.with_guidance(share, latency_s), network, entropy, start)

    with progress_bar(total, progress) as tick:
        unguided = run(engine(0.0), days, tick)
        guided = run(engine(scenario.guidance.share), days, tick)
        baseline = _window(unguided, scenario, sweep_days)
        latency_sweep = [
            SweepPoint(
                latency,
                _sweep_figures(
                    run(engine(settings.sweep_latency_share, latency), sweep_days, tick), baseline
                ),
            )
            for latency in settings.sweep_latencies_s
        ]
        share_sweep = [
            SweepPoint(share, _sweep_figures(run(engine(share), sweep_days, tick), baseline))
            for share in settings.sweep_shares
        ]
    return OfflineResult(
        scenario, site, network, seed, days, unguided, guided, sweep_days, latency_sweep, share_sweep
    )


@dataclass(frozen=True, slots=True)
class _Window:
    """The baseline (no guidance) of the sweep days, and its peak hours."""

    scenario: Scenario
    days: int
    peak: Any
    stats: dict[str, Any]


def _window(unguided: Engine, scenario: Scenario, days: int) -> _Window:
    occupancy = metrics.hourly_occupancy(unguided, days * 24)
    peak = occupancy >= scenario.windows.peak_occupancy
    records = unguided.record_arrays()
    mask = metrics.in_hours(records["t_arrival"], peak) & (records["t_arrival"] < days * DAY_S)
    return _Window(
        scenario,
        days,
        peak,
        metrics.search_stats(records["search_m"][mask], records["gave_up"][mask], scenario),
    )


def _sweep_figures(engine: Engine, baseline: _Window) -> dict[str, Any]:
    records = engine.record_arrays()
    mask = metrics.in_hours(records["t_arrival"], baseline.peak)
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
