"""Twin towns with common random numbers: nobody steered means identical twins and exactly nothing saved."""

from __future__ import annotations

import pytest

from parking.settings import PACKAGED_SITES_DIR
from parking.simulator_messages import Sign
from simulator.engine import Simulation
from simulator.grid import resolve_site
from simulator.offline import saved_days
from simulator.scenario import load_scenario

SITES = PACKAGED_SITES_DIR


@pytest.mark.parametrize("steering", ["app", "signs", "both"])
def test_with_nobody_steered_every_saved_figure_is_exactly_zero(steering: str) -> None:
    scenario = load_scenario("town-centre")
    result = saved_days(scenario, resolve_site(scenario, SITES), 3, 1, steering=steering, share=0.0)  # type: ignore[arg-type]
    assert (result.per_day == 0.0).all() and (result.per_hour == 0.0).all()


def test_with_nobody_steered_the_twins_are_identical_to_the_byte() -> None:
    scenario = load_scenario("town-centre").with_steering("signs", 0.0)
    sim = Simulation(scenario, resolve_site(scenario, SITES), 2, preset="markttag", start_hour=10.0)
    sim.advance(1800.0)
    occupied = sim.occupied()
    assert occupied["without_sensors"] == occupied["with_sensors"]
    cars = sim.vehicles()
    assert cars["without_sensors"] == cars["with_sensors"] and cars["with_sensors"]


def test_steered_drivers_keep_their_ids_in_both_twins() -> None:
    scenario = load_scenario("town-centre")
    sim = Simulation(scenario, resolve_site(scenario, SITES), 4, preset="werktag", start_hour=11.0)
    sim.set_guidance_share(1.0)
    sim.advance(900.0)
    cars = sim.vehicles()
    ids = {name: {car[0] for car in cars[name]} for name in cars}
    assert ids["without_sensors"] & ids["with_sensors"]
    assert {car[4] for car in cars["with_sensors"]} <= {"approaching", "searching", "guided", "to_garage"}
    assert all(0 <= car[3] < 360 for car in cars["with_sensors"])


def test_a_real_sensor_reading_takes_the_bay_in_both_twins() -> None:
    scenario = load_scenario("town-centre")
    sim = Simulation(scenario, resolve_site(scenario, SITES), 1, preset="werktag", start_hour=12.0)
    bay = sim.network.bay_ids[0]
    sim.set_external(bay, True)
    assert all(text[0] == "1" for text in sim.occupied().values())
    changes = sim.advance(3600.0)
    assert bay not in {c.bay for c in changes}  # the real sensor reports it, not the model
    sim.set_external(bay, False)
    assert sim.with_sensors.reading[0] == 0


def test_signs_show_a_line_per_zone_and_the_garage() -> None:
    scenario = load_scenario("town-centre")
    sim = Simulation(scenario, resolve_site(scenario, SITES), 1, preset="markttag", start_hour=12.0)
    signs = sim.signs()
    assert signs and all(isinstance(sign, Sign) for sign in signs)
    assert {line.zone for line in signs[0].lines} >= set(sim.network.zone_names)
