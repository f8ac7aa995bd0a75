"""The model's invariants: capacity, soft reservations, Little's law, the demand it draws."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parking.settings import PACKAGED_SITES_DIR
from simulator.demand import DAY_S, HOUR_S, DemandModel, mean_dwell_min
from simulator.engine import BayChange, Engine
from simulator.grid import Network, build_network, grid_site, resolve_site
from simulator.scenario import GridSite, Scenario, load_scenario
from simulator.search import APP, Driver

SITES = PACKAGED_SITES_DIR
MONDAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def town() -> tuple[Scenario, Network]:
    scenario = load_scenario("town-centre")
    return scenario, build_network(resolve_site(scenario, SITES), scenario.space)


@pytest.fixture(scope="module")
def showroom() -> tuple[Scenario, Network]:
    scenario = load_scenario("showroom")
    return scenario, build_network(resolve_site(scenario, SITES), scenario.space)


def _with_demand(scenario: Scenario, per_day: float) -> Scenario:
    demand = scenario.demand.model_copy(update={"weekday_arrivals_per_day": per_day})
    return scenario.model_copy(update={"demand": demand})


@settings(max_examples=25, deadline=None)
@given(
    entropy=st.integers(0, 2**32),
    per_day=st.floats(10.0, 400.0),
    share=st.floats(0.0, 1.0),
    latency_s=st.sampled_from([0.0, 30.0, 900.0]),
    error=st.sampled_from([0.0, 0.02, 0.3]),
)
def test_a_bay_never_holds_more_than_one_car(
    showroom: tuple[Scenario, Network],
    entropy: int,
    per_day: float,
    share: float,
    latency_s: float,
    error: float,
) -> None:
    scenario, network = showroom
    scenario = _with_demand(scenario, per_day).with_guidance(share, latency_s)
    guidance = scenario.guidance.model_copy(update={"detection_error": error})
    engine = Engine(scenario.model_copy(update={"guidance": guidance}), network, entropy, MONDAY)
    changes: list[BayChange] = []
    for hour in range(1, 25):
        engine.run_until(hour * HOUR_S, changes)
        assert 0 <= engine.occupied <= engine.net.n_bays
        assert engine.occupied == sum(1 for s in engine.state if s == 1)
    last: dict[str, bool] = defaultdict(bool)
    for change in changes:  # a sensor reports free and occupied in turn, never the same twice
        assert change.occupied != last[change.bay]
        last[change.bay] = change.occupied


def test_two_guided_drivers_are_not_sent_to_the_same_bay(town: tuple[Scenario, Network]) -> None:
    scenario, network = town
    engine = Engine(scenario, network, 1, MONDAY)
    dest = 0
    x, y = engine.net.seg_mid(dest)
    first = engine.server.nearest(0.0, Driver(1, dest, x, y, APP, 0.0, 60.0, 1))
    second = engine.server.nearest(0.0, Driver(2, dest, x, y, APP, 0.0, 60.0, 2))
    assert first >= 0 and second >= 0 and first != second
    engine.server.release(first)  # without the reservation the next driver would get the first bay again
    assert engine.server.nearest(0.0, Driver(3, dest, x, y, APP, 0.0, 60.0, 3)) == first


def test_guidance_offers_the_free_bay_nearest_to_the_destination(town: tuple[Scenario, Network]) -> None:
    scenario, network = town
    engine = Engine(scenario, network, 1, MONDAY)
    net = engine.net
    x, y = net.seg_mid(10)
    bay = engine.server.nearest(0.0, Driver(1, 10, x, y, APP, 0.0, 60.0, 1))
    distances = np.hypot(np.array(net.bay_x) - x, np.array(net.bay_y) - y)
    assert distances[bay] == pytest.approx(distances.min())


def test_guidance_sees_a_change_only_after_the_sensor_latency(town: tuple[Scenario, Network]) -> None:
    scenario, network = town
    engine = Engine(scenario.with_guidance(1.0, 120.0), network, 1, MONDAY)
    server = engine.server
    server.reading(1000.0, 5, 1)
    server.catch_up(1100.0)
    assert server.view[5] == 0
    server.catch_up(1120.0)
    assert server.view[5] == 1


def test_littles_law_occupied_bays_equal_arrivals_times_dwell(town: tuple[Scenario, Network]) -> None:
    """Time-averaged occupied bays over a day = sum of parked time inside that day ÷ its length."""
    scenario, network = town
    no_warmup = scenario.model_copy(update={"run": scenario.run.model_copy(update={"warmup_days": 0})})
    engine = Engine(no_warmup, network, 3, MONDAY)
    engine.run_until(2 * DAY_S)
    samples = engine.samples.arrays()
    day = samples["t"] < DAY_S
    measured = samples["occupied"][day].mean()
    records = engine.record_arrays()
    parked = records["dwell_s"] > 0
    start = records["t_done"][parked]
    end = start + records["dwell_s"][parked]
    inside = np.clip(np.minimum(end, DAY_S) - np.minimum(start, DAY_S), 0.0, None)
    assert measured == pytest.approx(inside.sum() / DAY_S, rel=0.01)


def test_search_time_stays_short_until_the_centre_is_nearly_full(town: tuple[Scenario, Network]) -> None:
    scenario, network = town
    engine = Engine(scenario, network, 5, MONDAY)
    engine.run_until(5 * DAY_S)
    records = engine.record_arrays()
    minutes = records["search_m"] / (scenario.search.speed_kmh / 3.6) / 60.0
    calm = records["occupancy"] < 0.6
    busy = records["occupancy"] >= 0.9
    assert minutes[calm].mean() < 0.5
    assert minutes[busy].mean() > 3 * minutes[calm].mean()


def test_arrivals_follow_the_hourly_profile_and_the_kind_of_day(town: tuple[Scenario, Network]) -> None:
    scenario, network = town
    model = DemandModel(scenario.demand, scenario.dwell, network.seg_weight, np.random.default_rng(7), MONDAY)
    monday = model.arrivals(0)
    hours = np.asarray(monday.t) // HOUR_S
    d = scenario.demand
    profiles = (d.visitor_profile.weekday, d.long_stay_profile.weekday, d.resident_profile.weekday)
    assert set(np.unique(hours)) <= {
        h for profile in profiles for h, share in enumerate(profile) if share > 0
    }
    assert len(monday) == pytest.approx(d.weekday_arrivals_per_day + d.resident_arrivals_per_day, rel=0.05)
    for day in range(1, 6):
        model.arrivals(day)
    sunday = model.arrivals(6)
    assert len(sunday) == pytest.approx(len(monday) * scenario.demand.day_factor.sunday, rel=0.1)


def test_the_dwell_mixture_has_the_mean_of_section_6_3() -> None:
    scenario = load_scenario("town-centre")
    assert mean_dwell_min(scenario.dwell, scenario.demand.long_stay_share) == pytest.approx(82, abs=1.5)


def test_a_synthetic_city_has_ten_thousand_bays_with_valid_ids() -> None:
    scenario = load_scenario("city")
    assert isinstance(scenario.site, GridSite)
    site = grid_site(scenario.site)
    assert len(site.bays) >= 10_000
    network = build_network(site, scenario.space)
    assert network.layout == "grid" and network.n_bays == len(site.bays)


def test_the_town_centre_bays_sit_on_the_faces_the_site_names(town: tuple[Scenario, Network]) -> None:
    scenario, network = town
    site = resolve_site(scenario, SITES)
    assert network.n_bays == 720 and network.n_segments == 60
    by_face: dict[str, set[int]] = defaultdict(set)
    for index, bay in enumerate(site.bays.values()):
        by_face[bay.properties["segment"]].add(network.bay_seg[index])
    assert all(len(faces) == 1 for faces in by_face.values())


def test_destinations_are_most_likely_at_the_market_square(town: tuple[Scenario, Network]) -> None:
    _, network = town
    weights = np.array(network.seg_weight)
    best = int(weights.argmax())
    x, y = network.seg_mid(best)
    assert np.hypot(x - network.centre[0], y - network.centre[1]) == pytest.approx(50.0, abs=1.0)


def test_the_showroom_table_is_a_piece_of_the_town_grid(showroom: tuple[Scenario, Network]) -> None:
    _, network = showroom
    assert network.layout == "grid"
