"""The buffered paho client: one large socket read serves paho's many small ones, and its lean paths
for the per-message packets give what paho's own would."""

from __future__ import annotations

import select
import socket
import struct
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion, _ConnectionState
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

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


# ---- helpers: a client on one end of a socket pair, the test as the broker on the other ----------


def _remaining(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def publish_packet(
    topic: str,
    payload: bytes,
    *,
    qos: int,
    mid: int = 0,
    retain: bool = False,
    dup: bool = False,
    props: bytes = b"\x00",
) -> bytes:
    body = struct.pack("!H", len(topic.encode())) + topic.encode()
    if qos:
        body += struct.pack("!H", mid)
    body += props + payload
    header = 0x30 | (dup << 3) | (qos << 1) | retain
    return bytes([header]) + _remaining(len(body)) + body


class Pair:
    def __init__(
        self, client_class: type[mqtt.Client], *, manual_ack: bool = True, inflight: int = 20
    ) -> None:
        self.client = client_class(
            callback_api_version=CallbackAPIVersion.VERSION2,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=manual_ack,
        )
        self.client.max_inflight_messages_set(inflight)
        self.ours, self.broker = socket.socketpair()
        self.ours.setblocking(False)
        self.broker.settimeout(2)
        self.client._sock = self.ours
        self.client._state = _ConnectionState.MQTT_CS_CONNECTED
        self.messages: list[mqtt.MQTTMessage] = []
        self.client.on_message = lambda _c, _u, message: self.messages.append(message)
        # As under BrokerLink: paho queues what it sends until the loop finds the socket writable.
        self.client.on_socket_register_write = lambda _c, _u, _s: None

    def feed(self, data: bytes) -> None:
        """Send ``data`` as the broker and let the client read until it has taken all of it."""
        self.broker.sendall(data)
        client = self.client
        while select.select([self.ours], [], [], 0)[0] or (
            isinstance(client, BufferedClient) and client.buffered
        ):
            assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS

    def sent(self) -> bytes:
        self.client.loop_write()
        self.broker.setblocking(False)
        try:
            return self.broker.recv(1 << 20)
        except BlockingIOError:
            return b""
        finally:
            self.broker.setblocking(True)

    def close(self) -> None:
        self.ours.close()
        self.broker.close()


@pytest.fixture
def pairs() -> Iterator[tuple[Pair, Pair]]:
    lean, paho = Pair(BufferedClient), Pair(mqtt.Client)
    yield lean, paho
    lean.close()
    paho.close()


def seen(message: mqtt.MQTTMessage) -> tuple[object, ...]:
    properties = message.properties.json() if message.properties is not None else None  # type: ignore[no-untyped-call]
    return message.topic, message.payload, message.qos, message.mid, message.retain, message.dup, properties


def test_a_publish_reaches_on_message_as_paho_itself_delivers_it_with_or_without_properties(
    pairs: tuple[Pair, Pair],
) -> None:
    with_properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    with_properties.UserProperty = ("k", "v")
    packed = with_properties.pack()  # type: ignore[no-untyped-call]
    stream = b"".join(
        [
            publish_packet("parking/s/b/status", b'{"occupied": true}', qos=1, mid=7),
            publish_packet("parking/s/b/status", b"", qos=0, retain=True),
            publish_packet("parking/s/ü/status", b"x" * 300, qos=1, mid=65_535, dup=True),
            publish_packet("parking/s/b/status", b"{}", qos=1, mid=8, props=packed),
        ]
    )
    lean, paho = pairs
    lean.feed(stream)
    paho.feed(stream)
    assert [seen(m) for m in lean.messages] == [seen(m) for m in paho.messages]
    assert len(lean.messages) == 4 and lean.messages[3].properties.UserProperty == [("k", "v")]  # type: ignore[union-attr]


def test_without_manual_ack_a_qos_1_publish_is_acknowledged_on_receipt() -> None:
    pair = Pair(BufferedClient, manual_ack=False)
    try:
        pair.feed(publish_packet("parking/s/b/status", b"{}", qos=1, mid=513))
        assert pair.sent() == b"\x40\x02\x02\x01"
    finally:
        pair.close()


def test_acknowledgements_of_a_batch_go_out_as_paho_would_send_them_in_one_write(
    pairs: tuple[Pair, Pair],
) -> None:
    lean, paho = pairs
    sends: list[int] = []
    send = lean.client._sock_send

    def counted(buf: bytes | bytearray) -> int:
        sends.append(len(buf))
        return send(buf)

    lean.client._sock_send = counted  # type: ignore[method-assign]
    messages = [(1, 1), (2, 1), (300, 1), (4, 0)]
    assert isinstance(lean.client, BufferedClient)
    lean.client.acknowledge(messages)
    lean.client.publish("parking/state/s/b", b"{}", qos=1, retain=True)
    for mid, qos in messages:
        paho.client.ack(mid, qos)
    paho.client.publish("parking/state/s/b", b"{}", qos=1, retain=True)
    assert (
        lean.sent()
        == paho.sent()
        == b"\x40\x02\x00\x01\x40\x02\x00\x02\x40\x02\x01\x2c"
        + publish_packet("parking/state/s/b", b"{}", qos=1, mid=1, retain=True)
    )
    assert len(sends) == 1


def test_a_qos_0_publish_is_still_reported_published_once_written() -> None:
    pair = Pair(BufferedClient)
    try:
        first = pair.client.publish("parking/events/s/b", b"{}", qos=1)
        second = pair.client.publish("parking/events/s/b", b"{}", qos=0)
        assert pair.sent() == publish_packet(
            "parking/events/s/b", b"{}", qos=1, mid=first.mid
        ) + publish_packet("parking/events/s/b", b"{}", qos=0)
        assert second.is_published() and not first.is_published()
    finally:
        pair.close()


@pytest.mark.parametrize(
    "puback",
    [b"\x40\x02\x00\x01", b"\x40\x03\x00\x01\x00", b"\x40\x03\x00\x01\x10", b"\x40\x04\x00\x01\x10\x00"],
    ids=["short", "success", "no-subscribers", "empty-properties"],
)
def test_a_puback_completes_its_publish_as_in_paho(pairs: tuple[Pair, Pair], puback: bytes) -> None:
    results = []
    for pair in pairs:
        reasons: list[tuple[int, int, bool]] = []
        pair.client.on_publish = lambda _c, _u, mid, reason, props: reasons.append(  # noqa: B023
            (mid, reason.value, props.isEmpty())
        )
        info = pair.client.publish("parking/state/s/b", b"{}", qos=1)
        pair.feed(puback)
        results.append((reasons, info.is_published(), len(pair.client._out_messages)))
    assert results[0] == results[1] == ([(1, puback[4] if len(puback) > 4 else 0, True)], True, 0)


@pytest.mark.parametrize("client_class", [BufferedClient, mqtt.Client])
def test_publishes_held_back_by_the_inflight_window_go_out_as_acknowledgements_come_in(
    client_class: type[mqtt.Client],
) -> None:
    pair = Pair(client_class, inflight=2)
    try:
        mids = [pair.client.publish(f"parking/state/s/b{i}", b"{}", qos=1).mid for i in range(5)]
        assert pair.sent().count(b"parking/state/") == 2
        pair.feed(b"".join(b"\x40\x02" + struct.pack("!H", mid) for mid in mids[:2]))
        assert pair.sent().count(b"parking/state/") == 2
        pair.feed(b"".join(b"\x40\x02" + struct.pack("!H", mid) for mid in mids[2:4]))
        assert pair.sent().count(b"parking/state/") == 1
        pair.feed(b"\x40\x02" + struct.pack("!H", mids[4]))
        assert not pair.client._out_messages and pair.client._inflight_messages == 0
    finally:
        pair.close()
