"""Status changes counted from the ingester's change events, so an evaluation needs no query for them."""

from __future__ import annotations

import json

from parking.events import BayStatus, ns_to_rfc3339
from parking.fleet.changes import ChangeEvent, ChangeWindow, parse_event
from parking.fleet.rules import HOUR_NS, SECOND_NS
from parking.state import BayState

NOW = 1_800_000_000 * SECOND_NS
MINUTE = 60 * SECOND_NS


def event(bay: str, status: str, t: int) -> ChangeEvent:
    return ChangeEvent("showroom", bay, status, t)


def test_an_ingester_event_is_read_and_anything_else_is_not() -> None:
    state = BayState("showroom", "A01", BayStatus.OCCUPIED, NOW, NOW)
    payload = json.dumps({**state.as_message(), "ts": ns_to_rfc3339(NOW), "source": "native"}).encode()
    assert parse_event(payload) == event("A01", "occupied", NOW)
    assert parse_event(b"not json") is None and parse_event(b'{"site": 1}') is None


def test_changes_are_counted_per_bay_within_the_window_and_repeats_are_not_changes() -> None:
    window = ChangeWindow()
    for i, status in enumerate(["free", "occupied", "occupied", "free"]):
        window.add(event("A01", status, NOW - (50 - i) * MINUTE))
    window.add(event("A02", "free", NOW - 2 * HOUR_NS))
    assert window.counts("showroom", NOW) == {"A01": 3}
    assert window.counts("showroom", NOW, window_ns=48 * MINUTE) == {"A01": 1}
    assert window.counts("elsewhere", NOW) == {}


def test_the_count_is_trusted_only_after_a_whole_window_heard_without_a_break() -> None:
    window = ChangeWindow()
    assert not window.complete(NOW, HOUR_NS)
    window.connected(NOW - 2 * HOUR_NS)
    assert window.complete(NOW, HOUR_NS)
    window.lost()
    window.connected(NOW - MINUTE)
    assert not window.complete(NOW, HOUR_NS)


def test_a_seed_from_influxdb_makes_the_count_whole_before_an_hour_is_heard() -> None:
    window = ChangeWindow()
    window.connected(NOW - 10 * MINUTE)
    assert not window.covers("showroom", NOW, HOUR_NS)
    assert window.seed("showroom", {"A01": [NOW - 40 * MINUTE, NOW - 30 * MINUTE]}, NOW - 10 * MINUTE)
    assert window.covers("showroom", NOW, HOUR_NS)
    assert not window.covers("elsewhere", NOW, HOUR_NS)
    assert window.counts("showroom", NOW) == {"A01": 2}


def test_a_change_both_stored_and_heard_counts_once() -> None:
    window = ChangeWindow()
    window.connected(NOW - 10 * MINUTE)
    window.add(event("A01", "occupied", NOW - 5 * MINUTE))  # heard before the read
    window.seed(
        "showroom", {"A01": [NOW - 40 * MINUTE, NOW - 5 * MINUTE, NOW - 2 * MINUTE]}, NOW - 10 * MINUTE
    )
    window.add(event("A01", "free", NOW - 2 * MINUTE))  # its event came after the read
    assert window.counts("showroom", NOW) == {"A01": 3}


def test_a_seed_read_across_a_lost_feed_is_not_trusted() -> None:
    window = ChangeWindow()
    window.connected(NOW - 10 * MINUTE)
    window.lost()
    window.connected(NOW - MINUTE)
    assert not window.seed("showroom", {"A01": [NOW - 40 * MINUTE]}, NOW - 10 * MINUTE)
    assert not window.covers("showroom", NOW, HOUR_NS)


def test_losing_the_feed_undoes_every_seed() -> None:
    window = ChangeWindow()
    window.connected(NOW - 10 * MINUTE)
    window.seed("showroom", {}, NOW - 10 * MINUTE)
    window.lost()
    window.connected(NOW - MINUTE)
    assert not window.covers("showroom", NOW, HOUR_NS)


def test_a_bays_first_reading_is_no_change_when_the_ingester_says_so() -> None:
    window = ChangeWindow()
    window.add(ChangeEvent("showroom", "A01", "occupied", NOW - 3 * MINUTE, previous="unknown"))
    window.add(ChangeEvent("showroom", "A01", "free", NOW - 2 * MINUTE, previous="occupied"))
    window.add(ChangeEvent("showroom", "A02", "free", NOW - 2 * MINUTE, previous="occupied"))
    assert window.counts("showroom", NOW) == {"A01": 1, "A02": 1}


def test_a_bay_whose_changes_all_left_the_window_is_counted_no_more() -> None:
    window = ChangeWindow()
    window.connected(NOW - 2 * HOUR_NS)
    window.add(event("A01", "occupied", NOW - 70 * MINUTE))
    window.add(event("A01", "free", NOW - 50 * MINUTE))
    window.seed("showroom", {"A02": [NOW - 65 * MINUTE, NOW - 40 * MINUTE]}, NOW - 2 * HOUR_NS)
    window.add(event("A03", "occupied", NOW - 61 * MINUTE))
    assert window.counts("showroom", NOW) == {"A01": 1, "A02": 1}
    assert window.counts("showroom", NOW + 21 * MINUTE) == {}
    window.add(event("A01", "occupied", NOW + 21 * MINUTE))
    assert window.counts("showroom", NOW + 22 * MINUTE) == {"A01": 1}
