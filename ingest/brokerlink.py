"""paho-mqtt driven by the asyncio event loop, with reads buffered and paused on demand.

paho's own network thread (``loop_start``) costs the ingester most of its time on a small machine:
the two threads take turns on the GIL, every acknowledgement or publish from the event loop wakes
the network thread through a socket pair, and paho reads each packet in three or more ``recv``
calls. Here the event loop runs paho through its documented external-loop interface
(``on_socket_open``/``register_write``, ``loop_read``/``loop_write``/``loop_misc``), so messages,
acknowledgements and publishes stay in one thread, and the socket is read 64 KiB at a time.

Reading pauses while ``accepting()`` is false: the broker then holds the rest (Receive Maximum), as
it did when paho's thread waited in ``on_message``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

log = logging.getLogger(__name__)

READ_CHUNK = 65_536


class BufferedClient(mqtt.Client):
    """A paho client that reads the socket in large chunks and serves its small reads from them.

    Only for a client driven by ``BrokerLink``: paho's own loops select() on the socket and would
    not know about bytes already taken out of it.
    """

    _read_buffer = b""
    _read_at = 0

    @property
    def buffered(self) -> bool:
        """Bytes read from the socket and not yet parsed (also inside TLS)."""
        if self._read_at < len(self._read_buffer):
            return True
        sock = self._sock
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    def _sock_recv(self, bufsize: int) -> bytes:
        at, buffer = self._read_at, self._read_buffer
        if at >= len(buffer):
            buffer = super()._sock_recv(max(bufsize, READ_CHUNK))
            if not buffer:
                return buffer  # the peer closed the connection
            self._read_buffer, at = buffer, 0
        end = at + bufsize
        self._read_at = end
        return buffer[at:end]

    def _sock_close(self) -> None:
        self._read_buffer, self._read_at = b"", 0
        super()._sock_close()


class BrokerLink:
    """Runs a ``BufferedClient`` on the running event loop: connect, read, write, keep alive, reconnect."""

    def __init__(
        self,
        client: BufferedClient,
        host: str,
        port: int,
        accepting: Callable[[], bool],
        failed: Callable[[], None],
        *,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 30.0,
    ) -> None:
        self.client = client
        self.host, self.port = host, port
        self._accepting = accepting
        self._failed = failed
        # An exception from a callback (the core included), for the owner to raise: asyncio would
        # only log it from a reader callback and carry on.
        self.failure: Exception | None = None
        self._reconnect_min_s, self._reconnect_max_s = reconnect_min_s, reconnect_max_s
        self._loop = asyncio.get_running_loop()
        self._sock: socket.socket | None = None
        self._reading = False
        self._stopping = False
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    async def run(self, connect: Callable[[], None]) -> None:
        """Connect (``connect`` calls the client's connect with its options), keep the connection
        alive and reconnect with a growing delay until cancelled."""
        delay = self._reconnect_min_s
        first = True
        while not self._stopping:
            if self._sock is None:
                try:
                    connect() if first else self.client.reconnect()
                    first = False
                    delay = self._reconnect_min_s
                except (OSError, ssl.SSLError) as exc:
                    log.warning(
                        "cannot reach the broker at %s:%d (%s); retrying in %.0f s",
                        self.host,
                        self.port,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._reconnect_max_s)
                    continue
            self.client.loop_misc()
            await asyncio.sleep(0.5 if self._sock is not None else delay)

    def resume(self) -> None:
        """Read again if reading was paused and the consumer accepts; also parses what is buffered."""
        if self._sock is not None and not self._reading and self._accepting():
            self._reading = True
            self._loop.add_reader(self._sock, self._on_readable)
            if self.client.buffered:
                self._loop.call_soon(self._on_readable)

    def stop(self) -> None:
        """Disconnect cleanly (what is queued to send goes out first) and stop reconnecting."""
        self._stopping = True
        if self._sock is not None:
            self.client.disconnect()
            with contextlib.suppress(OSError):
                self.client.loop_write()
            self.client.loop_misc()

    def _on_readable(self) -> None:
        client = self.client
        try:
            while self._sock is not None:
                if not self._accepting():
                    self._pause()
                    return
                if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    return
                if not client.buffered:
                    return
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.failure = exc
        self._stopping = True
        self._pause()
        self._failed()

    def _pause(self) -> None:
        if self._reading and self._sock is not None:
            self._loop.remove_reader(self._sock)
        self._reading = False

    def _on_socket_open(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._sock = sock
        self._reading = False
        self.resume()

    def _on_socket_close(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        if self._reading:
            self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        self._reading = False
        self._sock = None

    def _on_register_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.add_writer(sock, self._on_writable)

    def _on_unregister_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)

    def _on_writable(self) -> None:
        try:
            self.client.loop_write()
        except Exception as exc:
            self._fail(exc)
