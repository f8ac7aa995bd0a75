"""Test helpers: waiting on conditions with deadlines, and a real MQTT subscriber that records."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from parking.processes import stop_process, stop_processes
from parking.settings import parse_mqtt_url

T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent


def wait_for(
    predicate: Callable[[], T], timeout_s: float = 10.0, what: str = "condition", interval_s: float = 0.05
) -> T:
    """Poll until ``predicate`` returns something truthy; fail with ``what`` after the deadline.

    The sleep between polls does not run Playwright's sync event loop: a predicate that only reads
    what a route handler recorded never sees it change. Wait on the page instead (its own waits).
    """
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last value: {last!r})")


def mqtt_client(url: str, client_id: str = "") -> mqtt.Client:
    endpoint = parse_mqtt_url(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    assert connected.wait(10), f"could not connect to {url}"
    return client


@dataclass
class Recorder:
    """Subscribes to a filter and keeps every message (topic, payload, retain)."""

    url: str
    topic_filter: str
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt_client(self.url)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.subscribe(self.topic_filter, qos=1)
        assert self._subscribed.wait(10)

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def snapshot(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def wait(self, count: int = 1, timeout_s: float = 10.0) -> list[tuple[str, bytes, bool]]:
        """At least ``count`` messages, waiting up to the deadline for them."""
        wait_for(
            lambda: len(self.snapshot()) >= count, timeout_s, f"{count} message(s) on {self.topic_filter}"
        )
        return self.snapshot()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_all(url: str, messages: list[tuple[str, bytes]], qos: int = 1) -> None:
    """Publish and wait until the broker acknowledged every message."""
    client = mqtt_client(url)
    try:
        infos = [client.publish(topic, payload, qos=qos) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def influx_query(url: str, db: str, q: str) -> list[dict[str, object]]:
    """Rows of the first series of an InfluxQL query, straight over HTTP (no project code involved)."""
    response = httpx.get(f"{url}/query", params={"db": db, "q": q, "epoch": "ns"}, timeout=10)
    response.raise_for_status()
    result = response.json()["results"][0]
    assert "error" not in result, result
    rows: list[dict[str, object]] = []
    for series in result.get("series", []):
        for values in series["values"]:
            rows.append({**series.get("tags", {}), **dict(zip(series["columns"], values, strict=True))})
    return rows


# Every process a test started, so that the session can stop what a failed test left behind.
STARTED: list[subprocess.Popen[bytes]] = []


def stop_leftovers() -> int:
    """Stop every started process that still runs; returns how many there were."""
    left = [process for process in STARTED if process.poll() is None]
    stop_processes(left, 10)
    STARTED.clear()
    return len(left)


@dataclass
class Service:
    """A ``parklotse`` subcommand in its own process, with its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "parklotse", *self.argv],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        STARTED.append(self.process)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 15) -> int | None:
        if self.process is None:
            return None
        return stop_process(self.process, timeout_s)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """(event, data, id) of each Server-Sent Event in a stream of lines."""
    event, event_id = "message", ""
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data), event_id
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value


class Fleet:
    """Sensors publishing at a steady pace, at least once: a persistent session and resends.

    Each message is (topic, payload); ``published`` counts those the broker acknowledged.
    """

    def __init__(
        self, url: str, messages: list[tuple[str, bytes]], rate_per_s: float, client_id: str
    ) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.messages = messages
        self.rate = rate_per_s
        endpoint = parse_mqtt_url(url)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(1, 2)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 600
        # Messages published while disconnected stay queued in paho and are sent on reconnect; their
        # MessageInfo reports an error, so acks are tracked by packet id instead.
        self._acked: set[int] = set()
        self._mids: list[int] = []
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.client.connect(endpoint.host, endpoint.port, clean_start=False, properties=props)
        self.client.loop_start()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Fleet:
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        for index, (topic, payload) in enumerate(self.messages):
            due = started + index / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            # Keep paho's client-side queue short: its cost grows with the queue's length.
            while self.unacked() >= 300:
                time.sleep(0.005)
            # Not under our lock: paho may call on_publish while holding its own locks.
            mid = self.client.publish(topic, payload, qos=1).mid
            with self._lock:
                self._mids.append(mid)
            self.sent = index + 1

    def _on_publish(self, _c: object, _u: object, mid: int, _rc: object, _p: object) -> None:
        with self._lock:
            self._acked.add(mid)

    def unacked(self) -> int:
        with self._lock:
            return sum(1 for mid in self._mids[-400:] if mid not in self._acked)

    def wait_sent(self, count: int, timeout_s: float = 30) -> None:
        wait_for(lambda: self.sent >= count, timeout_s, f"{count} messages handed to the client")

    def finish(self, timeout_s: float = 60) -> None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "publisher did not finish"
        assert len(set(self._mids)) == len(self._mids), "packet ids wrapped; publish fewer messages"
        wait_for(lambda: self._acked >= set(self._mids), timeout_s, "broker acks for every message")
        self.client.disconnect()
        self.client.loop_stop()
