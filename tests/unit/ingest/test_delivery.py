"""The delivery guarantees of the ingest core, without servers: what it asks for after each event."""

from __future__ import annotations

import json

import pytest

from ingest.delivery import (
    Ack,
    Action,
    AppendToSpool,
    Decoded,
    Delivery,
    DeliveryConfig,
    Isolation,
    KeepDeadLetters,
    Phase,
    ProtocolError,
    Publish,
    ReplaySpool,
    Write,
)
from parking.registry import Registry, load_registry
from parking.settings import DEFAULT_SITES_DIR

NOW_NS = 1_795_255_200_000_000_000  # 2026-11-21T10:00:00Z
TOPIC = "parking/showroom/A01/status"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(DEFAULT_SITES_DIR)


def core(registry: Registry, batch_size: int = 3) -> Delivery:
    delivery = Delivery(registry, DeliveryConfig(batch_size=batch_size, batch_interval_s=0.05))
    delivery.connected()
    return delivery


def receive(
    delivery: Delivery, mid: int, *, occupied: bool = True, topic: str = TOPIC, qos: int = 1
) -> list[Action]:
    payload = json.dumps({"occupied": occupied, "ts": NOW_NS // 1_000_000 - 1_000 + mid}).encode()
    return delivery.received(topic, payload, qos, mid, NOW_NS, float(mid))


def of(actions: list[Action], kind: type) -> list:  # type: ignore[type-arg]
    return [a for a in actions if isinstance(a, kind)]


def acked(actions: list[Action]) -> list[int]:
    return [mid for ack in of(actions, Ack) for mid, _ in ack.messages]


def test_a_full_batch_is_written_and_nothing_is_acknowledged_before_the_write_succeeds(
    registry: Registry,
) -> None:
    delivery = core(registry)
    assert receive(delivery, 1) == [] and receive(delivery, 2) == []
    actions = receive(delivery, 3)
    [write] = of(actions, Write)
    assert len(write.lines) == 3 and acked(actions) == []
    assert acked(delivery.written(write.batch)) == [1, 2, 3]


def test_a_partial_batch_is_written_when_its_interval_is_over(registry: Registry) -> None:
    delivery = core(registry)
    receive(delivery, 1)
    assert delivery.tick(1.04) == []
    assert delivery.next_deadline() == pytest.approx(1.05)
    [write] = of(delivery.tick(1.05), Write)
    assert len(write.lines) == 1


def test_when_influxdb_is_unreachable_the_batch_is_acknowledged_only_after_the_spool_took_it(
    registry: Registry,
) -> None:
    delivery = core(registry)
    receive(delivery, 1), receive(delivery, 2)
    [write] = of(receive(delivery, 3), Write)
    actions = delivery.write_unavailable(write.batch)
    assert actions == [AppendToSpool(write.batch, write.lines)]
    actions = delivery.spooled(write.batch)
    assert isinstance(actions[0], ReplaySpool) and acked(actions) == [1, 2, 3]


def test_batches_reach_the_spool_in_the_order_they_arrived(registry: Registry) -> None:
    delivery = core(registry, batch_size=2)
    receive(delivery, 1)
    [first] = of(receive(delivery, 2), Write)
    receive(delivery, 3)
    assert of(receive(delivery, 4), Write) == []  # one batch in flight at a time
    [spool_first] = of(delivery.write_unavailable(first.batch), AppendToSpool)
    actions = delivery.spooled(first.batch)
    [second] = of(actions, Write)
    assert acked(actions) == [1, 2]
    [spool_second] = of(delivery.write_unavailable(second.batch), AppendToSpool)
    assert acked(delivery.spooled(second.batch)) == [3, 4]
    assert spool_first.lines[0].endswith(str((NOW_NS // 1_000_000 - 999) * 1_000_000))
    assert spool_second.lines[0].endswith(str((NOW_NS // 1_000_000 - 997) * 1_000_000))


def test_a_refused_point_becomes_a_dead_letter_and_the_rest_of_its_batch_is_stored(
    registry: Registry,
) -> None:
    delivery = core(registry)
    receive(delivery, 1), receive(delivery, 2)
    [batch] = of(receive(delivery, 3), Write)
    [one] = of(delivery.write_refused(batch.batch, "field type conflict"), Write)
    assert one.lines == batch.lines[:1]
    [two] = of(delivery.written(one.batch), Write)
    assert two.lines == batch.lines[1:2]
    [three] = of(delivery.write_refused(two.batch, "field type conflict on line 2"), Write)
    assert three.lines == batch.lines[2:]
    actions = delivery.written(three.batch)
    [kept] = of(actions, KeepDeadLetters)
    [letter] = kept.letters
    assert letter.reason == "store_rejected" and letter.payload == batch.lines[1].encode()
    assert letter.detail == "field type conflict on line 2"
    assert actions.index(kept) < actions.index(of(actions, Ack)[0]) and acked(actions) == [1, 2, 3]


def test_isolation_tries_each_line_alone_in_order_and_letters_only_the_refused_ones() -> None:
    # The rule the core follows for live batches and the spool replay for spooled ones.
    isolation = Isolation.of(["a", "b", "c"])
    tried = []
    while (line := isolation.next_line) is not None:
        tried.append(line)
        if line == "b":
            isolation.refused_line("type conflict")
        else:
            isolation.stored()
    [letter] = isolation.dead_letters(NOW_NS)
    assert tried == ["a", "b", "c"]
    assert (letter.reason, letter.detail, letter.payload) == ("store_rejected", "type conflict", b"b")
    assert (letter.topic, letter.received_ns) == ("influxdb/write", NOW_NS)


def test_an_outage_while_isolating_spools_the_whole_batch(registry: Registry) -> None:
    delivery = core(registry)
    receive(delivery, 1), receive(delivery, 2)
    [batch] = of(receive(delivery, 3), Write)
    [one] = of(delivery.write_refused(batch.batch, "refused"), Write)
    assert delivery.write_unavailable(one.batch) == [AppendToSpool(batch.batch, batch.lines)]
    assert of(delivery.spooled(batch.batch), KeepDeadLetters) == []


def test_a_full_spool_stops_acknowledgements_and_then_stops_taking_messages(registry: Registry) -> None:
    delivery = core(registry, batch_size=2)
    receive(delivery, 1)
    [write] = of(receive(delivery, 2), Write)
    delivery.write_unavailable(write.batch)
    assert delivery.spool_failed(write.batch, now=10.0) == []
    assert delivery.phase is Phase.WAITING and delivery.next_deadline() == 10.5
    receive(delivery, 3), receive(delivery, 4)
    assert not delivery.accepting and delivery.pending == 4
    assert delivery.tick(10.4) == []
    [again] = of(delivery.tick(10.5), Write)
    assert again.lines == write.lines
    delivery.write_unavailable(again.batch)
    delivery.spool_failed(again.batch, now=11.0)
    assert delivery.next_deadline() == 12.0  # the delay doubles
    [retry] = of(delivery.tick(12.0), Write)
    actions = delivery.written(retry.batch)
    assert acked(actions) == [1, 2] and of(actions, Write)  # and the waiting batch goes next
    assert delivery.accepting


def test_acknowledgements_owed_on_a_lost_connection_are_not_sent(registry: Registry) -> None:
    delivery = core(registry)
    receive(delivery, 1), receive(delivery, 2)
    delivery.disconnected()
    delivery.connected()
    [write] = of(receive(delivery, 3), Write)
    [ack] = of(delivery.written(write.batch), Ack)
    assert ack.generation == delivery.generation and [mid for mid, _ in ack.messages] == [3]
    assert len(ack.received_mono) == 3  # all of them were stored, all count for the lag


def test_qos_0_messages_are_stored_but_not_acknowledged(registry: Registry) -> None:
    delivery = core(registry, batch_size=2)
    receive(delivery, 1, qos=0)
    [write] = of(receive(delivery, 2), Write)
    assert acked(delivery.written(write.batch)) == [2]


def test_a_batch_of_only_undecodable_messages_is_acknowledged_once_its_dead_letters_are_kept(
    registry: Registry,
) -> None:
    delivery = core(registry, batch_size=2)
    delivery.received(TOPIC, b"not json", 1, 1, NOW_NS, 1.0)
    actions = delivery.received("parking/showroom/NOPE/status", b'{"occupied": true}', 1, 2, NOW_NS, 2.0)
    assert of(actions, Write) == []
    [decoded] = of(actions, Decoded)
    assert (decoded.accepted, decoded.rejected) == (0, 2)
    [kept] = of(actions, KeepDeadLetters)
    assert [letter.reason for letter in kept.letters] == ["malformed_json", "unknown_bay"]
    assert acked(actions) == [1, 2]


def test_changes_are_published_after_the_write_each_bay_state_once_per_batch(registry: Registry) -> None:
    delivery = core(registry)
    receive(delivery, 1, occupied=True), receive(delivery, 2, occupied=False)
    [write] = of(receive(delivery, 3, occupied=True), Write)
    actions = delivery.written(write.batch)
    published = of(actions, Publish)
    events = [p for p in published if p.topic == "parking/events/showroom/A01"]
    states = [p for p in published if p.topic == "parking/state/showroom/A01"]
    assert len(events) == 3 and not any(p.retain for p in events)
    assert len(states) == 1 and states[0].retain and json.loads(states[0].payload)["status"] == "occupied"
    assert actions.index(of(actions, Ack)[0]) < actions.index(published[0])


def test_a_result_no_action_asked_for_is_a_protocol_error(registry: Registry) -> None:
    delivery = core(registry)
    with pytest.raises(ProtocolError):
        delivery.written(1)
    receive(delivery, 1), receive(delivery, 2)
    [write] = of(receive(delivery, 3), Write)
    with pytest.raises(ProtocolError):
        delivery.spooled(write.batch)
