"""The live runner breaks sensors on command: the bays named on a site (under every site that shows
them), a few at random, repaired all at once; its status says which and how often sensors beat."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from parking.settings import PACKAGED_SITES_DIR
from parking.simulator_messages import SimulatorStatus
from simulator.control import Command
from simulator.faults import HEARTBEAT_S
from simulator.live import LiveRunner, build_runner


@pytest.fixture
def runner() -> LiveRunner:
    return build_runner("town-centre", PACKAGED_SITES_DIR, 60.0, 1, "native", typical_days=None)


def bays_of(messages: list[tuple[str, bytes]], site: str) -> set[str]:
    return {topic.split("/")[2] for topic, _ in messages if topic.split("/")[1] == site}


def statuses(runner: LiveRunner) -> dict[str, SimulatorStatus]:
    found = (SimulatorStatus.model_validate_json(payload) for _, payload in runner.statuses())
    return {s.site: s for s in found}


def test_a_silenced_showroom_bay_is_silent_under_both_names(runner: LiveRunner) -> None:
    runner.command(Command(site="showroom", break_sensors={"kind": "silent", "bays": ["A03"]}))
    runner.process_commands()
    town_bay = runner.views.of("showroom").to_model["A03"]  # type: ignore[union-attr]
    snapshot = runner.snapshot()
    assert "A03" not in bays_of(snapshot, "showroom") and town_bay not in bays_of(snapshot, "town-centre")
    beats = [m for _ in range(70) for m in runner.sensor_messages(1.0)]  # an hour of sensor time at 60x
    assert "A03" not in bays_of(beats, "showroom") and len(bays_of(beats, "showroom")) == 15
    status = statuses(runner)
    assert status["showroom"].sensor_faults == {"A03": "silent"}
    assert status["town-centre"].sensor_faults == {town_bay: "silent"}
    assert status["showroom"].sensor_heartbeat_s == HEARTBEAT_S


def test_heartbeats_carry_the_status_battery_and_radio(runner: LiveRunner) -> None:
    runner.snapshot()  # as the simulator announces itself at start
    beats = [m for _ in range(61) for m in runner.sensor_messages(1.0)]
    document = json.loads(next(payload for topic, payload in beats if "/showroom/" in topic))
    assert set(document) == {"occupied", "ts", "battery_v", "rssi", "snr"}


def test_a_few_at_random_and_repair_all(runner: LiveRunner) -> None:
    runner.command(Command(site="showroom", break_sensors={"kind": "flapping", "random": 3}))
    runner.process_commands()
    assert sorted(statuses(runner)["showroom"].sensor_faults.values()) == ["flapping"] * 3
    runner.command(Command(repair_sensors=True))
    runner.process_commands()
    assert statuses(runner)["showroom"].sensor_faults == {}


def test_an_unknown_bay_refuses_the_command_and_says_which(runner: LiveRunner) -> None:
    runner.command(Command(site="showroom", break_sensors={"kind": "stuck", "bays": ["A03", "Z99"]}))
    runner.process_commands()
    assert runner.error is not None and "Z99" in runner.error
    assert statuses(runner)["showroom"].sensor_faults == {}


def test_a_request_names_bays_or_a_number_not_both() -> None:
    # Two shapes in the schema: each refuses the other's field, so the error names both.
    with pytest.raises(ValidationError, match=r"BreakBays\.random\n.*Extra inputs[\s\S]*BreakRandom\.bays"):
        Command.model_validate({"break_sensors": {"kind": "silent", "bays": ["A01"], "random": 2}})
    with pytest.raises(ValidationError, match=r"BreakBays\.bays\n.*Field required"):
        Command.model_validate({"break_sensors": {"kind": "silent"}})
    with pytest.raises(ValidationError):
        Command.model_validate({"break_sensors": {"kind": "melting", "random": 2}})


def test_the_ausfall_preset_breaks_some_town_sensors(runner: LiveRunner) -> None:
    runner.command(Command(action="start", preset="ausfall"))
    runner.process_commands()
    kinds = statuses(runner)["town-centre"].sensor_faults.values()
    assert {"stuck", "flapping"} == set(kinds)
