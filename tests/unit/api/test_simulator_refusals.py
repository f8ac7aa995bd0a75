"""Simulator messages that do not fit the contract: ignored, counted by kind, logged at most once a minute."""

from __future__ import annotations

import logging

import pytest

from api.simulators import Refusals, SimulatorBook, parse_status, parse_vehicles
from parking.simulator_messages import example_positions, example_status

STATUS_TOPIC = "parklotse/simulator/showroom/status"
VEHICLES_TOPIC = "parklotse/simulator/town-centre/vehicles"


def test_a_status_that_does_not_fit_is_counted_and_heard() -> None:
    heard: list[str] = []
    refusals = Refusals(on_refused=heard.append)
    assert parse_status(STATUS_TOPIC, b'{"running": true}', refusals) is None
    assert refusals.counts == {"status": 1} and heard == ["status"]


def test_a_status_for_another_site_than_its_topic_is_refused() -> None:
    refusals = Refusals()
    payload = example_status("town-centre").model_dump_json().encode()
    assert parse_status(STATUS_TOPIC, payload, refusals) is None
    assert refusals.counts == {"status": 1}


def test_positions_that_do_not_fit_are_counted_as_vehicles() -> None:
    refusals = Refusals()
    assert parse_vehicles(VEHICLES_TOPIC, b"[1, 2]", refusals) is None
    assert refusals.counts == {"vehicles": 1}


def test_good_messages_and_a_cleared_status_are_not_refusals() -> None:
    refusals = Refusals()
    status = example_status("showroom")
    assert parse_status(STATUS_TOPIC, status.model_dump_json().encode(), refusals) == status
    assert parse_status(STATUS_TOPIC, b"", refusals) is None
    positions = example_positions()
    assert parse_vehicles(VEHICLES_TOPIC, positions.model_dump_json().encode(), refusals) == positions
    assert not refusals.counts


def test_a_flood_of_bad_messages_is_logged_once_and_counted_in_full(caplog: pytest.LogCaptureFixture) -> None:
    refusals = Refusals()
    with caplog.at_level(logging.WARNING, logger="api.simulators"):
        for _ in range(100):
            parse_status(STATUS_TOPIC, b"not json", refusals)
    assert refusals.counts == {"status": 100}
    assert len(caplog.records) == 1 and STATUS_TOPIC in caplog.records[0].getMessage()


def test_the_book_counts_a_status_with_an_unreadable_time_and_keeps_the_last_good_one() -> None:
    book = SimulatorBook(clock=lambda: 1_763_720_102_000_000_000)
    good = example_status("showroom", updated_at="2025-11-21T10:15:02Z")
    book.update(good)
    book.update(example_status("showroom", updated_at="yesterday"))
    assert book.refusals.counts == {"status": 1}
    assert book.pick("showroom") == good
