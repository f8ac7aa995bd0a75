"""Live event fan-out: numbered events, resumption, and bounded queues."""

from __future__ import annotations

import asyncio

from api.broadcast import Broadcaster


def test_a_client_resumes_after_its_last_event() -> None:
    hub = Broadcaster(replay=10)
    for n in range(5):
        hub.publish("bay", {"n": n})
    resumed = hub.since(3)
    assert resumed is not None and [e.data["n"] for e in resumed] == [3, 4]


def test_a_client_too_far_behind_must_resync() -> None:
    hub = Broadcaster(replay=3)
    for n in range(10):
        hub.publish("bay", {"n": n})
    assert hub.since(2) is None


def test_an_id_from_another_process_is_not_trusted() -> None:
    hub = Broadcaster()
    hub.publish("bay", {})
    assert hub.parse_id(hub.event_id(1)) == 1
    assert hub.parse_id("deadbeef-1") is None and hub.parse_id("garbage") is None


def test_a_slow_client_is_dropped_with_a_resync_marker_instead_of_buffering_forever() -> None:
    async def scenario() -> None:
        hub = Broadcaster(client_queue=3)
        queue = hub.subscribe()
        for n in range(5):
            hub.publish("bay", {"n": n})
        assert hub.clients == 0
        assert queue.get_nowait() is None

    asyncio.run(scenario())


def test_passing_events_reach_the_clients_but_are_neither_numbered_nor_replayed() -> None:
    async def scenario() -> None:
        hub = Broadcaster(replay=10)
        queue = hub.subscribe()
        hub.publish("bay", {"n": 1})
        hub.publish_passing("vehicles", {"site": "town-centre"}, '{"site":"town-centre"}')
        assert hub.last_id == 1 and hub.since(0) is not None and len(hub.since(0) or []) == 1
        first, second = queue.get_nowait(), queue.get_nowait()
        assert first is not None and first.id == 1
        assert second is not None and second.id == 0 and second.raw == '{"site":"town-centre"}'

    asyncio.run(scenario())
