"""Calibration: the defaults land on targets T1-T5, and stale data is worth less than fresh data."""

from __future__ import annotations

import pytest

from parking.settings import PACKAGED_SITES_DIR
from simulator import metrics
from simulator.calibrate import calibrate, format_table, run_pair
from simulator.grid import resolve_site
from simulator.scenario import load_scenario

SITES = PACKAGED_SITES_DIR


def test_the_default_scenario_meets_targets_t1_to_t5() -> None:
    # one week of seed 1 keeps the suite fast; seeds 1-16 over 28 days are in docs/simulator.md
    scenario = load_scenario("town-centre")
    result = calibrate(scenario, resolve_site(scenario, SITES), seed=1, days=7)
    failed = [f"{c.target} {c.name}: {c.measured}" for c in result.checks if not c.passed]
    assert failed == [], format_table(result)
    assert {c.target for c in result.checks} == {"T1", "T2", "T3", "T4", "T5"}


def _peak_mean_search_min(seed: int, latency_s: float) -> tuple[float, float]:
    scenario = load_scenario("town-centre")
    baseline, guided = run_pair(scenario, resolve_site(scenario, SITES), seed, 5, 1.0, latency_s)
    peak = metrics.hourly_occupancy(baseline, 5 * 24) >= scenario.windows.peak_occupancy
    means = []
    for engine in (baseline, guided):
        records = engine.record_arrays()
        means.append(float(records["search_m"][metrics.in_hours(records["t_arrival"], peak)].mean()))
    return means[0], means[1]


def test_a_sensor_latency_of_15_minutes_yields_less_benefit_than_30_seconds() -> None:
    base, fresh = _peak_mean_search_min(seed=2, latency_s=30.0)
    same_base, stale = _peak_mean_search_min(seed=2, latency_s=900.0)
    assert same_base == pytest.approx(base)  # the same drivers without guidance
    assert base - fresh > 0.25 * base  # fresh data: a quarter or more off the search
    assert base - stale < 0.85 * (base - fresh)  # 15-minute-old data: clearly less
