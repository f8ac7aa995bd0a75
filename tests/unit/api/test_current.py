"""The current view of a site: made once per change, remade when a sensor falls silent too long;
the one place that decides what every reader shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.current import NEVER, CurrentView, Fragments, shown_states
from api.models import BayView
from parking.events import BayStatus
from parking.registry import Registry, Site, parse_site
from parking.state import BayState, LiveState

SECOND = 1_000_000_000
NOW = 1_763_719_200 * SECOND
STALE = 600 * SECOND


def _site() -> Site:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [9.37 + i * 0.0001, 53.92]},
            "properties": {"bay": f"B{i}", "zone": "Nord" if i < 3 else "Süd"},
        }
        for i in range(5)
    ]
    document = {"type": "FeatureCollection", "site": {"id": "lot", "name": "Lot"}, "features": features}
    return parse_site(document, Path("lot.geojson"))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def site() -> Site:
    return _site()


@pytest.fixture
def live(site: Site) -> LiveState:
    return LiveState(Registry([site]))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def view(live: LiveState, clock: Clock) -> CurrentView:
    return CurrentView(live, STALE, clock)


def _put(live: LiveState, bay: str, status: BayStatus, seen: int = NOW) -> None:
    live.put(BayState("lot", bay, status, since_ns=seen, last_seen_ns=seen))


def test_the_same_view_serves_every_request_while_nothing_changes(
    site: Site, live: LiveState, view: CurrentView, clock: Clock
) -> None:
    _put(live, "B0", BayStatus.FREE)
    first = view.of(site)
    clock.now += SECOND
    assert view.of(site) is first


def test_a_bay_change_makes_a_new_view_showing_it(site: Site, live: LiveState, view: CurrentView) -> None:
    _put(live, "B0", BayStatus.FREE)
    before = view.of(site)
    _put(live, "B0", BayStatus.OCCUPIED, NOW + SECOND)
    after = view.of(site)
    assert after is not before
    assert after.states[0].status is BayStatus.OCCUPIED
    assert json.loads(after.bays_json)[0]["status"] == "occupied"


def test_a_sensor_silent_too_long_shows_unknown_from_the_first_moment_it_is(
    site: Site, live: LiveState, view: CurrentView, clock: Clock
) -> None:
    _put(live, "B0", BayStatus.FREE, NOW)
    clock.now = NOW + STALE
    assert view.of(site).states[0].status is BayStatus.FREE
    clock.now = NOW + STALE + 1
    assert view.of(site).states[0].status is BayStatus.UNKNOWN


def test_the_view_knows_when_the_next_bay_turns_stale() -> None:
    states = [
        BayState("lot", "B0", BayStatus.FREE, NOW, NOW - 5 * SECOND),
        BayState("lot", "B1", BayStatus.OCCUPIED, NOW, NOW - 9 * SECOND),
        BayState("lot", "B2", BayStatus.CLOSED, NOW, NOW - 20 * SECOND),  # closed never turns stale
    ]
    shown, until = shown_states(states, NOW, STALE)
    assert [s.status for s in shown] == [BayStatus.FREE, BayStatus.OCCUPIED, BayStatus.CLOSED]
    assert until == NOW - 9 * SECOND + STALE + 1


def test_a_view_without_live_sensors_never_expires_by_time() -> None:
    states = [BayState("lot", "B0"), BayState("lot", "B1", BayStatus.CLOSED, NOW, NOW)]
    assert shown_states(states, NOW, STALE)[1] == NEVER


def test_the_bay_list_is_the_response_model_serialisation_in_site_order(
    site: Site, live: LiveState, view: CurrentView
) -> None:
    _put(live, "B3", BayStatus.OCCUPIED)
    body = json.loads(view.of(site).bays_json)
    assert [b["bay"] for b in body] == list(site.bays)
    for item in body:
        BayView.model_validate(item)
    assert body[3] == {
        "bay": "B3",
        "zone": "Süd",
        "status": "occupied",
        "since": "2025-11-21T10:00:00Z",
        "last_seen": "2025-11-21T10:00:00Z",
        "battery_v": None,
        "battery_pct": None,
        "lon": site.bays["B3"].lon,
        "lat": site.bays["B3"].lat,
    }


def test_stream_messages_are_the_state_messages(site: Site, live: LiveState, view: CurrentView) -> None:
    _put(live, "B1", BayStatus.FREE)
    messages = json.loads(b"[" + view.of(site).messages_json + b"]")
    assert messages == [state.as_message() for state in live.site_bays("lot")]


def test_the_summary_counts_every_status_per_zone(site: Site, live: LiveState, view: CurrentView) -> None:
    _put(live, "B0", BayStatus.FREE)
    _put(live, "B1", BayStatus.OCCUPIED)
    _put(live, "B3", BayStatus.CLOSED)
    summary = view.of(site).summary
    assert (summary.total, summary.free, summary.occupied, summary.closed, summary.unknown) == (5, 1, 1, 1, 2)
    zones = {z.zone: (z.total, z.free, z.occupied, z.closed, z.unknown) for z in summary.zones}
    assert zones == {"Nord": (3, 1, 1, 0, 1), "Süd": (2, 0, 0, 1, 1)}


def test_the_free_mask_marks_exactly_the_free_bays(site: Site, live: LiveState, view: CurrentView) -> None:
    _put(live, "B1", BayStatus.FREE)
    _put(live, "B4", BayStatus.FREE)
    _put(live, "B2", BayStatus.OCCUPIED)
    assert view.of(site).free.tolist() == [False, True, False, False, True]


def test_only_changed_bays_are_serialised_again(site: Site) -> None:
    rendered: list[str] = []

    def render(_site: Site, state: BayState) -> bytes:
        rendered.append(state.bay)
        return json.dumps(state.status.value).encode()

    fragments = Fragments(render)
    states = [BayState("lot", bay, BayStatus.FREE, NOW, NOW) for bay in site.bays]
    assert fragments.join(site, states) == b'"free","free","free","free","free"'
    states[4] = BayState("lot", "B4", BayStatus.OCCUPIED, NOW + SECOND, NOW + SECOND)
    assert fragments.join(site, states) == b'"free","free","free","free","occupied"'
    assert rendered == ["B0", "B1", "B2", "B3", "B4", "B4"]


def test_the_bay_list_narrows_to_a_zone_and_a_status(site: Site, live: LiveState, view: CurrentView) -> None:
    _put(live, "B0", BayStatus.FREE)
    _put(live, "B1", BayStatus.OCCUPIED)
    _put(live, "B4", BayStatus.FREE)
    now = view.of(site)
    assert [b["bay"] for b in json.loads(now.bays_json_where(status=BayStatus.FREE))] == ["B0", "B4"]
    assert [b["bay"] for b in json.loads(now.bays_json_where(zone="Süd"))] == ["B3", "B4"]
    assert [b["bay"] for b in json.loads(now.bays_json_where("Nord", BayStatus.FREE))] == ["B0"]
    assert json.loads(now.bays_json_where("Süd", BayStatus.CLOSED)) == []


def test_one_bay_is_its_fragment_of_the_list(site: Site, live: LiveState, view: CurrentView) -> None:
    _put(live, "B2", BayStatus.OCCUPIED)
    now = view.of(site)
    assert json.loads(now.bay_json("B2") or b"") == json.loads(now.bays_json)[2]
    assert now.bay_json("B9") is None


def test_every_new_view_has_a_new_entity_tag(site: Site, live: LiveState, view: CurrentView) -> None:
    first = view.of(site).etag
    assert view.of(site).etag == first
    _put(live, "B0", BayStatus.FREE)
    assert view.of(site).etag != first


def test_the_summary_carries_the_stale_cutoff_for_the_page(site: Site, view: CurrentView) -> None:
    assert view.of(site).summary.stale_after_s == STALE / SECOND


def test_one_state_is_shown_by_the_same_cutoff(view: CurrentView, clock: Clock) -> None:
    state = BayState("lot", "B0", BayStatus.FREE, since_ns=NOW, last_seen_ns=NOW)
    clock.now = NOW + STALE
    assert view.shown(state) is state
    clock.now = NOW + STALE + 1
    assert view.shown(state).status is BayStatus.UNKNOWN
