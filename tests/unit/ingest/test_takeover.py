"""Telling another ingester with our client id from an ordinary lost connection."""

from __future__ import annotations

from ingest.takeover import SESSION_TAKEN_OVER, ClientIdTakenOver, TakeoverWatch

UNSPECIFIED = 128  # what paho reports when the broker just closes the connection


def test_the_session_taken_over_reason_code_is_a_takeover_at_once() -> None:
    watch = TakeoverWatch()
    watch.connected(0.0)
    assert watch.lost(3_600.0, SESSION_TAKEN_OVER, failure=True)


def test_three_connections_in_a_row_closed_within_seconds_of_connecting_are_a_takeover() -> None:
    watch = TakeoverWatch()
    verdicts = []
    for second in (0.0, 2.0, 4.0):
        watch.connected(second)
        verdicts.append(watch.lost(second + 1.0, UNSPECIFIED, failure=True))
    assert verdicts == [False, False, True]


def test_a_connection_lost_after_a_long_life_starts_the_count_again() -> None:
    watch = TakeoverWatch()
    for second in (0.0, 2.0):
        watch.connected(second)
        watch.lost(second + 1.0, UNSPECIFIED, failure=True)
    watch.connected(10.0)
    assert not watch.lost(600.0, UNSPECIFIED, failure=True)  # a broker restart after ten minutes
    watch.connected(601.0)
    assert not watch.lost(602.0, UNSPECIFIED, failure=True)


def test_a_normal_disconnect_and_a_refused_reconnect_are_not_counted() -> None:
    watch = TakeoverWatch()
    watch.connected(0.0)
    watch.lost(1.0, UNSPECIFIED, failure=True)
    watch.connected(2.0)
    watch.lost(3.0, UNSPECIFIED, failure=True)
    assert not watch.lost(4.0, UNSPECIFIED, failure=True)  # never connected: the broker was away
    watch.connected(5.0)
    assert not watch.lost(6.0, 0, failure=False)


def test_the_error_names_the_client_id_and_the_setting() -> None:
    message = str(ClientIdTakenOver("parklotse-ingest", told_by_broker=False))
    assert "'parklotse-ingest'" in message and "PARKLOTSE_INGEST_CLIENT_ID" in message
    assert isinstance(ClientIdTakenOver("x", told_by_broker=True), ConnectionError)
