"""The ingester process: MQTT in, InfluxDB out, acknowledged only when the data is safe.

paho-mqtt runs its network loop in its own thread; messages cross into asyncio through a bounded
hand-off (a semaphore the paho thread waits on), so memory stays bounded even for QoS 0 floods. The
writer batches, decodes, stores and only then acknowledges, in order.

Retained messages on the sensor topics are old news, not readings: the subscriptions ask the broker
not to replay them (MQTT v5 Retain Handling 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.deadletters import KEEP_PAYLOAD_BYTES, DeadLetter, DeadLetterFile, RateLimitedLog, dead_letter
from ingest.decode import DecodeLimits, decode
from ingest.metrics import IngestMetrics
from ingest.rejections import Reason, Rejection
from ingest.settings import IngestSettings
from ingest.spool import Spool, SpoolFull
from ingest.takeover import SESSION_TAKEN_OVER, ClientIdTakenOver, TakeoverWatch
from parking import topics
from parking.events import BayReading, DroppedField, ns_to_rfc3339
from parking.lineprotocol import reading_lines
from parking.mqtt import make_client
from parking.queries import latest_states
from parking.registry import Registry
from parking.state import BayState, LiveState, supersedes
from parking.store import InfluxStore, StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Inbound:
    topic: str
    payload: bytes
    qos: int
    mid: int
    generation: int
    received_ns: int
    received_mono: float


@dataclass(slots=True)
class Batch:
    messages: list[Inbound] = field(default_factory=list)
    readings: list[BayReading] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [line for reading in self.readings for line in reading_lines(reading)]


# Retain Handling 2: the broker sends no retained message when we subscribe. A retained sensor
# message is one already received (or from before this ingester's session existed); replayed at
# each connect it would store an old reading again at a new receive time, or dead-letter again.
# Messages are not filtered on their retain flag: a broker that wrongly kept it on a message queued
# for our session would then lose a real reading, and a duplicate is the lesser harm.
SENSOR_SUBSCRIPTION = SubscribeOptions(
    qos=1, noLocal=True, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND
)


def subscription_filters(share_group: str | None) -> list[str]:
    filters = [topics.NATIVE_FILTER, *topics.TTS_FILTERS, topics.CHIRPSTACK_FILTER]
    if share_group:
        return [f"$share/{share_group}/{f}" for f in filters]
    return filters


class Ingester:
    def __init__(
        self,
        settings: IngestSettings,
        registry: Registry,
        store: InfluxStore,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.metrics = metrics or IngestMetrics()
        self.state = LiveState(registry)
        self.limits = DecodeLimits(settings.max_payload_bytes, int(settings.max_future_s * 1e9))
        self.deadletters = DeadLetterFile(
            settings.deadletter_dir, int(settings.deadletter_file_mb * 1024 * 1024), settings.deadletter_files
        )
        self.spool = Spool(settings.spool_dir, int(settings.spool_max_mb * 1024 * 1024))
        self._replay_wanted = asyncio.Event()
        self._rate_log = RateLimitedLog(settings.log_interval_s)
        # Hand-off from paho's thread: a deque, and a wake-up of the event loop only when it is
        # waiting (one self-pipe write per message cost an eighth of the drain rate).
        self._inbox: deque[Inbound] = deque()
        self._wake = asyncio.Event()
        self._signalled = False
        # Bounded: at the limit the paho thread waits, so memory stays bounded even for QoS 0 floods
        # (QoS 1 is bounded earlier by Receive Maximum).
        self._max_pending = settings.receive_maximum + settings.batch_size
        self._space = threading.Event()
        self._space.set()
        self._generation = 0
        self._connected = threading.Event()
        self._takeover = TakeoverWatch()
        self._fatal: ClientIdTakenOver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._last_message_mono = time.monotonic()
        self.ready = asyncio.Event()

    # ---- paho thread -------------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: mqtt.ConnectFlags, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        self._generation += 1
        self._takeover.connected(time.monotonic())
        client.subscribe([(f, SENSOR_SUBSCRIPTION) for f in subscription_filters(self.settings.share_group)])
        self.metrics.connected.set(1)
        log.info("connected to %s (session present: %s)", self.settings.mqtt_url, flags.session_present)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        filters = subscription_filters(self.settings.share_group)
        for topic_filter, reason in zip(filters, reasons, strict=False):
            if reason.is_failure:
                log.error("broker refused the subscription to %r: %s", topic_filter, reason)
        # Ready (healthy) once the subscriptions are in place, not merely connected.
        if any(not reason.is_failure for reason in reasons):
            self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        # Acks owed for this connection are void now; the broker redelivers those messages.
        self._generation += 1
        self._connected.clear()
        self.metrics.connected.set(0)
        if self._takeover.lost(time.monotonic(), reason.value, reason.is_failure):
            self._fatal = ClientIdTakenOver(
                self.settings.ingest_client_id, told_by_broker=reason.value == SESSION_TAKEN_OVER
            )
            client.disconnect()  # no reconnect: taking the session back would only throw the other off
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._wake.set)
            return
        if reason.is_failure or reason.value != 0:
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        inbound = Inbound(
            message.topic,
            bytes(message.payload),
            message.qos,
            message.mid,
            self._generation,
            time.time_ns(),
            time.monotonic(),
        )
        while len(self._inbox) >= self._max_pending:
            self._space.clear()
            if len(self._inbox) >= self._max_pending:
                self._space.wait(1.0)
        self._inbox.append(inbound)
        if not self._signalled:
            self._signalled = True
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._wake.set)

    # ---- asyncio side ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set.

        The broker connection starts at once, whether InfluxDB is up or not: while it is down,
        batches go to the spool, so even a first start against a dead database loses nothing.
        Raises ``ClientIdTakenOver`` (after setting ``stop``, so the whole process ends) when
        another client uses our client id.
        """
        self._loop = asyncio.get_running_loop()
        client = self._connect()
        background = [
            asyncio.create_task(self._idle_watchdog(stop)),
            asyncio.create_task(self._replay(stop)),
            asyncio.create_task(self._prepare_store(stop)),
        ]
        try:
            self.ready.set()
            while not stop.is_set() and self._fatal is None:
                batch = await self._collect(stop)
                if batch.messages:
                    await self._process(batch, stop)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            client.disconnect()
            client.loop_stop()
            self.metrics.connected.set(0)
        if self._fatal is not None:
            stop.set()
            raise self._fatal

    def _connect(self) -> mqtt.Client:
        client = make_client(self.settings, self.settings.ingest_client_id, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        endpoint = self.settings.mqtt
        client.connect_async(endpoint.host, endpoint.port, keepalive=30, clean_start=False, properties=props)
        client.loop_start()
        self._client = client
        return client

    async def _prepare_store(self, stop: asyncio.Event) -> None:
        """Once InfluxDB answers: create the database and seed the live state from it."""
        delay = self.settings.retry_initial_s
        while not stop.is_set():
            try:
                version = await self.store.ping()
                await self.store.ensure_database()
                await self._seed_state()
                log.info("InfluxDB %s at %s, database %r", version, self.store.url, self.store.database)
                return
            except StoreUnavailable as exc:
                self._rate_log.warning("store", "%s; retrying in %.1f s", exc, delay)
            except StoreRejected as exc:
                log.error("InfluxDB refused the start-up queries: %s", exc)
                return
            await _sleep_or_stop(stop, delay)
            delay = min(delay * 2, self.settings.retry_max_s)

    async def _seed_state(self) -> None:
        for site in self.registry.sites.values():
            for state in await latest_states(self.store, site.id):
                current = self.state.get(state.site, state.bay)
                # Readings that arrived while we were seeding may be newer than the database's view.
                if current is not None and supersedes(state, current):
                    self.state.put(state)

    async def _collect(self, stop: asyncio.Event) -> Batch:
        """Up to batch_size messages, waiting at most batch_interval_s after the first one."""
        batch = Batch()
        deadline = 0.0
        while len(batch.messages) < self.settings.batch_size and not stop.is_set() and self._fatal is None:
            if self._inbox:
                self._take(batch, self._inbox.popleft())
                if len(batch.messages) == 1:
                    deadline = time.monotonic() + self.settings.batch_interval_s
                continue
            timeout = deadline - time.monotonic() if batch.messages else 0.5
            if timeout <= 0:
                break
            # Re-arm the wake-up, then look again: a message appended in between is not missed.
            self._signalled = False
            self._wake.clear()
            if self._inbox:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                break
        if len(self._inbox) < self._max_pending // 2:
            self._space.set()
        return batch

    def _take(self, batch: Batch, item: Inbound) -> None:
        batch.messages.append(item)
        self._last_message_mono = item.received_mono
        result = decode(item.topic, item.payload, self.registry, item.received_ns, self.limits)
        if isinstance(result, Rejection):
            batch.letters.append(dead_letter(result, item.topic, item.payload, item.received_ns))
            self.metrics.received.labels("rejected").inc()
        else:
            batch.readings.extend(result)
            self.metrics.received.labels("accepted").inc()
            for reading in result:
                for dropped in reading.dropped:
                    self._count_dropped(dropped, item)
        self.metrics.last_message.set(item.received_ns / 1e9)

    def _count_dropped(self, dropped: DroppedField, item: Inbound) -> None:
        """A health figure left out of a stored reading: counted, logged (rate-limited), raw at DEBUG."""
        self.metrics.health_dropped.labels(dropped.codec, dropped.field, dropped.reason).inc()
        self._rate_log.warning(
            f"health:{dropped.codec}:{dropped.field}:{dropped.reason}",
            "stored the reading on %r without its %s (%s): %s",
            item.topic,
            dropped.field,
            dropped.reason,
            dropped.detail,
        )
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "dropped %s on %r: %s; payload %r",
                dropped.field,
                item.topic,
                dropped.detail,
                item.payload[:KEEP_PAYLOAD_BYTES],
            )

    async def _process(self, batch: Batch, stop: asyncio.Event) -> None:
        if not await self._store(batch, stop):
            return  # stopping: nothing acknowledged, the broker redelivers
        self._keep_dead_letters(batch.letters)
        self._ack(batch.messages)
        now = time.monotonic()
        for item in batch.messages:
            self.metrics.lag.observe(now - item.received_mono)
        self._publish_changes(batch.readings)

    async def _store(self, batch: Batch, stop: asyncio.Event) -> bool:
        """Write the batch, or spool it while InfluxDB is unreachable. False only when stopping."""
        lines = batch.lines()
        if not lines:
            return True
        delay = self.settings.retry_initial_s
        while not stop.is_set():
            try:
                await self._write(lines)
                return True
            except StoreRejected as exc:
                try:
                    refused = await self._write_isolating(lines, exc)
                except StoreUnavailable:
                    refused = None  # the outage began mid-way: spool the whole batch (rewrites are harmless)
                if refused is not None:
                    batch.letters.extend(self._store_letters(refused))
                    return True
            except StoreUnavailable as exc:
                self._rate_log.warning("store", "%s; spooling to disk", exc)
            try:
                await asyncio.to_thread(self.spool.append, lines)
                self.metrics.spooled.inc()
                self.metrics.spool_depth.set(self.spool.depth_bytes)
                self._replay_wanted.set()
                return True
            except SpoolFull as exc:
                self._rate_log.warning(
                    "spool-full", "%s; holding %d messages unacknowledged", exc, len(batch.messages)
                )
            except OSError as exc:
                self._rate_log.warning("spool-io", "cannot spool to %s: %s", self.settings.spool_dir, exc)
            await _sleep_or_stop(stop, delay)
            delay = min(delay * 2, self.settings.retry_max_s)
        return False

    async def _write(self, lines: list[str]) -> None:
        started = time.perf_counter()
        try:
            await self.store.write(lines)
        except StoreRejected:
            self.metrics.write_errors.labels("rejected").inc()
            raise
        except StoreUnavailable:
            self.metrics.write_errors.labels("unavailable").inc()
            raise
        self.metrics.write_latency.observe(time.perf_counter() - started)
        self.metrics.stored.inc(len(lines))

    async def _write_isolating(self, lines: list[str], exc: StoreRejected) -> list[tuple[str, str]]:
        """InfluxDB refused a batch: write line by line and return the refused lines with the reason."""
        log.warning("InfluxDB refused a batch (%s); isolating the refused points", exc)
        refused = []
        for line in lines:
            try:
                await self._write([line])
            except StoreRejected as single:
                refused.append((line, str(single)))
        return refused

    def _store_letters(self, refused: list[tuple[str, str]]) -> list[DeadLetter]:
        now = time.time_ns()
        return [
            dead_letter(Rejection(Reason.STORE_REJECTED, reason), "influxdb/write", line.encode(), now)
            for line, reason in refused
        ]

    async def _replay(self, stop: asyncio.Event) -> None:
        """Drain the spool into InfluxDB, oldest first, whenever it is reachable; also after a restart."""
        delay = self.settings.retry_initial_s
        self.metrics.spool_depth.set(self.spool.depth_bytes)
        while not stop.is_set():
            batch = await asyncio.to_thread(self.spool.peek, self.settings.batch_size * 5)
            if batch is None:
                self._replay_wanted.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._replay_wanted.wait(), 1.0)
                continue
            try:
                try:
                    await self._write(batch.lines)
                except StoreRejected as exc:
                    letters = self._store_letters(await self._write_isolating(batch.lines, exc))
                    await asyncio.to_thread(self.deadletters.append, letters)
                    self._count_letters(letters)
            except StoreUnavailable:
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            await asyncio.to_thread(self.spool.commit, batch)
            self.metrics.spool_depth.set(self.spool.depth_bytes)
            delay = self.settings.retry_initial_s
            if self.spool.is_empty():
                log.info("spool drained into InfluxDB")

    def _keep_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            self.deadletters.append(list(letters))
            self._count_letters(letters)

    def _count_letters(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            self.metrics.rejected.labels(letter.reason).inc()
            self._rate_log.warning(
                letter.reason, "rejected %s on %r: %s", letter.reason, letter.topic, letter.detail
            )
            if self._client is not None:
                self._client.publish(topics.deadletter(letter.reason), letter.to_json(), qos=1)

    def _ack(self, messages: Sequence[Inbound]) -> None:
        client = self._client
        if client is None:
            return
        for item in messages:
            if item.qos > 0 and item.generation == self._generation:
                client.ack(item.mid, item.qos)
                self.metrics.acked.inc()

    def _publish_changes(self, readings: Sequence[BayReading]) -> None:
        """Each status change as an event; each touched bay's final state once per batch (retained).

        A backlog holds many readings per bay; republishing the state after every one of them
        would double the broker traffic for no new information.
        """
        client = self._client
        latest: dict[tuple[str, str], BayState] = {}
        for reading in readings:
            before = self.state.get(reading.site, reading.bay)
            after = self.state.apply(reading)
            if after is None or client is None:
                continue
            latest[(reading.site, reading.bay)] = after
            if before is None or before.status != after.status:
                event = {**after.as_message(), "ts": ns_to_rfc3339(reading.time_ns), "source": reading.source}
                client.publish(topics.event(reading.site, reading.bay), json.dumps(event), qos=1)
        if client is not None:
            for (site, bay), state in latest.items():
                client.publish(topics.state(site, bay), json.dumps(state.as_message()), qos=1, retain=True)

    async def _idle_watchdog(self, stop: asyncio.Event) -> None:
        warned = False
        while not stop.is_set():
            await asyncio.sleep(min(self.settings.idle_warning_s / 4, 30.0))
            idle = time.monotonic() - self._last_message_mono
            if idle > self.settings.idle_warning_s and not warned:
                log.warning(
                    "no message for %.0f s (connected: %s); check the sensors and the broker",
                    idle,
                    self._connected.is_set(),
                )
                warned = True
            elif idle <= self.settings.idle_warning_s:
                warned = False

    def close(self) -> None:
        self.spool.close()

    def health(self) -> dict[str, Any]:
        return {
            "broker_connected": self._connected.is_set(),
            "pending": len(self._inbox),
            "spool_bytes": self.spool.depth_bytes,
            "idle_s": round(time.monotonic() - self._last_message_mono, 1),
        }


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
