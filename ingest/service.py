"""The ingester process: MQTT in, InfluxDB out, acknowledged only when the data is safe.

The rules (batch, decode, store or spool, only then acknowledge, in order) live in
``ingest.delivery``; this module carries out its actions. paho runs on the event loop
(``ingest.brokerlink``), which stops reading while the core accepts no more messages, so memory stays
bounded even for QoS 0 floods and the broker holds the rest.

Retained messages on the sensor topics are old news, not readings: the subscriptions ask the broker
not to replay them (MQTT v5 Retain Handling 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.brokerlink import BrokerLink, BufferedClient
from ingest.deadletters import KEEP_PAYLOAD_BYTES, DeadLetter, DeadLetterFile, RateLimitedLog
from ingest.decode import DecodeLimits
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
from ingest.metrics import IngestMetrics
from ingest.settings import IngestSettings
from ingest.spool import Spool, SpoolFull
from ingest.takeover import SESSION_TAKEN_OVER, ClientIdTakenOver, TakeoverWatch
from parking import topics
from parking.events import DroppedField
from parking.mqtt import make_client
from parking.queries import latest_states
from parking.registry import Registry
from parking.store import InfluxStore, StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)
# How long a stop waits for a write in flight, so that what it stored is acknowledged.
STOP_GRACE_S = 5.0


# What an I/O task found, told to the core by the event loop once the task has ended.
Report = Callable[[], list[Action]]


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
    """Carries out what ``Delivery`` decides: paho in, InfluxDB and the spool out, acks back."""

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
        self.delivery = Delivery(
            registry,
            DeliveryConfig(
                batch_size=settings.batch_size,
                batch_interval_s=settings.batch_interval_s,
                retry_initial_s=settings.retry_initial_s,
                retry_max_s=settings.retry_max_s,
                limits=DecodeLimits(settings.max_payload_bytes, int(settings.max_future_s * 1e9)),
            ),
        )
        self.deadletters = DeadLetterFile(
            settings.deadletter_dir, int(settings.deadletter_file_mb * 1024 * 1024), settings.deadletter_files
        )
        self.spool = Spool(settings.spool_dir, int(settings.spool_max_mb * 1024 * 1024))
        self._replay_wanted = asyncio.Event()
        self._rate_log = RateLimitedLog(settings.log_interval_s)
        self._wake = asyncio.Event()
        self._connected = False
        self._takeover = TakeoverWatch()
        self._fatal: ClientIdTakenOver | None = None
        self._client: BufferedClient | None = None
        self._link: BrokerLink | None = None
        self._io: asyncio.Task[Report] | None = None
        self._last_message_mono = time.monotonic()
        self.ready = asyncio.Event()

    # ---- paho callbacks (on the event loop) --------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: mqtt.ConnectFlags, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        # Absent, the broker's Receive Maximum is 65,535 (MQTT v5 §3.2.2.3.3).
        broker_maximum = getattr(props, "ReceiveMaximum", 65_535)
        inflight = self.settings.publish_inflight
        if inflight > broker_maximum or (inflight == 0 and broker_maximum < 65_535):
            log.warning(
                "the broker accepts %d unacknowledged publishes, PARKLOTSE_PUBLISH_INFLIGHT is %d: lower it",
                broker_maximum,
                inflight,
            )
        self.delivery.connected()
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
            self._connected = True

    def _on_disconnect(self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.delivery.disconnected()
        self._connected = False
        self.metrics.connected.set(0)
        if self._takeover.lost(time.monotonic(), reason.value, reason.is_failure):
            self._fatal = ClientIdTakenOver(
                self.settings.ingest_client_id, told_by_broker=reason.value == SESSION_TAKEN_OVER
            )
            if self._link is not None:
                self._link.stop()  # no reconnect: taking the session back would only throw the other off
            self._wake.set()
            return
        if reason.is_failure or reason.value != 0:
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        # BrokerLink reads only while the core accepts, so every message can be handed over.
        actions = self.delivery.received(
            message.topic, bytes(message.payload), message.qos, message.mid, time.time_ns(), time.monotonic()
        )
        if actions:
            self._carry_out(actions)
        self._wake.set()  # a new batch has a deadline the waiting loop must know

    # ---- asyncio side ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set.

        The broker connection starts at once, whether InfluxDB is up or not: while it is down,
        batches go to the spool, so even a first start against a dead database loses nothing.
        Raises ``ClientIdTakenOver`` (after setting ``stop``, so the whole process ends) when
        another client uses our client id.
        """
        link = self._connect()
        # Parts that run as long as the ingester: one that ends is a failure of the ingester.
        lasting = [
            asyncio.create_task(link.run(self._connect_once)),
            asyncio.create_task(self._idle_watchdog(stop)),
            asyncio.create_task(self._replay(stop)),
        ]
        background = [*lasting, asyncio.create_task(self._prepare_store(stop))]
        for task in lasting:
            task.add_done_callback(lambda _: self._wake.set())
        try:
            self.ready.set()
            while not stop.is_set() and self._fatal is None:
                if link.failure is not None:
                    raise link.failure
                for task in lasting:
                    if task.done() and not stop.is_set():
                        task.result()
                        raise RuntimeError(f"{task.get_coro()!r} ended by itself")
                self._step()
                await self._wait(stop)
        finally:
            await self._end_io()
            link.stop()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            self.metrics.connected.set(0)
        if self._fatal is not None:
            stop.set()
            raise self._fatal

    def _step(self) -> None:
        """Tell the core a finished write or append and the time; read again if it accepts."""
        io = self._io
        if io is not None and io.done():
            self._io = None
            # The outcome goes to the core only now, so that an action it returns (the next write)
            # starts after this one has ended. An I/O helper that raised is a bug: it ends the ingester.
            self._carry_out(io.result()())
        self._carry_out(self.delivery.tick(time.monotonic()))
        self.metrics.pending.set(self.delivery.pending)
        if self._link is not None:
            self._link.resume()

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until there is something for ``_step``: an I/O result, a new batch or a deadline."""
        self._wake.clear()
        if self._io is not None and self._io.done():
            return
        deadline = self.delivery.next_deadline()
        timeout = 0.5 if deadline is None else deadline - time.monotonic()
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), min(timeout, 0.5))

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Publish):
                if self._client is not None:
                    self._client.publish(action.topic, action.payload, qos=1, retain=action.retain)
            elif isinstance(action, Write):
                self._start_io(self._write_batch(action))
            elif isinstance(action, AppendToSpool):
                self._start_io(self._append_to_spool(action))
            elif isinstance(action, Ack):
                self._ack(action)
            elif isinstance(action, Decoded):
                self._count_decoded(action)
            elif isinstance(action, KeepDeadLetters):
                self.deadletters.append(action.letters)
                self._count_letters(action.letters)
            elif isinstance(action, ReplaySpool):
                self._replay_wanted.set()

    def _start_io(self, work: Coroutine[Any, Any, Report]) -> None:
        if self._io is not None:
            raise ProtocolError("the core asked for a second write while one is in flight")
        self._io = asyncio.create_task(work)
        self._io.add_done_callback(lambda _: self._wake.set())

    async def _end_io(self) -> None:
        """Stopping: a write or spool append in flight may finish (a write within STOP_GRACE_S) and
        what it stored is acknowledged, so a clean stop leaves nothing for the broker to deliver
        again; a write still unfinished is abandoned (nothing was acknowledged for it)."""
        io, self._io = self._io, None
        if io is None:
            return
        if self.delivery.phase is not Phase.SPOOLING:
            await asyncio.wait([io], timeout=STOP_GRACE_S)
            if not io.done():
                io.cancel()
        await asyncio.gather(io, return_exceptions=True)
        if io.done() and not io.cancelled() and io.exception() is None:
            # Only what settles the finished work: no new write or append starts while stopping.
            settle = (Ack, Publish, Decoded, KeepDeadLetters)
            self._carry_out([a for a in io.result()() if isinstance(a, settle)])

    async def _write_batch(self, action: Write) -> Report:
        try:
            await self._write(action.lines)
        except StoreRejected as exc:
            if self.delivery.phase is Phase.WRITING:
                log.warning("InfluxDB refused a batch (%s); isolating the refused points", exc)
            return partial(self.delivery.write_refused, action.batch, str(exc))
        except StoreUnavailable as exc:
            self._rate_log.warning("store", "%s; spooling to disk", exc)
            return partial(self.delivery.write_unavailable, action.batch)
        return partial(self.delivery.written, action.batch)

    async def _append_to_spool(self, action: AppendToSpool) -> Report:
        try:
            await asyncio.to_thread(self.spool.append, action.lines)
        except SpoolFull as exc:
            self._rate_log.warning(
                "spool-full", "%s; holding %d messages unacknowledged", exc, self.delivery.pending
            )
        except OSError as exc:
            self._rate_log.warning("spool-io", "cannot spool to %s: %s", self.settings.spool_dir, exc)
        else:
            self.metrics.spooled.inc()
            self.metrics.spool_depth.set(self.spool.depth_bytes)
            return partial(self.delivery.spooled, action.batch)
        return partial(self.delivery.spool_failed, action.batch, time.monotonic())

    def _connect(self) -> BrokerLink:
        client = make_client(
            self.settings, self.settings.ingest_client_id, manual_ack=True, client_class=BufferedClient
        )
        # paho's default lets 20 QoS 1 publishes (states, events) be in flight; the rest wait in
        # its queue for PUBACKs that arrive behind the backlog of sensor messages.
        client.max_inflight_messages_set(self.settings.publish_inflight)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        endpoint = self.settings.mqtt
        self._client = client
        self._link = BrokerLink(
            client, endpoint.host, endpoint.port, lambda: self.delivery.accepting, self._wake.set
        )
        return self._link

    def _connect_once(self) -> None:
        assert self._client is not None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        endpoint = self.settings.mqtt
        self._client.connect(endpoint.host, endpoint.port, keepalive=30, clean_start=False, properties=props)

    async def _prepare_store(self, stop: asyncio.Event) -> None:
        """Once InfluxDB answers: create the database and seed the live state from it."""
        delay = self.settings.retry_initial_s
        while not stop.is_set():
            try:
                version = await self.store.ping()
                await self.store.ensure_database()
                for site in self.registry.sites.values():
                    self.delivery.seed(await latest_states(self.store, site.id))
                log.info("InfluxDB %s at %s, database %r", version, self.store.url, self.store.database)
                return
            except StoreUnavailable as exc:
                self._rate_log.warning("store", "%s; retrying in %.1f s", exc, delay)
            except StoreRejected as exc:
                log.error("InfluxDB refused the start-up queries: %s", exc)
                return
            await _sleep_or_stop(stop, delay)
            delay = min(delay * 2, self.settings.retry_max_s)

    def _count_decoded(self, decoded: Decoded) -> None:
        self.metrics.received.labels("accepted").inc(decoded.accepted)
        self.metrics.received.labels("rejected").inc(decoded.rejected)
        self.metrics.last_message.set(decoded.last_received_ns / 1e9)
        self._last_message_mono = decoded.last_received_mono
        for dropped, topic, payload in decoded.dropped:
            self._count_dropped(dropped, topic, payload)

    def _count_dropped(self, dropped: DroppedField, topic: str, payload: bytes) -> None:
        """A health figure left out of a stored reading: counted, logged (rate-limited), raw at DEBUG."""
        self.metrics.health_dropped.labels(dropped.codec, dropped.field, dropped.reason).inc()
        self._rate_log.warning(
            f"health:{dropped.codec}:{dropped.field}:{dropped.reason}",
            "stored the reading on %r without its %s (%s): %s",
            topic,
            dropped.field,
            dropped.reason,
            dropped.detail,
        )
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "dropped %s on %r: %s; payload %r",
                dropped.field,
                topic,
                dropped.detail,
                payload[:KEEP_PAYLOAD_BYTES],
            )

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

    async def _write_isolating(self, lines: list[str], exc: StoreRejected) -> list[DeadLetter]:
        """InfluxDB refused a spooled batch: the core's ``Isolation``, carried out here (the replay
        runs beside the core's batches); dead letters for the lines refused alone."""
        log.warning("InfluxDB refused a spooled batch (%s); isolating the refused points", exc)
        now = time.time_ns()
        isolation = Isolation.of(lines)
        while (line := isolation.next_line) is not None:
            try:
                await self._write([line])
            except StoreRejected as single:
                isolation.refused_line(str(single))
            else:
                isolation.stored()
        return isolation.dead_letters(now)

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
                    letters = await self._write_isolating(batch.lines, exc)
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

    def _count_letters(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            self.metrics.rejected.labels(letter.reason).inc()
            self._rate_log.warning(
                letter.reason, "rejected %s on %r: %s", letter.reason, letter.topic, letter.detail
            )
            if self._client is not None:
                self._client.publish(topics.deadletter(letter.reason), letter.to_json(), qos=1)

    def _ack(self, action: Ack) -> None:
        client = self._client
        if client is not None and action.generation == self.delivery.generation:
            client.acknowledge(action.messages)
            self.metrics.acked.inc(len(action.messages))
        now = time.monotonic()
        for received in action.received_mono:
            self.metrics.lag.observe(now - received)

    async def _idle_watchdog(self, stop: asyncio.Event) -> None:
        warned = False
        while not stop.is_set():
            await asyncio.sleep(min(self.settings.idle_warning_s / 4, 30.0))
            idle = time.monotonic() - self._last_message_mono
            if idle > self.settings.idle_warning_s and not warned:
                log.warning(
                    "no message for %.0f s (connected: %s); check the sensors and the broker",
                    idle,
                    self._connected,
                )
                warned = True
            elif idle <= self.settings.idle_warning_s:
                warned = False

    def close(self) -> None:
        self.spool.close()

    def health(self) -> dict[str, Any]:
        return {
            "broker_connected": self._connected,
            "pending": self.delivery.pending,
            "spool_bytes": self.spool.depth_bytes,
            "idle_s": round(time.monotonic() - self._last_message_mono, 1),
        }


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
