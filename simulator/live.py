"""Live mode: drive a model in accelerated time and publish each bay change exactly as a sensor would."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from paho.mqtt.reasoncodes import ReasonCode

from parking import topics
from parking.events import ns_to_rfc3339
from parking.mqtt import make_client
from parking.registry import Site
from parking.settings import CommonSettings

log = logging.getLogger(__name__)


class Change(Protocol):
    @property
    def bay(self) -> str: ...
    @property
    def occupied(self) -> bool: ...
    @property
    def t_s(self) -> float: ...


class ChangeSource(Protocol):
    def advance(self, until_s: float) -> Sequence[Change]: ...


@dataclass(frozen=True, slots=True)
class Flip:
    bay: str
    occupied: bool
    t_s: float


class TurnoverModel:
    """Each bay alternates between free and occupied with exponential durations.

    A plain renewal process: enough to make a screen lively; the search model in ``engine`` is the
    one that computes the steering benefit.
    """

    def __init__(
        self, site: Site, rng: np.random.Generator, occupancy: float = 0.7, mean_dwell_s: float = 1_800.0
    ) -> None:
        self._bays = list(site.bays)
        self._rng = rng
        self._mean_busy = mean_dwell_s
        self._mean_free = mean_dwell_s * (1 - occupancy) / occupancy
        self._occupied = rng.random(len(self._bays)) < occupancy
        self._next = rng.exponential(np.where(self._occupied, self._mean_busy, self._mean_free))
        self._initial = True

    def advance(self, until_s: float) -> list[Flip]:
        changes: list[Flip] = []
        if self._initial:
            # Announce the starting state so the screen fills at once.
            changes += [Flip(b, bool(o), 0.0) for b, o in zip(self._bays, self._occupied, strict=True)]
            self._initial = False
        while True:
            due = np.flatnonzero(self._next <= until_s)
            if due.size == 0:
                return changes
            for i in due[np.argsort(self._next[due])]:
                t = float(self._next[i])
                self._occupied[i] = not self._occupied[i]
                changes.append(Flip(self._bays[i], bool(self._occupied[i]), t))
                mean = self._mean_busy if self._occupied[i] else self._mean_free
                self._next[i] = t + self._rng.exponential(mean)


def native_payload(occupied: bool, time_ns: int) -> bytes:
    return json.dumps({"occupied": occupied, "ts": ns_to_rfc3339(time_ns)}).encode()


def run_live(
    settings: CommonSettings,
    site: Site,
    source: ChangeSource,
    speed: float,
    stop: threading.Event,
    tick_s: float = 0.1,
) -> int:
    """Publish until ``stop`` is set; returns the number of messages published.

    Simulated time runs ``speed`` times faster than the wall clock, but every message carries the
    wall-clock time of its publication, as a real sensor's would.
    """
    client = make_client(settings, f"parklotse-sim-{site.id}-{int(time.time() * 1000) % 10**8}")
    connected = threading.Event()

    def on_connect(_c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            log.error("broker refused the simulator: %s", reason)
        else:
            connected.set()

    client.on_connect = on_connect
    client.max_queued_messages_set(10_000)
    endpoint = settings.mqtt
    client.connect_async(endpoint.host, endpoint.port, keepalive=30)
    client.loop_start()
    published = 0
    try:
        while not connected.wait(0.2):
            if stop.is_set():
                return 0
        log.info("simulating site %r (%d bays) at %g× real time", site.id, len(site.bays), speed)
        sim_s, last = 0.0, time.monotonic()
        while not stop.wait(tick_s):
            now = time.monotonic()
            sim_s += (now - last) * speed
            last = now
            for change in source.advance(sim_s):
                payload = native_payload(change.occupied, time.time_ns())
                client.publish(topics.native_status(site.id, change.bay), payload, qos=1)
                published += 1
    finally:
        client.disconnect()
        client.loop_stop()
    return published
