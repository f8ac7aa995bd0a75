"""paho-mqtt driven by the asyncio event loop, with reads buffered and paused on demand.

paho's own network thread (``loop_start``) costs the ingester most of its time on a small machine:
the two threads take turns on the GIL, every acknowledgement or publish from the event loop wakes
the network thread through a socket pair, and paho reads each packet in three or more ``recv``
calls. Here the event loop runs paho through its documented external-loop interface
(``on_socket_open``/``register_write``, ``loop_read``/``loop_write``/``loop_misc``), so messages,
acknowledgements and publishes stay in one thread, and the socket is read 64 KiB at a time.

Reading pauses while ``accepting()`` is false: the broker then holds the rest (Receive Maximum), as
it did when paho's thread waited in ``on_message``.

``BufferedClient`` also takes the per-message packets a leaner way than paho 2.x's MQTT v5 code,
which was most of the ingester's time (py-spy, bench drain: building a Properties object for every
PUBLISH and a ReasonCode and Properties for every PUBACK, a scan of all unacknowledged publishes at
each PUBACK, a send() per 4-byte acknowledgement): what it hands on is what paho would
(tests/unit/ingest/test_brokerlink.py compares the two), and anything unusual (properties, QoS 2,
paho's logging turned on) still goes paho's way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MessageState, MessageType, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

if TYPE_CHECKING:
    from paho.mqtt.client import _OutPacket

log = logging.getLogger(__name__)

READ_CHUNK = 65_536

_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS
_PUBACK = struct.Struct("!BBH")
# What paho would build anew for every PUBACK of a publish without properties (the reason codes
# mosquitto sends: success, and "no matching subscribers" for a state nobody watches yet).
_ACK_TYPES = {"PUBACK": PacketTypes.PUBACK, "PUBCOMP": PacketTypes.PUBCOMP}
_ACK_REASONS = {
    (cmd, value): ReasonCode(packet_type, identifier=value)
    for cmd, packet_type in _ACK_TYPES.items()
    for value in (0, 16)
    if packet_type == PacketTypes.PUBACK or value == 0
}
_NO_ACK_PROPERTIES = {cmd: Properties(packet_type) for cmd, packet_type in _ACK_TYPES.items()}  # type: ignore[no-untyped-call]
_NO_PUBLISH_PROPERTIES = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
_RECEIVED_INFO = mqtt.MQTTMessageInfo(0)


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

    # ---- the per-message paths, lean -------------------------------------------------------------

    def acknowledge(self, messages: Iterable[tuple[int, int]]) -> None:
        """Acknowledge (mid, qos) messages received with ``manual_ack``: the PUBACKs of QoS 1 go out
        as one queued write (paho's ``ack`` queues and sends each 4-byte packet on its own)."""
        pubacks = bytearray()
        for mid, qos in messages:
            if qos == 1:
                pubacks += _PUBACK.pack(MessageType.PUBACK, 2, mid)
            else:
                self.ack(mid, qos)
        if pubacks:
            self._packet_queue(MessageType.PUBACK, pubacks, 0, 0)

    def _packet_write(self) -> MQTTErrorCode:
        # paho sends every queued packet with a send() of its own (and, with TCP_NODELAY, a TCP
        # segment each): the acknowledgements and publishes of a batch go out together instead.
        queue = self._out_packet
        if len(queue) > 1:
            _coalesce(queue)
        return super()._packet_write()

    @property
    def _lean(self) -> bool:
        # MQTT v5, and no paho logging asked for (the lean paths do not log each packet).
        return self._protocol == MQTTProtocolVersion.MQTTv5 and self._logger is None and self.on_log is None

    def _handle_publish(self) -> MQTTErrorCode:
        # An MQTT v5 PUBLISH of QoS 0 or 1 without properties (every sensor message): paho builds
        # a Properties object per message (two dictionaries of 30 entries, then a pass over them)
        # that costs more than decoding the reading. Anything else goes paho's way.
        packet = self._in_packet["packet"]
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if qos == 2 or not self._lean or len(packet) < 3:
            return super()._handle_publish()
        topic_end = 2 + (packet[0] << 8 | packet[1])
        at = topic_end + 2 * qos  # after the packet id of QoS 1
        if at >= len(packet) or packet[at] != 0:  # properties, or a packet paho should refuse
            return super()._handle_publish()
        # A received message needs no publish tracking: no MQTTMessageInfo (and its Condition) each.
        message = mqtt.MQTTMessage.__new__(mqtt.MQTTMessage)
        message.info = _RECEIVED_INFO
        message.state = mqtt.mqtt_ms_invalid
        message.mid = mid = packet[topic_end] << 8 | packet[topic_end + 1] if qos else 0
        message.topic = bytes(packet[2:topic_end])
        message.dup = bool(header & 0x08)
        message.qos = qos
        message.retain = bool(header & 0x01)
        message.properties = _NO_PUBLISH_PROPERTIES
        message.payload = bytes(memoryview(packet)[at + 1 :])
        message.timestamp = mqtt.time_func()
        self._handle_on_message(message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return _SUCCESS

    # paho's inflight window: at every PUBACK it looks through all unacknowledged publishes, in
    # order, for one it held back (state QUEUED); with a thousand in flight (the acknowledgements
    # of our states queue behind a backlog of sensor messages) that scan costs more than the
    # message. The held-back ones are kept in order here, so the next one is found at once.
    _held_back: deque[int] | None = None

    def publish(
        self,
        topic: str,
        payload: mqtt.PayloadType = None,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> mqtt.MQTTMessageInfo:
        info = super().publish(topic, payload, qos, retain, properties)
        message = self._out_messages.get(info.mid) if qos else None
        if message is not None and message.state == MessageState.MQTT_MS_QUEUED:
            self._held().append(info.mid)
        return info

    def _held(self) -> deque[int]:
        if self._held_back is None:
            self._held_back = deque()
        return self._held_back

    def _messages_reconnect_reset_out(self) -> None:
        super()._messages_reconnect_reset_out()
        self._held_back = deque(
            mid for mid, m in self._out_messages.items() if m.state == MessageState.MQTT_MS_QUEUED
        )

    def _update_inflight(self) -> MQTTErrorCode:
        # paho's own rule (send held-back publishes oldest first while the window has room), in
        # the order paho keeps them.
        held = self._held()
        while held and self._inflight_messages < self._max_inflight_messages:
            m = self._out_messages.get(held.popleft())
            if m is None or m.qos == 0 or m.state != MessageState.MQTT_MS_QUEUED:
                continue
            self._inflight_messages += 1
            if m.qos == 1:
                m.state = MessageState.MQTT_MS_WAIT_FOR_PUBACK
            else:
                m.state = MessageState.MQTT_MS_WAIT_FOR_PUBREC
            rc = self._send_publish(
                m.mid, m.topic.encode("utf-8"), m.payload, m.qos, m.retain, m.dup, properties=m.properties
            )
            if rc != _SUCCESS:
                return rc
        return _SUCCESS

    # paho matches every message's topic against the callbacks of message_callback_add (a walk of
    # its topic tree) even when there are none.
    _filtered_callbacks = False

    def message_callback_add(self, sub: str, callback: mqtt.CallbackOnMessage) -> None:
        self._filtered_callbacks = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        if self._filtered_callbacks:
            super()._handle_on_message(message)
            return
        on_message = self.on_message
        if on_message is None:
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> MQTTErrorCode:
        # The broker's answer to each state or event we publish; paho builds a ReasonCode (a copy
        # of a 60-entry table) and a Properties object for each.
        packet = self._in_packet["packet"]
        size = len(packet)
        if self._lean and 2 <= size <= 4:
            reason = _ACK_REASONS.get((cmd, packet[2] if size > 2 else 0))
            if reason is not None and (size < 4 or packet[3] == 0):
                mid = packet[0] << 8 | packet[1]
                with self._out_message_mutex:
                    if mid in self._out_messages:
                        return self._do_on_publish(mid, reason, _NO_ACK_PROPERTIES[cmd])
                return _SUCCESS
        return super()._handle_pubackcomp(cmd)


def _coalesce(queue: deque[_OutPacket]) -> None:
    """Join runs of queued packets that need nothing once written into one (in order): all but a
    QoS 0 PUBLISH (paho reports it published when written), a DISCONNECT (the socket closes after
    it) and a packet already partly sent."""
    merged: list[_OutPacket] = []
    run: list[_OutPacket] = []
    for packet in queue:
        kind = packet["command"] & 0xF0
        if (
            packet["pos"] == 0
            and kind != MessageType.DISCONNECT
            and (kind != MessageType.PUBLISH or packet["qos"])
        ):
            run.append(packet)
            continue
        merged.extend(_joined(run))
        run = []
        merged.append(packet)
    merged.extend(_joined(run))
    if len(merged) < len(queue):
        queue.clear()
        queue.extend(merged)


def _joined(run: list[_OutPacket]) -> list[_OutPacket]:
    if len(run) < 2:
        return run
    data = b"".join(packet["packet"] for packet in run)
    # command 0: no packet type, so paho does nothing after writing it
    return [
        {"command": 0, "mid": 0, "qos": 0, "pos": 0, "to_process": len(data), "packet": data, "info": None}
    ]


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
