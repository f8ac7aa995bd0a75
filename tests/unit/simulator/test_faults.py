"""Broken simulated sensors: what a silent, stuck or flapping sensor publishes, and heartbeats of the
working ones (simulator.faults)."""

from __future__ import annotations

import itertools

from simulator.faults import FLAP_EVERY_S, HEARTBEAT_S, SensorFaults, pick_random

BAYS = [f"B{i:02d}" for i in range(10)]


def faults() -> SensorFaults:
    found = SensorFaults(BAYS)
    found.snapshot((bay, i % 2 == 0) for i, bay in enumerate(BAYS))
    return found


def test_every_working_sensor_sends_one_heartbeat_per_interval_with_its_status() -> None:
    f = faults()
    sent = [p for _ in range(36) for p in f.advance(HEARTBEAT_S / 36)]
    assert sorted(p.bay for p in sent) == BAYS
    assert all(p.heartbeat and p.occupied == (BAYS.index(p.bay) % 2 == 0) for p in sent)


def test_a_silent_sensor_sends_no_change_no_heartbeat_and_no_snapshot() -> None:
    f = faults()
    f.break_bays(["B03"], "silent")
    assert f.change("B03", True) is None
    assert all(p.bay != "B03" for p in f.advance(3 * HEARTBEAT_S))
    assert "B03" not in {p.bay for p in f.snapshot((bay, True) for bay in BAYS)}


def test_a_stuck_sensor_keeps_its_status_and_still_sends_heartbeats() -> None:
    f = faults()
    f.break_bays(["B02"], "stuck")  # occupied when it broke
    assert f.change("B02", False) is None
    beats = [p for _ in range(20) for p in f.advance(HEARTBEAT_S / 10) if p.bay == "B02"]
    assert len(beats) == 2 and all(p.occupied for p in beats)
    assert [p.occupied for p in f.snapshot([("B02", False)])] == [True]


def test_a_flapping_sensor_changes_more_often_than_the_rule_allows() -> None:
    f = faults()
    f.break_bays(["B05"], "flapping")
    assert f.change("B05", True) is None  # what the bay really holds no longer matters
    toggles = [p for _ in range(600) for p in f.advance(HEARTBEAT_S / 600) if p.bay == "B05"]
    assert len(toggles) == HEARTBEAT_S / FLAP_EVERY_S > 20
    assert all(a.occupied != b.occupied for a, b in itertools.pairwise(toggles))


def test_repair_all_brings_back_staffs_and_the_presets_faults() -> None:
    f = faults()
    f.set_preset({"stuck": 1.0}, seed=1)
    f.break_bays(["B01"], "silent")
    f.repair_all()
    assert f.active == {}
    assert f.change("B01", True) is not None


def test_a_presets_faults_are_the_same_bays_for_the_same_seed() -> None:
    a, b = faults(), faults()
    a.set_preset({"flapping": 0.3, "stuck": 0.3}, seed=7)
    b.set_preset({"flapping": 0.3, "stuck": 0.3}, seed=7)
    assert a.active == b.active and 0 < len(a.active) < len(BAYS)


def test_a_few_at_random_are_that_many_distinct_bays() -> None:
    picked = pick_random(BAYS, 3, seed=5)
    assert len(set(picked)) == 3 and set(picked) <= set(BAYS)
    assert pick_random(BAYS[:2], 3, seed=5) == BAYS[:2]
