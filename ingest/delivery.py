"""The ingester's delivery rules as a synchronous state machine, in the style of h11.

``Delivery`` does no I/O and reads no clock: the caller tells it what happened (a message arrived,
a write succeeded, failed or was refused, the spool took a batch or was full, time passed, the
broker connection came or went) and carries out the actions it returns (write these lines, append
them to the spool, acknowledge these messages, keep these dead letters, publish this). So every
guarantee is a property of this class, testable in milliseconds:

- a message is acknowledged only after its batch is durable: written to InfluxDB, or appended to
  the spool while InfluxDB is unreachable (a batch whose messages were all refused by the decoder
  is durable once its dead letters are kept);
- one batch is in flight at a time, and batches are acknowledged in the order they arrived, so the
  spool receives them in arrival order and replays them in that order;
- a batch InfluxDB refuses is written again point by point: only the refused points become dead
  letters, the others are stored;
- while the spool is full nothing is acknowledged; the batch is retried with a growing delay, the
  next batch fills up and then ``accepting`` turns false, so the broker holds the rest;
- acknowledgements owed on a connection are void once it is gone (the broker redelivers those
  messages, and a packet id may already be reused on the new connection).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum, auto

from ingest.deadletters import DeadLetter, dead_letter
from ingest.decode import DecodeLimits, decode
from ingest.rejections import Reason, Rejection
from parking import topics
from parking.events import BayReading, DroppedField
from parking.lineprotocol import reading_lines
from parking.messages import event_message
from parking.registry import Registry
from parking.state import BayState, LiveState, supersedes

# Where the lines InfluxDB refused are said to come from, in their dead letters.
STORE_TOPIC = "influxdb/write"


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    batch_size: int = 1_000
    batch_interval_s: float = 0.05
    retry_initial_s: float = 0.5
    retry_max_s: float = 15.0
    limits: DecodeLimits = field(default_factory=DecodeLimits)


# ---- actions (what the caller must do) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Write:
    """Write these lines to InfluxDB; answer with ``written``, ``write_refused`` or ``write_unavailable``."""

    batch: int
    lines: list[str]


@dataclass(frozen=True, slots=True)
class AppendToSpool:
    """Append these lines durably to the spool; answer with ``spooled`` or ``spool_failed``."""

    batch: int
    lines: list[str]


@dataclass(frozen=True, slots=True)
class ReplaySpool:
    """The spool holds data: drain it into InfluxDB (oldest first) once InfluxDB answers."""


@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledge these (mid, qos) to the broker, on the connection counted as ``generation``.

    ``received_mono`` are the receive times of every message of the batch (acknowledged or not),
    for the lag figure.
    """

    generation: int
    messages: list[tuple[int, int]]
    received_mono: list[float]


@dataclass(frozen=True, slots=True)
class KeepDeadLetters:
    """Keep these (file, topic, counters) before the acknowledgement that follows."""

    letters: list[DeadLetter]


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: str
    retain: bool


@dataclass(frozen=True, slots=True)
class Decoded:
    """What decoding a batch found, for the counters and logs: emitted when the batch closes."""

    accepted: int
    rejected: int
    last_received_ns: int
    last_received_mono: float
    dropped: list[tuple[DroppedField, str, bytes]]


Action = Write | AppendToSpool | ReplaySpool | Ack | KeepDeadLetters | Publish | Decoded


class Phase(Enum):
    WRITING = auto()
    ISOLATING = auto()  # InfluxDB refused the batch: writing it point by point
    SPOOLING = auto()
    WAITING = auto()  # neither InfluxDB nor the spool took it: retry at ``retry_at``


class ProtocolError(RuntimeError):
    """The caller reported a result no action asked for (a bug in the I/O layer)."""


@dataclass(slots=True)
class Isolation:
    """A batch InfluxDB refused, written again one line at a time: the lines it refuses alone become
    dead letters (``store_rejected``), the others are stored. The one place for that rule: the core
    drives it for live batches, the spool replay for spooled ones (``ingest.service``)."""

    untried: deque[str]
    refused: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, lines: Iterable[str]) -> Isolation:
        return cls(deque(lines))

    @property
    def next_line(self) -> str | None:
        """The line to write alone next; None once every line was tried."""
        return self.untried[0] if self.untried else None

    def stored(self) -> None:
        """InfluxDB took ``next_line``."""
        self.untried.popleft()

    def refused_line(self, reason: str) -> None:
        """InfluxDB refused ``next_line`` alone."""
        self.refused.append((self.untried.popleft(), reason))

    def dead_letters(self, received_ns: int) -> list[DeadLetter]:
        return [
            dead_letter(Rejection(Reason.STORE_REJECTED, reason), STORE_TOPIC, line.encode(), received_ns)
            for line, reason in self.refused
        ]


