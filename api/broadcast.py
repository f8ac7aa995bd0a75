"""Fan-out of live events to SSE clients, with numbered events so a client can resume.

Each event gets a monotonically increasing id; the last N are kept so that a client reconnecting
with ``Last-Event-ID`` receives what it missed. A slow client's queue is bounded: when it
overflows, the client is told to resynchronise instead of the server buffering without limit.

Passing events (car positions twice a second, the simulator's status every second) are not numbered
and not kept: they would push the bay changes out of the replay, and a client that missed one simply
takes the next.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

# An event number has at most this many digits (a 64-bit count); a longer one is not ours, and
# int() of thousands of digits costs time or raises (Python caps int() at 4,300 digits).
MAX_ID_DIGITS = 19


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: int  # 0: a passing event, not numbered and not kept for replay
    kind: str
    data: dict[str, Any]
    raw: str | None = None  # the data as JSON already, sent as it is (``data`` then only routes it)


class Broadcaster:
    def __init__(self, replay: int = 10_000, client_queue: int = 2_000) -> None:
        self._history: deque[LiveEvent] = deque(maxlen=max(replay, 1))
        self._clients: set[asyncio.Queue[LiveEvent | None]] = set()
        self._client_queue = client_queue
        self._next_id = 1
        # Ids are "<epoch>-<n>": after an API restart a client's old id does not match and it resyncs.
        self.epoch = secrets.token_hex(4)

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    @property
    def clients(self) -> int:
        return len(self._clients)

    def publish(self, kind: str, data: dict[str, Any]) -> LiveEvent:
        event = LiveEvent(self._next_id, kind, data)
        self._next_id += 1
        self._history.append(event)
        self._fan_out(event)
        return event

    def publish_passing(self, kind: str, data: dict[str, Any], raw: str | None = None) -> LiveEvent:
        """An event for the clients connected now, neither numbered nor kept for replay."""
        event = LiveEvent(0, kind, data, raw)
        self._fan_out(event)
        return event

    def _fan_out(self, event: LiveEvent) -> None:
        for queue in list(self._clients):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A client this far behind gets a resync marker (None) and is dropped.
                self._clients.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    def event_id(self, number: int) -> str:
        return f"{self.epoch}-{number}"

    def parse_id(self, value: str | None) -> int | None:
        """The event number of a Last-Event-ID from this process, else None (the client then gets
        a fresh snapshot: whatever a client sends here, it never fails the request)."""
        if not value:
            return None
        epoch, _, number = value.partition("-")
        if epoch != self.epoch or not 0 < len(number) <= MAX_ID_DIGITS:
            return None
        # isascii: str.isdigit() also holds for digits int() does not read, such as '²'.
        return int(number) if number.isascii() and number.isdigit() else None

    def since(self, last_id: int) -> list[LiveEvent] | None:
        """Events after ``last_id``, or None when they are no longer all kept (client must resync)."""
        if last_id > self.last_id:
            return None
        if last_id == self.last_id:
            return []
        if not self._history or self._history[0].id > last_id + 1:
            return None
        return [e for e in self._history if e.id > last_id]

    def subscribe(self) -> asyncio.Queue[LiveEvent | None]:
        queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(self._client_queue)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LiveEvent | None]) -> None:
        self._clients.discard(queue)
