"""The live runner: one town model published as every site that shows it, steered by commands,
positions only while leased, real sensors of the table entering the model, and its status messages."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from parking import topics
from parking.registry import SiteFileError, load_registry
from parking.settings import PACKAGED_SITES_DIR
from parking.simulator_messages import SimulatorStatus, VehiclePositions
from simulator.control import Command
from simulator.live import LiveRunner, build_runner, parse_start_hour
from simulator.views import build_views

SHOWROOM_FACE = {f"A{k:02d}" for k in range(1, 9)} | {f"B{k:02d}" for k in range(1, 9)}


def runner(sites_dir: Path = PACKAGED_SITES_DIR, **options: object) -> LiveRunner:
    return build_runner("town-centre", sites_dir, 30.0, 1, "native", typical_days=None, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shared() -> LiveRunner:
    """A runner the tests only read from (building one simulates the morning: about a second)."""
    return runner()


@pytest.fixture
def hands_on_sites(tmp_path: Path) -> Path:
    """The sample sites with the table's A03 marked as a hands-on bay (its Bosch sensor is bound)."""
    for path in PACKAGED_SITES_DIR.glob("*.geojson"):
        shutil.copy(path, tmp_path / path.name)
    showroom = tmp_path / "showroom.geojson"
    document = json.loads(showroom.read_text(encoding="utf-8"))
    for feature in document["features"]:
        if feature["properties"].get("bay") == "A03":
            feature["properties"]["hands_on"] = True
    showroom.write_text(json.dumps(document), encoding="utf-8")
    return tmp_path


