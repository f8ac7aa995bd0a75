"""Bay state: what a reading changes, and what it must not."""

from __future__ import annotations

from parking.events import BayReading, BayStatus, SensorHealth
from parking.state import BayState, apply_reading

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
