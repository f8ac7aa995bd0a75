"""Bay state: what a reading changes, and what it must not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parking.events import BayReading, BayStatus, SensorHealth
from parking.registry import Registry, parse_site
from parking.state import (
    BayState,
    LiveState,
    StateMessageError,
    apply_reading,
    beyond_skew,
    decode_state_message,
    parse_state_message,
    supersedes,
)

SEC = 1_000_000_000


def test_a_change_of_status_starts_a_new_since() -> None:
    state = apply_reading(BayState("s", "b"), BayReading("s", "b", True, 10 * SEC))
    state = apply_reading(state, BayReading("s", "b", False, 20 * SEC))
    assert (state.status, state.since_ns, state.last_seen_ns) == (BayStatus.FREE, 20 * SEC, 20 * SEC)


def test_a_repeated_status_keeps_since_and_updates_last_seen() -> None:
    state = apply_reading(BayState("s", "b"), BayReading("s", "b", True, 10 * SEC))
    state = apply_reading(state, BayReading("s", "b", True, 30 * SEC))
    assert (state.since_ns, state.last_seen_ns) == (10 * SEC, 30 * SEC)


def test_an_older_reading_never_rolls_the_status_back() -> None:
    state = apply_reading(BayState("s", "b"), BayReading("s", "b", True, 50 * SEC))
    state = apply_reading(state, BayReading("s", "b", False, 40 * SEC))
    assert state.status is BayStatus.OCCUPIED and state.since_ns == 50 * SEC


def test_a_health_only_frame_updates_contact_and_battery_but_not_status() -> None:
    state = apply_reading(BayState("s", "b"), BayReading("s", "b", True, 10 * SEC))
    state = apply_reading(state, BayReading("s", "b", None, 20 * SEC, SensorHealth(battery_v=3.3)))
    assert (state.status, state.last_seen_ns, state.battery_v) == (BayStatus.OCCUPIED, 20 * SEC, 3.3)


def test_a_silent_sensor_shows_as_unknown() -> None:
    state = BayState("s", "b", BayStatus.OCCUPIED, 0, 10 * SEC)
    assert state.with_staleness(100 * SEC, 60 * SEC).status is BayStatus.UNKNOWN
    assert state.with_staleness(50 * SEC, 60 * SEC).status is BayStatus.OCCUPIED


def test_a_reporting_bay_turns_unknown_the_nanosecond_after_its_limit() -> None:
    state = BayState("s", "b", BayStatus.FREE, since_ns=100, last_seen_ns=100)
    assert state.stale_at_ns(50) == 151
    assert state.with_staleness(150, 50).status is BayStatus.FREE
    assert state.with_staleness(151, 50).status is BayStatus.UNKNOWN


def test_closed_unknown_and_never_heard_bays_never_turn_stale() -> None:
    assert BayState("s", "b", BayStatus.CLOSED, 1, 1).stale_at_ns(50) is None
    assert BayState("s", "b", BayStatus.UNKNOWN, 1, 1).stale_at_ns(50) is None
    assert BayState("s", "b", BayStatus.OCCUPIED).stale_at_ns(50) is None


def test_an_older_reading_after_a_newer_one_of_the_same_status_never_rolls_the_status_back() -> None:
    # Found adversarially: occupied@-100 s, occupied@-50 s, then free@-75 s arriving last.
    state = BayState("s", "b")
    for occupied, at in ((True, 100), (True, 150), (False, 125)):
        state = apply_reading(state, BayReading("s", "b", occupied, at * SEC))
    assert (state.status, state.since_ns, state.confirmed_ns, state.last_seen_ns) == (
        BayStatus.OCCUPIED,
        100 * SEC,
        150 * SEC,
        150 * SEC,
    )


def test_a_newer_health_only_frame_does_not_hide_an_older_status_reading() -> None:
    # A heartbeat without status says nothing about occupancy: a late status reading still counts.
    state = apply_reading(BayState("s", "b"), BayReading("s", "b", True, 10 * SEC))
    state = apply_reading(state, BayReading("s", "b", None, 30 * SEC))
    state = apply_reading(state, BayReading("s", "b", False, 20 * SEC))
    assert (state.status, state.since_ns, state.last_seen_ns) == (BayStatus.FREE, 20 * SEC, 30 * SEC)


def test_an_older_reading_never_replaces_a_newer_battery_figure() -> None:
    state = apply_reading(
        BayState("s", "b"), BayReading("s", "b", True, 20 * SEC, SensorHealth(battery_v=3.1))
    )
    state = apply_reading(state, BayReading("s", "b", True, 10 * SEC, SensorHealth(battery_v=3.6)))
    assert state.battery_v == 3.1


def test_a_state_that_knows_a_newer_status_supersedes_one_that_knows_an_older() -> None:
    older = BayState("s", "b", BayStatus.FREE, since_ns=10, last_seen_ns=10, confirmed_ns=10)
    newer = BayState("s", "b", BayStatus.OCCUPIED, since_ns=5, last_seen_ns=20, confirmed_ns=20)
    assert supersedes(newer, older) and not supersedes(older, newer)
    assert supersedes(older, older)  # equally recent: the later message wins


def test_a_state_without_confirmed_time_is_dated_by_its_since() -> None:
    seeded = BayState("s", "b", BayStatus.OCCUPIED, since_ns=50, last_seen_ns=50)
    assert seeded.status_time_ns == 50
    assert not supersedes(BayState("s", "b", BayStatus.FREE, since_ns=40, last_seen_ns=40), seeded)
    assert supersedes(seeded, BayState("s", "b"))


def test_the_state_message_carries_the_confirmed_time_there_and_back() -> None:
    state = BayState("s", "b", BayStatus.OCCUPIED, 100 * SEC, 150 * SEC, 3.6, None, 150 * SEC)
    payload = json.dumps(state.as_message()).encode()
    assert parse_state_message("parking/state/s/b", payload) == state


def test_a_live_state_applies_readings_in_event_order_whatever_their_arrival_order() -> None:
    registry = Registry([parse_site(_site(), Path("s.geojson"))])
    live = LiveState(registry)
    for occupied, at in ((True, 100), (True, 150), (False, 125)):
        live.apply(BayReading("s", "b", occupied, at * SEC))
    assert live.get("s", "b") == BayState(
        "s", "b", BayStatus.OCCUPIED, 100 * SEC, 150 * SEC, None, None, 150 * SEC
    )


def _site() -> dict[str, object]:
    bay = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [10.0, 54.0]},
        "properties": {"bay": "b"},
    }
    return {"type": "FeatureCollection", "site": {"id": "s", "name": "S"}, "features": [bay]}


STATES = [
    BayState("s", "b"),
    BayState("s", "b", BayStatus.FREE, 1, 2),
    BayState("s", "b", BayStatus.OCCUPIED, 100 * SEC + 123_000_000, 150 * SEC, 3.6, 87.5, 150 * SEC),
    BayState("s", "b", BayStatus.CLOSED, 10 * SEC, None, None, 12.0, None),
]


@pytest.mark.parametrize("state", STATES)
def test_the_hand_made_state_message_is_the_models(state: BayState) -> None:
    assert state.as_message() == state.message().model_dump(mode="json")


def test_a_state_message_decodes_to_the_state_it_was_made_from() -> None:
    state = STATES[2]
    payload = state.message().model_dump_json().encode()
    assert decode_state_message("parking/state/s/b", payload) == state


def test_the_topic_names_the_bay_not_the_body() -> None:
    payload = b'{"site": "elsewhere", "bay": "x", "status": "free"}'
    assert decode_state_message("parking/state/s/b", payload) == BayState("s", "b", BayStatus.FREE)


def test_fields_a_newer_ingester_adds_are_ignored() -> None:
    payload = b'{"status": "free", "since": "2026-11-21T10:00:00Z", "colour": "green"}'
    assert decode_state_message("parking/state/s/b", payload).status is BayStatus.FREE


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"not json", "message"),
        (b'{"since": "2026-11-21T10:00:00Z"}', "status"),
        (b'{"status": "parked"}', "status"),
        (b'{"status": "free", "since": "yesterday"}', "since"),
        (b'{"status": "free", "last_seen": 1764000000000}', "last_seen"),
        (b'{"status": "free", "battery_v": "NaN"}', "battery_v"),
    ],
)
def test_a_malformed_state_message_is_refused_with_the_field_at_fault(payload: bytes, says: str) -> None:
    with pytest.raises(StateMessageError, match=says):
        decode_state_message("parking/state/s/b", payload)
    assert parse_state_message("parking/state/s/b", payload) is None


def test_a_message_on_another_topic_is_not_a_state() -> None:
    with pytest.raises(StateMessageError, match="parking/state"):
        decode_state_message("parking/events/s/b", b'{"status": "free"}')


def test_a_state_is_beyond_skew_when_any_of_its_times_lies_too_far_ahead() -> None:
    now, skew = 1000 * SEC, 60 * SEC
    assert not beyond_skew(BayState("s", "b", BayStatus.FREE, now + skew, now), now, skew)
    assert beyond_skew(BayState("s", "b", BayStatus.FREE, now + skew + 1, now), now, skew)
    assert beyond_skew(BayState("s", "b", BayStatus.FREE, now, now + skew + 1), now, skew)
    assert beyond_skew(BayState("s", "b", BayStatus.FREE, now, now, confirmed_ns=now + skew + 1), now, skew)
    assert not beyond_skew(BayState("s", "b"), now, skew)
