"""Speed changes that must not change results: a shortcut gives exactly what the plain path gives."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from parking.settings import PACKAGED_SITES_DIR
from simulator.engine import Approach, Engine, SharedApproaches, Simulation
from simulator.grid import build_network, grid_site, resolve_site
from simulator.metrics import live_kpis
from simulator.offline import run_twins, settings_for
from simulator.scenario import GridSite, load_scenario
from simulator.search import (
    Driver,
    child_key,
    driver_draws,
    family_key,
    nearest_bay,
    stream_key,
    unit,
    units,
)

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


def _offline_records() -> list[list[float]]:
    scenario = load_scenario("town-centre")
    network = build_network(resolve_site(scenario, SITES), scenario.space)
    twins = run_twins(settings_for(scenario, 1, preset="markttag", steering="app", share=0.5), network, 2)
    return [values.tolist() for engine in twins.values() for values in engine.record_arrays().values()]


def test_twins_sharing_their_drivers_ways_in_give_the_same_run_as_twins_deciding_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken = 0
    take = SharedApproaches.take

    def counting(self: SharedApproaches, twin: int, driver: int) -> Approach | None:
        nonlocal taken
        found = take(self, twin, driver)
        taken += found is not None
        return found

    monkeypatch.setattr(SharedApproaches, "take", counting)
    shared = _offline_records()
    monkeypatch.setattr(SharedApproaches, "keep", lambda *_args: None)
    alone = _offline_records()
    assert taken > 0  # the comparison covers drivers who drove in the way their twin decided
    assert shared == alone


_WAY_IN: Approach = (7, 120.0, 300.0, False, 3, 11, 4, 25.0, 100.0, None)


def test_a_way_in_kept_by_one_twin_is_taken_once_by_the_other() -> None:
    store = SharedApproaches()
    assert store.take(0, 5) is None
    store.keep(0, 5, _WAY_IN)
    assert store.take(1, 5) == _WAY_IN
    assert store.take(1, 5) is None and len(store) == 0


def test_a_way_in_is_not_kept_for_a_twin_that_has_met_the_driver_already() -> None:
    store = SharedApproaches()
    store.take(1, 5)
    store.keep(0, 5, _WAY_IN)
    assert len(store) == 0


def test_at_most_the_limit_of_ways_in_wait_for_the_other_twin() -> None:
    store = SharedApproaches(limit=2)
    for driver in range(4):
        store.keep(0, driver, _WAY_IN)
    assert len(store) == 2


def test_the_nearest_bay_of_a_face_is_measured_from_the_middle_of_the_goal_face() -> None:
    scenario = load_scenario("town-centre")
    spec = GridSite(
        kind="grid",
        id="g",
        name="g",
        bay_prefix="G",
        nodes=3,
        block_m=100.0,
        bays_per_face=2,
        origin=(10.0, 54.0),
    )
    net = build_network(grid_site(spec), scenario.space)
    goal = next(s for s in range(net.n_segments) if net.seg_mid_y[s] == net.node_y[net.seg_a[s]])  # runs east
    north = next(
        s
        for s in range(net.n_segments)
        if net.seg_mid_x[s] == net.seg_mid_x[goal] and net.seg_mid_y[s] == net.seg_mid_y[goal] + 100.0
    )
    # one bay each side of the face's middle, 5 m out; the bays' lon/lat are rounded to 7 decimals
    assert nearest_bay(net, goal, goal) == pytest.approx(5.0, abs=0.01)
    assert nearest_bay(net, goal, north) == pytest.approx(95.0, abs=0.01)


def test_numbers_drawn_ahead_for_a_days_drivers_are_those_each_drivers_stream_draws() -> None:
    family = family_key(stream_key(2**62 + 12345, 1))
    keys, draws = driver_draws(family, 1_000, 3, 4)
    assert keys == [child_key(family, driver) for driver in (1_000, 1_001, 1_002)]
    assert draws == [[unit(key, n) for n in range(1, 5)] for key in keys]


def test_a_driver_whose_numbers_drawn_ahead_run_out_goes_on_with_its_stream() -> None:
    key = stream_key(99, 1, 7)
    driver = Driver(7, 0, 0.0, 0.0, 0, 0.0, 60.0, key, [unit(key, 1), unit(key, 2)])
    assert [driver.u() for _ in range(5)] == [unit(key, n) for n in range(1, 6)]


def test_numbers_drawn_ahead_in_numpy_are_those_each_stream_draws() -> None:
    keys = [stream_key(2**62 + 7, 2, bay) for bay in range(3)]
    drawn = units(np.array(keys, dtype=np.uint64)[:, None], np.arange(40, dtype=np.uint64)[None, :])
    assert drawn.tolist() == [[unit(key, n) for n in range(40)] for key in keys]


def test_a_sensors_error_numbers_drawn_ahead_are_its_streams_past_every_block() -> None:
    scenario = load_scenario("town-centre")
    network = build_network(resolve_site(scenario, SITES), scenario.space)
    engine = Engine(scenario, network, 5, date(2026, 6, 1))
    assert engine.detection_error > 0
    bay = network.n_bays - 1
    counts = [*range(0, 70), 75, 200, 201, 260]  # in order, as a bay's changes come (frozen ones skip)
    assert [engine._error_u(bay, n) for n in counts] == [unit(engine.bay_keys[bay], n) for n in counts]
