"""Dead letters are counted against the bay whose device sent them."""

from __future__ import annotations

import json

from parking.fleet.deadletters import DAY_NS, Refusal, RefusalWindow, bay_of_topic, parse_dead_letter
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR

REGISTRY = load_registry(DEFAULT_SITES_DIR)
NOW = 1_800_000_000 * 1_000_000_000


def letter(topic: str, reason: str = "bad_frame") -> bytes:
    return json.dumps(
        {
            "reason": reason,
            "detail": "why",
            "topic": topic,
            "payload_b64": "",
            "payload_bytes": 0,
            "received_at": "2026-11-21T10:00:00Z",
        }
    ).encode()


def test_a_native_topic_names_its_bay() -> None:
    assert bay_of_topic("parking/showroom/A03/status", REGISTRY) == ("showroom", "A03")


def test_a_things_stack_topic_names_the_device_bound_to_a_bay() -> None:
    assert bay_of_topic("v3/app@ttn/devices/showroom-pls-03/up", REGISTRY) == ("showroom", "A03")


def test_a_topic_of_no_known_bay_is_nobodys() -> None:
    assert bay_of_topic("parking/showroom/Z99/status", REGISTRY) is None
    assert bay_of_topic("v3/app@ttn/devices/nobody/up", REGISTRY) is None
    assert bay_of_topic("something/else", REGISTRY) is None


def test_a_published_dead_letter_becomes_a_refusal_of_its_bay() -> None:
    refusal = parse_dead_letter(letter("parking/showroom/B01/status"), REGISTRY)
    assert refusal is not None
    assert (refusal.site, refusal.bay, refusal.reason) == ("showroom", "B01", "bad_frame")


def test_anything_else_on_the_topic_is_ignored() -> None:
    assert parse_dead_letter(b"not json", REGISTRY) is None
    assert parse_dead_letter(b'{"reason": "x"}', REGISTRY) is None


def test_the_window_counts_only_the_last_day() -> None:
    window = RefusalWindow()
    for t in (NOW - 2 * DAY_NS, NOW - 3600 * 10**9, NOW - 60 * 10**9):
        window.add(Refusal("showroom", "A01", "bad_frame", "", t))
    count, latest = window.counts("showroom", NOW)["A01"]
    assert count == 2 and latest.received_ns == NOW - 60 * 10**9
    assert window.counts("other", NOW) == {}
