"""Speed changes that must not change results: a shortcut gives exactly what the plain path gives."""

from __future__ import annotations

import pytest

from parking.settings import PACKAGED_SITES_DIR
from simulator.engine import Engine, Simulation
from simulator.grid import resolve_site
from simulator.metrics import live_kpis
from simulator.scenario import load_scenario

SITES = PACKAGED_SITES_DIR


def _live_run() -> tuple[list[object], int]:
    """Half an hour of a market morning in both twins: every change, car and figure, and how often a car was
    shown on a face it drove through without an event of its own."""
    scenario = load_scenario("town-centre").with_steering("both", 0.5)
    sim = Simulation(scenario, resolve_site(scenario, SITES), 3, preset="markttag", start_hour=9.5)
    seen: list[object] = []
    ahead = 0
    for step in range(1, 121):
        seen.append([(c.bay, c.occupied, c.t_s) for c in sim.advance(step * 15.0)])
        seen.append(sim.vehicles())
        seen.append(sim.occupied())
        for engine in sim.twins.values():
            ahead += sum(1 for d in engine.road.values() if d.legs and engine.t < d.t_seg)
            seen.append(engine.samples.arrays()["searching_unguided"].tolist())
    seen.append(live_kpis(sim))
    return seen, ahead


def test_deciding_quiet_junctions_ahead_gives_the_same_run_as_an_event_at_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ahead, shown_ahead = _live_run()
    monkeypatch.setattr(Engine, "drive_ahead", False)
    plain, _ = _live_run()
    assert shown_ahead > 0  # the comparison covers cars shown on faces decided ahead
    assert ahead == plain
