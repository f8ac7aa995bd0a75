"""Bay state: what a reading changes, and what it must not."""

from __future__ import annotations

import json
from pathlib import Path

from parking.events import BayReading, BayStatus, SensorHealth
from parking.registry import Registry, parse_site
from parking.state import BayState, LiveState, apply_reading, parse_state_message, supersedes

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