@dataclass(slots=True)
class _Batch:
    seq: int = 0
    # (mid, qos, generation, received_mono) of each message, in arrival order.
    messages: list[tuple[int, int, int, float]] = field(default_factory=list)
    readings: list[BayReading] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    dropped: list[tuple[DroppedField, str, bytes]] = field(default_factory=list)
    accepted: int = 0
    opened_mono: float = 0.0
    last_received_ns: int = 0
    lines: list[str] = field(default_factory=list)
    isolation: Isolation | None = None  # while InfluxDB's refusal is being narrowed down


_NOTHING: list[Action] = []


class Delivery:
    """Batches, decodes, stores-or-spools and acknowledges; see the module docstring for the rules."""

    def __init__(self, registry: Registry, config: DeliveryConfig = DeliveryConfig()) -> None:
        self.registry = registry
        self.config = config
        self.state = LiveState(registry)
        self.generation = 0
        self._open = _Batch()
        self._inflight: _Batch | None = None
        self._phase: Phase | None = None
        self._seq = 0
        self._delay = config.retry_initial_s
        self._retry_at = 0.0

    # ---- what the caller asks ------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """False while the next batch is full and the one before is not yet durable: stop feeding."""
        return len(self._open.messages) < self.config.batch_size

    @property
    def phase(self) -> Phase | None:
        """What the batch in flight waits for (None: no batch in flight)."""
        return self._phase

    @property
    def pending(self) -> int:
        """Messages received and not yet durable."""
        inflight = len(self._inflight.messages) if self._inflight else 0
        return inflight + len(self._open.messages)

    def next_deadline(self) -> float | None:
        """The monotonic time at which ``tick`` has something to do (None: only events will)."""
        if self._phase is Phase.WAITING:
            return self._retry_at
        if self._inflight is None and self._open.messages:
            return self._open.opened_mono + self.config.batch_interval_s
        return None

    # ---- events --------------------------------------------------------------------------------

    def connected(self) -> None:
        self.generation += 1

    def disconnected(self) -> None:
        # Acks owed on the lost connection are void: the broker redelivers those messages.
        self.generation += 1

    def received(
        self, topic: str, payload: bytes, qos: int, mid: int, received_ns: int, received_mono: float
    ) -> list[Action]:
        """A message from the broker. Call only while ``accepting``."""
        batch = self._open
        if not batch.messages:
            batch.opened_mono = received_mono
        batch.messages.append((mid, qos, self.generation, received_mono))
        batch.last_received_ns = received_ns
        result = decode(topic, payload, self.registry, received_ns, self.config.limits)
        if isinstance(result, Rejection):
            batch.letters.append(dead_letter(result, topic, payload, received_ns))
        else:
            batch.accepted += 1
            batch.readings.extend(result)
            for reading in result:
                for dropped in reading.dropped:
                    batch.dropped.append((dropped, topic, payload))
        if len(batch.messages) >= self.config.batch_size and self._inflight is None:
            return self._send_open()
        return _NOTHING

    def tick(self, now: float) -> list[Action]:
        """Time passed: close a batch whose interval is over, or retry a batch nothing took."""
        if self._phase is Phase.WAITING and now >= self._retry_at:
            assert self._inflight is not None
            self._phase = Phase.WRITING
            return [Write(self._inflight.seq, self._inflight.lines)]
        if (
            self._inflight is None
            and self._open.messages
            and now >= self._open.opened_mono + self.config.batch_interval_s
        ):
            return self._send_open()
        return _NOTHING

    def written(self, batch: int) -> list[Action]:
        """InfluxDB took the lines of the last ``Write``."""
        inflight = self._expect(batch, Phase.WRITING, Phase.ISOLATING)
        if inflight.isolation is not None:
            inflight.isolation.stored()
            return self._isolate_next(inflight, inflight.isolation)
        return self._durable(inflight)

    def write_refused(self, batch: int, reason: str) -> list[Action]:
        """InfluxDB refused the lines of the last ``Write`` (a 4xx: it will refuse them again)."""
        inflight = self._expect(batch, Phase.WRITING, Phase.ISOLATING)
        isolation = inflight.isolation
        if isolation is not None:
            isolation.refused_line(reason)
        else:
            self._phase = Phase.ISOLATING
            isolation = inflight.isolation = Isolation.of(inflight.lines)
        return self._isolate_next(inflight, isolation)

    def write_unavailable(self, batch: int) -> list[Action]:
        """InfluxDB did not answer: spool the whole batch (rewriting points it took is harmless)."""
        inflight = self._expect(batch, Phase.WRITING, Phase.ISOLATING)
        self._phase = Phase.SPOOLING
        inflight.isolation = None
        return [AppendToSpool(inflight.seq, inflight.lines)]

    def spooled(self, batch: int) -> list[Action]:
        inflight = self._expect(batch, Phase.SPOOLING)
        return [ReplaySpool(), *self._durable(inflight)]

    def spool_failed(self, batch: int, now: float) -> list[Action]:
        """The spool is full or cannot be written: hold the batch unacknowledged, retry later."""
        self._expect(batch, Phase.SPOOLING)
        self._phase = Phase.WAITING
        self._retry_at = now + self._delay
        self._delay = min(self._delay * 2, self.config.retry_max_s)
        return _NOTHING

    def seed(self, states: Iterable[BayState]) -> None:
        """States read from InfluxDB at start-up; readings that arrived meanwhile may be newer."""
        for state in states:
            current = self.state.get(state.site, state.bay)
            if current is not None and supersedes(state, current):
                self.state.put(state)

    # ---- inside --------------------------------------------------------------------------------

    def _expect(self, batch: int, *phases: Phase) -> _Batch:
        inflight = self._inflight
        if inflight is None or inflight.seq != batch or self._phase not in phases:
            raise ProtocolError(
                f"no batch {batch} waiting in {[p.name for p in phases]} (phase {self._phase})"
            )
        return inflight

    def _send_open(self) -> list[Action]:
        batch, self._open = self._open, _Batch()
        self._seq += 1
        batch.seq = self._seq
        batch.lines = [line for reading in batch.readings for line in reading_lines(reading)]
        last_mono = batch.messages[-1][3]
        decoded = Decoded(
            batch.accepted, len(batch.letters), batch.last_received_ns, last_mono, batch.dropped
        )
        self._inflight = batch
        if not batch.lines:
            return [decoded, *self._durable(batch)]
        self._phase = Phase.WRITING
        return [decoded, Write(batch.seq, batch.lines)]

    def _isolate_next(self, inflight: _Batch, isolation: Isolation) -> list[Action]:
        line = isolation.next_line
        if line is not None:
            return [Write(inflight.seq, [line])]
        inflight.letters.extend(isolation.dead_letters(inflight.last_received_ns))
        inflight.isolation = None
        return self._durable(inflight)

    def _durable(self, batch: _Batch) -> list[Action]:
        """The batch is safe: keep its dead letters, acknowledge it, show its changes, send the next."""
        actions: list[Action] = []
        if batch.letters:
            actions.append(KeepDeadLetters(batch.letters))
        generation = self.generation
        actions.append(
            Ack(
                generation,
                [(mid, qos) for mid, qos, gen, _ in batch.messages if qos > 0 and gen == generation],
                [mono for *_, mono in batch.messages],
            )
        )
        actions.extend(self._changes(batch.readings))
        self._inflight = None
        self._phase = None
        self._delay = self.config.retry_initial_s
        if len(self._open.messages) >= self.config.batch_size:
            actions.extend(self._send_open())
        return actions

    def _changes(self, readings: list[BayReading]) -> list[Publish]:
        """Each status change as an event; each touched bay's final state once per batch (retained).

        A backlog holds many readings per bay; republishing the state after every one of them
        would double the broker traffic for no new information.
        """
        out: list[Publish] = []
        latest: dict[tuple[str, str], BayState] = {}
        for reading in readings:
            before = self.state.get(reading.site, reading.bay)
            after = self.state.apply(reading)
            if after is None:
                continue
            latest[(reading.site, reading.bay)] = after
            if before is None or before.status != after.status:
                previous = None if before is None else before.status
                event = event_message(after, reading.time_ns, reading.source, previous)
                out.append(Publish(topics.event(reading.site, reading.bay), json.dumps(event), retain=False))
        for (site, bay), state in latest.items():
            out.append(Publish(topics.state(site, bay), json.dumps(state.as_message()), retain=True))
        return out
