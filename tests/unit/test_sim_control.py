"""Simulator control: what a command changes, and the KPI view the kiosk reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.simulators import kpi_view
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


def test_the_kpi_view_is_labelled_a_model_estimate_with_sources() -> None:
    status = {
        "scenario": "showroom",
        "kpis": {
            "now": {"searching": {"guided": 1, "unguided": 2}, "occupancy": 0.8},
            "today": {
                "guided": {"mean_search_min": 1.0},
                "unguided": {"mean_search_min": 2.0},
                "savings": {"search_min": 10.0, "search_km": 2.0, "co2_g": 466.0},
            },
            "factors": {"co2_g_per_search_km": {"value": 233.0, "source": "x"}},
        },
    }
    view = kpi_view("showroom", status)
    assert view["model_estimate"] is True and view["sources"]
    assert view["saved_today"] == {"search_min": 10.0, "km": 2.0, "co2_kg": 0.466, "method": None}
    assert view["searching_now"] == {"guided": 1, "unguided": 2}


def test_a_start_time_of_hh_mm_means_the_latest_weekday() -> None:
    from datetime import UTC, datetime

    from simulator.live import parse_start_time

    sunday = datetime(2026, 11, 22, 21, 30, tzinfo=UTC)
    assert parse_start_time("10:00", sunday) == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday
    assert parse_start_time(None, sunday) == sunday
    assert parse_start_time("2026-11-18T09:15:00+00:00", sunday) == datetime(2026, 11, 18, 9, 15, tzinfo=UTC)
