"""Simulator control: what a command changes; the API's view of simulators and the KPIs the kiosk reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.simulators import SimulatorBook, VehicleLeases, kpi_view, parse_status
from parking.simulator_messages import example_status
from simulator.control import Command, RunState, apply_command

STATE = RunState(running=True, speed=60, guidance_share=0.3, sensor_latency_s=30, scenario="town-centre")


def test_pause_keeps_the_settings() -> None:
    effect = apply_command(STATE, Command(action="pause"))
    assert not effect.state.running and effect.state.speed == 60 and not effect.reset


def test_settings_change_without_a_reset() -> None:
    effect = apply_command(STATE, Command(guidance_share=1.0, sensor_latency_s=900, speed=600))
    assert (effect.state.guidance_share, effect.state.sensor_latency_s, effect.state.speed) == (1.0, 900, 600)
    assert effect.state.running and not effect.reset


def test_reset_and_a_new_scenario_rebuild_the_model() -> None:
    assert apply_command(STATE, Command(action="reset")).reset
    effect = apply_command(STATE, Command(action="start", scenario="other"))
    assert effect.reset and effect.new_scenario == "other"
    assert not apply_command(STATE, Command(scenario="town-centre")).reset


@pytest.mark.parametrize(
    "body",
    [
        {"speed": 0},
        {"speed": 601},
        {"guidance_share": 1.5},
        {"sensor_latency_s": -1},
        {"action": "explode"},
        {"unknown": 1},
    ],
)
def test_out_of_range_commands_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Command.model_validate(body)


def test_a_new_preset_or_an_hour_starts_over_and_a_steering_mode_does_not() -> None:
    effect = apply_command(STATE, Command(preset="markttag"))
    assert effect.reset and effect.state.preset == "markttag" and effect.start_hour is None
    jump = apply_command(STATE, Command(hour=11.5))
    assert jump.reset and jump.start_hour == 11.5 and jump.state.preset == STATE.preset
    steer = apply_command(STATE, Command(steering="signs"))
    assert steer.state.steering == "signs" and not steer.reset
    assert not apply_command(STATE, Command(preset=STATE.preset)).reset


@pytest.mark.parametrize("body", [{"hour": 24}, {"hour": -1}, {"steering": "radio"}, {"preset": "Markt Tag"}])
def test_presets_steering_and_hours_are_checked(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Command.model_validate(body)


def test_the_kpi_view_compares_the_twin_and_is_labelled_a_model_estimate_with_sources() -> None:
    status = example_status("showroom")
    view = kpi_view(status)
    assert view.model_estimate is True and view.sources
    assert view.searching_now == status.kpis.now.searching
    assert view.without_sensors == status.kpis.today.without_sensors  # the twin, not the unguided
    saved = status.kpis.today.saved
    assert saved is not None and view.saved_today.search_min == saved.search_min
    assert "twin" in view.saved_today.method
    assert view.typical_day == status.typical_day


def test_a_status_on_another_sites_topic_or_of_the_wrong_shape_is_ignored() -> None:
    good = example_status("showroom").model_dump_json().encode()
    assert parse_status("parklotse/simulator/showroom/status", good) == example_status("showroom")
    assert parse_status("parklotse/simulator/town-centre/status", good) is None
    assert parse_status("parklotse/simulator/showroom/status", b'{"running": true}') is None
    assert parse_status("parklotse/simulator/showroom/status", b"") is None


NOW_NS = 1_795_256_102_000_000_000  # 2026-11-21T10:15:02Z, when example_status was updated


def test_the_book_knows_which_town_model_a_site_shows() -> None:
    book = SimulatorBook(clock=lambda: NOW_NS)
    book.update(example_status("showroom"))
    book.update(example_status("town-centre"))
    assert book.model_sites("showroom") == {"town-centre"} and book.model_sites(None) == {"town-centre"}
    assert book.model_sites("elsewhere") == set()
    assert [s.site for s in book.summaries()] == ["showroom", "town-centre"]
    book.forget("showroom")
    assert book.pick("showroom") is None and book.pick(None) == example_status("town-centre")


def test_the_vehicle_lease_is_renewed_at_most_every_few_seconds() -> None:
    leases = VehicleLeases(lease_s=10, renew_s=3)
    assert leases.due("town-centre", now=100.0)
    assert not leases.due("town-centre", now=102.0) and leases.due("city", now=102.0)
    assert leases.due("town-centre", now=103.5)


def test_a_simulator_that_died_without_clearing_its_status_is_not_listed() -> None:
    now = [NOW_NS]
    book = SimulatorBook(stale_after_s=30, clock=lambda: now[0])
    book.update(example_status("showroom"))
    assert book.pick("showroom") is not None and len(book.summaries()) == 1
    now[0] += 31 * 10**9
    assert book.pick("showroom") is None and book.summaries() == [] and book.model_sites(None) == set()
