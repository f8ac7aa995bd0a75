"""The live interface the publisher drives: changes in order, settings while running, reset, KPIs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from parking.settings import PACKAGED_SITES_DIR
from simulator.engine import BayChange, Simulation
from simulator.grid import resolve_site
from simulator.scenario import load_scenario

SITES = PACKAGED_SITES_DIR
SATURDAY_MORNING = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)


def _simulation(seed: int = 1, name: str = "town-centre") -> Simulation:
    scenario = load_scenario(name)
    return Simulation(scenario, resolve_site(scenario, SITES), np.random.default_rng(seed), SATURDAY_MORNING)


def test_changes_come_in_order_within_the_interval_with_the_sites_bay_ids() -> None:
    sim = _simulation()
    first = sim.advance(300.0)
    second = sim.advance(600.0)
    assert first and second
    assert all(0.0 < c.t_s <= 300.0 for c in first) and all(300.0 < c.t_s <= 600.0 for c in second)
    times = [c.t_s for c in first + second]
    assert times == sorted(times)
    assert {c.bay for c in first + second} <= set(sim.site.bays)


def test_the_car_park_starts_as_full_as_it_is_at_that_hour() -> None:
    occupied = sum(_simulation().occupancy().values())
    assert occupied > 0.5 * 720


def test_the_same_seed_replays_the_same_changes_and_reset_starts_over() -> None:
    sim = _simulation(seed=4)
    changes = sim.advance(900.0)
    assert changes == _simulation(seed=4).advance(900.0)
    sim.reset()
    assert sim.advance(900.0) == changes


def test_settings_change_while_running_and_are_checked() -> None:
    sim = _simulation()
    sim.advance(60.0)
    sim.set_guidance_share(1.0)
    sim.set_sensor_latency(300.0)
    sim.advance(120.0)
    settings = sim.kpis()["settings"]
    assert settings == {"guidance_share": 1.0, "sensor_latency_s": 300.0}
    with pytest.raises(ValueError, match="guidance share"):
        sim.set_guidance_share(1.5)
    with pytest.raises(ValueError, match="sensor latency"):
        sim.set_sensor_latency(-1.0)


def test_time_does_not_go_back() -> None:
    sim = _simulation()
    sim.advance(100.0)
    with pytest.raises(ValueError, match="back in time"):
        sim.advance(50.0)


def test_kpis_compare_guided_and_unguided_drivers_with_their_factors() -> None:
    sim = _simulation()
    sim.set_guidance_share(1.0)
    sim.advance(3 * 3600.0)
    kpis = sim.kpis()
    today = kpis["today"]
    assert today["guided"]["searches"] > 0 and today["without_guidance"]["searches"] > 0
    assert today["savings"]["co2_g"] is not None and today["savings"]["method"]
    factor = kpis["factors"]["emissions.fleet_g_per_km"]
    assert factor["value"] == 179.0 and "Destatis" in factor["source"]
    assert set(kpis["now"]["searching"]) == {"guided", "unguided"}


def test_a_snapshot_announces_every_bay() -> None:
    sim = _simulation(name="showroom")
    snapshot = sim.snapshot()
    assert {c.bay for c in snapshot} == set(sim.site.bays)
    assert all(isinstance(c, BayChange) and c.t_s == 0.0 for c in snapshot)
