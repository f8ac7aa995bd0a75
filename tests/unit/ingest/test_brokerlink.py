"""The buffered paho client: one large socket read serves paho's many small ones."""

from __future__ import annotations

import socket

from paho.mqtt.enums import CallbackAPIVersion

from ingest.brokerlink import BufferedClient


def test_small_reads_are_served_from_one_large_read_and_a_closed_peer_still_reads_as_closed() -> None:
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client = BufferedClient(callback_api_version=CallbackAPIVersion.VERSION2)
    client._sock = ours
    try:
        broker.sendall(b"\x30\x05hello" * 3)
        assert client._sock_recv(1) == b"\x30"
        broker.close()  # what was sent is already in our buffer
        assert client.buffered
        assert client._sock_recv(1) == b"\x05" and client._sock_recv(5) == b"hello"
        # a short read: what is left, and nothing stays buffered
        assert (client._sock_recv(100), client.buffered) == (b"\x30\x05hello" * 2, False)
        assert client._sock_recv(1) == b""
    finally:
        ours.close()