def sites_of(messages: list[tuple[str, bytes]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for topic, _ in messages:
        _, site, bay, _ = topic.split("/")
        found.setdefault(site, set()).add(bay)
    return found


def test_the_town_and_the_table_are_published_from_one_model(shared: LiveRunner) -> None:
    snapshot = sites_of(shared.snapshot())
    assert len(snapshot["town-centre"]) == 720
    assert snapshot["showroom"] == SHOWROOM_FACE
    view = shared.views.of("showroom")
    assert view is not None and set(view.to_model.values()) <= snapshot["town-centre"]


def test_a_change_of_a_table_bay_goes_out_under_both_names() -> None:
    live = runner()
    view = live.views.of("showroom")
    assert view is not None
    table = set(view.to_model.values())
    messages = live.step(600.0)  # 5 simulated hours at 30x
    by_site = sites_of(messages)
    town_table_changes = sum(1 for t, _ in messages if t.split("/")[2] in table)
    assert by_site["showroom"] and town_table_changes == sum(1 for t, _ in messages if "/showroom/" in t)


def test_statuses_one_per_site_fit_the_contract(shared: LiveRunner) -> None:
    statuses = {topic: SimulatorStatus.model_validate_json(payload) for topic, payload in shared.statuses()}
    town = statuses[topics.simulator_status("town-centre")]
    table = statuses[topics.simulator_status("showroom")]
    assert town.model_site == table.model_site == "town-centre"
    assert town.view_bays == {} and set(table.view_bays) == SHOWROOM_FACE
    assert town.preset == "werktag" and {"werktag", "markttag", "abend", "ausfall"} <= {
        p.name for p in town.presets
    }
    assert town.window_hours[0] <= int(town.sim_time[11:13]) < town.window_hours[1]
    assert town.day_label.endswith("· Werktag") and town.signs
    assert town.kpis.now.searching.without_sensors >= 0 and town.real_bays == table.real_bays == []


def test_a_preset_starts_over_at_its_first_hour_and_an_hour_jump_moves_the_clock() -> None:
    live = runner()
    live.command(Command(preset="markttag"))
    assert live.process_commands()  # the new day's bays are announced
    status = SimulatorStatus.model_validate_json(live.statuses()[0][1])
    assert status.preset == "markttag" and status.day_label.startswith("Samstag")
    assert status.sim_time[11:16] == f"{int(status.window_hours[0]):02d}:00"
    live.command(Command(hour=15.5))
    live.process_commands()
    assert live.model.now().hour == 15 and live.model.now().minute == 30


def test_steering_and_share_change_without_starting_over_and_a_bad_preset_is_refused() -> None:
    live = runner()
    live.step(10.0)
    before = live.model.now()
    live.command(Command(steering="signs", guidance_share=0.8))
    assert live.process_commands() == []
    assert live.model.steering == "signs" and live.model.guidance_share == 0.8 and live.model.now() == before
    live.command(Command(preset="karneval"))
    live.process_commands()
    assert live.state.preset == "werktag" and live.error is not None and "karneval" in live.error


def test_the_demo_starts_the_presets_hours_over_at_their_end() -> None:
    end = SimulatorStatus.model_validate_json(runner().statuses()[0][1]).window_hours[1]
    live = runner(start_hour=end - 1 / 60)
    live.step(4.0)  # two simulated minutes: past the end of the werktag window
    announced = live.step(0.1)
    assert announced and live.loops == 1
    assert live.model.now().hour == int(live.window[0])


def test_after_a_jump_past_the_presets_hours_the_loop_ends_at_midnight() -> None:
    live = runner(start_hour=22.0)
    assert live.loop_end_h == 24.0
    live.step(60.0)  # half an hour
    assert live.loops == 0 and live.model.now().hour == 22


def test_positions_only_while_leased_and_at_most_twice_a_second(shared: LiveRunner) -> None:
    now = time.monotonic()
    assert shared.positions_due(now) is None
    shared.want_positions(b'{"vehicles_for_s": 10}')
    first = shared.positions_due(now)
    assert first is not None and first[0] == topics.simulator_vehicles("town-centre")
    assert shared.positions_due(now + 0.2) is None and shared.positions_due(now + 0.5) is not None
    assert shared.positions_due(now + 11.0) is None  # the lease ran out
    positions = VehiclePositions.model_validate_json(first[1])
    assert positions.without_sensors and positions.with_sensors
    assert len(positions.bays) == len(positions.occupied_with_sensors) == 720


def test_a_malformed_lease_is_ignored(shared: LiveRunner) -> None:
    shared.want_positions(b'{"vehicles_for_s": 3600}')
    assert shared.positions_due(time.monotonic() + 100.0) is None


def test_a_hands_on_bay_is_never_published_and_its_real_reading_enters_both_twins(
    hands_on_sites: Path,
) -> None:
    live = runner(hands_on_sites)
    view = live.views.of("showroom")
    assert view is not None and view.real == {"A03"}
    town_bay = view.to_model["A03"]
    assert "A03" not in sites_of(live.snapshot())["showroom"]
    state = json.dumps({"site": "showroom", "bay": "A03", "status": "occupied", "since": None}).encode()
    assert live.handson.on_message(topics.state("showroom", "A03"), state)
    mirrored = live.apply_real_readings()
    assert sites_of(mirrored) == {"town-centre": {town_bay}}
    index = live.bay_ids.index(town_bay)
    assert all(s[index] == "1" for s in live.model.occupied().values())
    assert all("/showroom/A03/" not in topic for topic, _ in live.step(600.0))
    status = {
        SimulatorStatus.model_validate_json(p).site: SimulatorStatus.model_validate_json(p)
        for _, p in live.statuses()
    }
    assert status["showroom"].real_bays == ["A03"] and status["town-centre"].real_bays == [town_bay]


def test_a_hands_on_bay_needs_a_bound_sensor(hands_on_sites: Path) -> None:
    showroom = hands_on_sites / "showroom.geojson"
    document = json.loads(showroom.read_text(encoding="utf-8"))
    for feature in document["features"]:
        if feature["properties"].get("bay") == "A03":
            del feature["properties"]["device_id"]
    showroom.write_text(json.dumps(document), encoding="utf-8")
    registry = load_registry(hands_on_sites)
    with pytest.raises(SiteFileError, match=r"bay 'A03'.properties.hands_on: .*device_id or dev_eui"):
        build_views(registry.sites["town-centre"], registry.sites.values())


def test_publishing_only_some_sites_and_an_unknown_one() -> None:
    registry = load_registry(PACKAGED_SITES_DIR)
    views = build_views(registry.sites["town-centre"], registry.sites.values(), ["showroom"])
    assert [v.id for v in views.sites] == ["showroom"]
    with pytest.raises(ValueError, match="--publish-site: nowhere is not a site of the model"):
        build_views(registry.sites["town-centre"], registry.sites.values(), ["nowhere"])


@pytest.mark.parametrize(("value", "hour"), [(None, None), ("10:00", 10.0), ("07:30", 7.5)])
def test_a_start_time_is_an_hour_of_the_presets_day(value: str | None, hour: float | None) -> None:
    assert parse_start_hour(value) == hour


@pytest.mark.parametrize("value", ["10", "25:00", "10:60", "2026-11-21T10:00:00"])
def test_a_bad_start_time_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="--start-time"):
        parse_start_hour(value)


def test_the_status_carries_each_sites_occupancy_since_the_loop_began() -> None:
    live = runner()
    live.snapshot()
    for _ in range(4):
        live.statuses()
        live.step(20.0)  # ten simulated minutes at 30x
    statuses = {s.site: s for s in (SimulatorStatus.model_validate_json(p) for _, p in live.statuses())}
    town, table = statuses["town-centre"].today_occupancy, statuses["showroom"].today_occupancy
    assert len(town) == len(table) == 5
    assert all(0 <= share <= 1 for _, share in town + table)
    hours = [hour for hour, _ in town]
    assert hours == sorted(hours) and hours[-1] - hours[0] >= 4 * 10 / 60 - 1e-9
