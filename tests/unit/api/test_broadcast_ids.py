"""Last-Event-ID parsing: whatever a client sends, it is an event number of ours or None."""

from __future__ import annotations

from api.broadcast import MAX_ID_DIGITS, Broadcaster


def test_an_id_of_thousands_of_digits_is_not_an_event_number() -> None:
    hub = Broadcaster()
    assert hub.parse_id(f"{hub.epoch}-{'9' * 5_000}") is None


def test_an_id_with_the_longest_number_allowed_is_read() -> None:
    hub = Broadcaster()
    assert hub.parse_id(f"{hub.epoch}-{'9' * MAX_ID_DIGITS}") == int("9" * MAX_ID_DIGITS)


def test_an_id_with_no_number_or_other_digits_is_not_an_event_number() -> None:
    hub = Broadcaster()
    for number in ("", "²", "-1", "1.5", " 1"):
        assert hub.parse_id(f"{hub.epoch}-{number}") is None, number
