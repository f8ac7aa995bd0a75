"""Telling "another ingester uses our client id" from an ordinary lost connection.

Two clients with one client id take the broker session from each other: each connect throws the
other one off, and paho reconnects within a second, for ever. MQTT v5 brokers that say why send
the client they replace a DISCONNECT with reason code 142 ("Session taken over"). mosquitto (2.0.11
here) just closes the old connection; then the only sign is the pattern: the broker closes the
connection within seconds of accepting it, several times in a row. A broker restart or a network
fault does not look like that: the connection ends after a long life, or the reconnect fails.
"""

from __future__ import annotations

from dataclasses import dataclass

SESSION_TAKEN_OVER = 142
SHORT_S = 5.0
SHORT_IN_A_ROW = 3


class ClientIdTakenOver(ConnectionError):
    """Another client connected with our client id. A ConnectionError, so the command line reports it
    in one line and exits with code 2."""

    def __init__(self, client_id: str, *, told_by_broker: bool) -> None:
        how = (
            "the broker says another client took over its session"
            if told_by_broker
            else f"the broker closed its connection {SHORT_IN_A_ROW} times in a row within {SHORT_S:g} s "
            "of accepting it, as it does when another client connects with the same client id"
        )
        super().__init__(
            f"ingester client id {client_id!r} is in use by another client ({how}); give every ingester "
            "its own PARKLOTSE_INGEST_CLIENT_ID (and spool folder)"
        )
        self.client_id = client_id


@dataclass(slots=True)
class TakeoverWatch:
    """Fed with every connect and disconnect; says when the connection was taken over."""

    short_s: float = SHORT_S
    limit: int = SHORT_IN_A_ROW
    _connected_at: float | None = None
    _short_in_a_row: int = 0

    def connected(self, now: float) -> None:
        self._connected_at = now

    def lost(self, now: float, reason_code: int, failure: bool) -> bool:
        """True if the connection that just ended was taken over by a client with our id."""
        if reason_code == SESSION_TAKEN_OVER:
            return True
        short = failure and self._connected_at is not None and now - self._connected_at < self.short_s
        self._connected_at = None
        self._short_in_a_row = self._short_in_a_row + 1 if short else 0
        return self._short_in_a_row >= self.limit
