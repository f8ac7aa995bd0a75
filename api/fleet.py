"""The fleet monitor: evaluates the health rules of every site in the background, not per request.

Every ``PARKLOTSE_FLEET_REFRESH_S`` it takes the fast facts (status changes of the last hour: counted
from the ingester's change events once it has heard them for an hour, from InfluxDB before) and,
every ``PARKLOTSE_FLEET_SLOW_REFRESH_S``, the slow ones (battery, radio, status starts, daily site
figures) from InfluxDB, joins them with the live state and the dead letters heard on
``parking/deadletter/#``, and keeps one report per site. Routes, metrics and the alert webhook
read those reports; a failed read keeps the last report and is counted. The bays of a site that a
live simulator publishes are judged in simulated time (``in_simulated_time``), its hands-on bays not.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt
from fastapi import FastAPI, HTTPException, Request, status
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.alerts import AlertWebhook
from api.settings import ApiSettings
from api.simulators import SimulatorBook
from parking import topics
from parking.events import ns_to_rfc3339
from parking.fleet.changes import ChangeWindow, parse_event, with_real_hour
from parking.fleet.deadletters import RefusalWindow, parse_dead_letter
from parking.fleet.evaluation import BayHealth, SiteHealth, changes, evaluate, problem_counts
from parking.fleet.gather import SiteLayout, read_change_times
from parking.fleet.rules import HOUR_NS, SiteProblemCode, Thresholds, in_simulated_time
from parking.fleet.worker import (
    SiteJob,
    SiteUpdate,
    StoreConfig,
    bay_health,
    evaluator_for,
    read_change_times_job,
    run_job,
    start_worker,
    state_row,
)
from parking.mqtt import make_client
from parking.registry import Registry, Site
from parking.state import BayState, LiveState
from parking.store import InfluxStore, StoreError

log = logging.getLogger(__name__)

DEADLETTER_FILTER = f"{topics.DEADLETTER_PREFIX}/#"
EVENTS_PREFIX = topics.EVENTS_FILTER.removesuffix("#")
CHANGES_PER_MESSAGE = 500  # a webhook message stays small even when a whole site changes at once
# Re-exported: the routes and the tests take the reports from here.
__all__ = ["BayHealth", "SiteHealth", "changes", "evaluate", "problem_counts"]


def thresholds_from(settings: ApiSettings) -> Thresholds:
    return Thresholds(
        silent_after_s=settings.fleet_silent_after_s,
        silent_after_s_by_codec=dict(settings.fleet_silent_after_s_by_codec),
        stuck_occupied_s=settings.fleet_stuck_occupied_s,
        stuck_free_s=settings.fleet_stuck_free_s,
        zone_active_s=settings.fleet_zone_active_s,
        flapping_changes_per_hour=settings.fleet_flapping_changes_per_hour,
        battery_low_v=settings.fleet_battery_low_v,
        battery_low_pct=settings.fleet_battery_low_pct,
        battery_low_v_by_codec=dict(settings.fleet_battery_low_v_by_codec),
        battery_empty_days=settings.fleet_battery_empty_days,
        battery_min_days=settings.fleet_battery_min_days,
        weak_rssi_dbm=settings.fleet_weak_rssi_dbm,
        weak_snr_db=settings.fleet_weak_snr_db,
        radio_min_messages=settings.fleet_radio_min_messages,
        rejected_per_day=settings.fleet_rejected_per_day,
        reporting_drop_share=settings.fleet_reporting_drop_share,
        swing_shrink_ratio=settings.fleet_swing_shrink_ratio,
    )


def webhook_messages(
    site: str, at_ns: int, initial: bool, found: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    for i in range(0, len(found), CHANGES_PER_MESSAGE):
        yield {
            "source": "parklotse",
            "site": site,
            "at": ns_to_rfc3339(at_ns),
            "initial": initial,
            "changes": found[i : i + CHANGES_PER_MESSAGE],
        }


class FleetMonitor:
    def __init__(
        self,
        settings: ApiSettings,
        registry: Registry,
        store: InfluxStore,
        live: LiveState,
        webhook: AlertWebhook | None = None,
        clock: Callable[[], int] = time.time_ns,
        simulators: SimulatorBook | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.live = live
        self.webhook = webhook
        self.simulators = simulators
        self.thresholds = thresholds_from(settings)
        self.refusals = RefusalWindow()
        self.changes = ChangeWindow()
        self.deadletter_feed_connected = False
        self.evaluation_errors = 0
        self.last_evaluation_s = 0.0
        self._clock = clock
        self._reports: dict[str, SiteHealth] = {}
        self._sent: dict[str, Sent] = {}
        self._store_config = StoreConfig.from_settings(settings)
        self._pool: ProcessPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def report(self, site: str) -> SiteHealth | None:
        return self._reports.get(site)

    def reports(self) -> list[SiteHealth]:
        return list(self._reports.values())

    def start_worker(self) -> None:
        """The process the evaluations run in (spawned: a forked copy of a running event loop and its
        threads is unsafe). Without it (tests), they run in the event loop."""
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
            initargs=(self._store_config,),
        )

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.start_worker()
        client_id = f"{self.settings.api_client_id}-fleet" if self.settings.api_client_id else ""
        client = make_client(self.settings, client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        endpoint = self.settings.mqtt
        client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        client.loop_start()
        self._client = client
        if self.webhook is not None:
            self.webhook.start()
        self._task = asyncio.create_task(self._run(), name="fleet-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self.webhook is not None:
            await self.webhook.stop()

    # -------------------------------------------------------------- dead letters (paho's thread)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the fleet monitor's connection: %s", reason)
            return
        client.subscribe([(DEADLETTER_FILTER, 1), (topics.EVENTS_FILTER, 1)])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _m: int, reasons: list[ReasonCode], _p: Any) -> None:
        ok = not any(r.is_failure for r in reasons)
        self.deadletter_feed_connected = ok
        if ok and self._loop is not None:
            self._loop.call_soon_threadsafe(self.changes.connected, self._clock())

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _r: ReasonCode, _p: Any) -> None:
        self.deadletter_feed_connected = False
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.changes.lost)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self._loop is None:
            return
        if message.topic.startswith(EVENTS_PREFIX):
            event = parse_event(bytes(message.payload))
            if event is not None:
                self._loop.call_soon_threadsafe(self.changes.add, event)
            return
        refusal = parse_dead_letter(bytes(message.payload), self.registry)
        if refusal is not None:
            self._loop.call_soon_threadsafe(self.refusals.add, refusal)

    # -------------------------------------------------------------- evaluation

    async def _run(self) -> None:
        failing: set[str] = set()  # sites whose last evaluation failed, so each failure is logged once
        while True:
            started = time.perf_counter()
            for site in self.registry.sites.values():
                try:
                    await self.evaluate_site(site)
                except Exception as exc:  # a failed read or a bug must not stop the monitor for good
                    self.evaluation_errors += 1
                    if site.id not in failing:
                        failing.add(site.id)
                        if isinstance(exc, StoreError):
                            log.warning(
                                "fleet health of %s: InfluxDB failed (%s); keeping the last report",
                                site.id,
                                exc,
                            )
                        else:
                            log.exception("fleet health of %s failed; keeping the last report", site.id)
                    continue
                if site.id in failing:
                    failing.discard(site.id)
                    log.info("fleet health of %s is evaluated again", site.id)
            self.last_evaluation_s = time.perf_counter() - started
            await asyncio.sleep(self.settings.fleet_refresh_s)

    async def evaluate_site(self, site: Site) -> SiteHealth:
        now = self._clock()
        simulator = self.simulators.pick(site.id) if self.simulators is not None else None
        simulated, real = None, frozenset[str]()
        if simulator is not None and simulator.sensor_heartbeat_s is not None:
            simulated = in_simulated_time(self.thresholds, simulator.speed, simulator.sensor_heartbeat_s)
            real = frozenset(simulator.real_bays)
        counts = await self._heard_changes(site.id, now, simulated, real)
        job = partial(
            SiteJob,
            site.id,
            now_ns=now,
            counts=counts,
            refusals=self.refusals.counts(site.id, now),
            thresholds=self.thresholds,
            slow_every_ns=int(self.settings.fleet_slow_refresh_s * 1e9),
            battery_every_ns=int(self.settings.fleet_battery_refresh_s * 1e9),
            simulated=simulated,
            real=real,
        )
        previous = self._reports.get(site.id)
        held = self._sent.get(site.id)
        update: SiteUpdate | None = None
        if held is not None and held.site is site:
            version = self.live.version(site.id)
            fresh = held.changed(self.live.site_bays(site.id)) if version != held.version else []
            update = await self._in_worker(job(held.session, states=[state_row(s) for s in fresh]))
            if update is not None:
                held.taken(fresh, version)
        if held is None or update is None:  # a new site (file), or a worker that lost it: everything
            states = list(self.live.site_bays(site.id))
            held = Sent(next(_SESSIONS), site, self.live.version(site.id), {s.bay: s for s in states})
            first = job(
                held.session,
                states=[state_row(s) for s in states],
                layout=SiteLayout.of(site),
                previous=None if previous is None else previous.with_problems_only(),
            )
            update = await self._in_worker(first)
            if update is None:
                raise RuntimeError("the fleet worker did not take a new session")
            self._sent[site.id] = held
        report = await held.apply(update)
        self._reports[site.id] = report
        if self.webhook is not None:
            for message in webhook_messages(site.id, now, previous is None, update.raised_cleared):
                self.webhook.offer(message)
        return report

    async def _heard_changes(
        self, site: str, now: int, simulated: Thresholds | None, real: frozenset[str]
    ) -> dict[str, int] | None:
        """Status changes per bay in the last hour (a simulated site's bays: the last simulated hour)
        from the change events heard, with the changes InfluxDB held before the feed was heard for a
        whole hour (read once per site and subscription); None while the feed is down (the worker
        then asks InfluxDB)."""
        heard = self.changes.heard_since_ns
        if heard is None:
            return None
        if not self.changes.covers(site, now, HOUR_NS):
            times = await self._read_change_times(site, now - HOUR_NS, now)
            if times is None or not self.changes.seed(site, times, heard):
                return None  # the worker died, or the feed broke meanwhile: asked again next time
        window = HOUR_NS if simulated is None else int(simulated.flapping_window_s * 1e9)
        counts = self.changes.counts(site, now, window)
        return with_real_hour(counts, self.changes.counts(site, now) if real else {}, real)

    async def _read_change_times(self, site: str, start: int, end: int) -> dict[str, list[int]] | None:
        if self._pool is None:  # not started (tests): in the event loop, with the API's store
            return await read_change_times(self.store, site, start, end)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, read_change_times_job, site, start, end
            )
        except BrokenProcessPool:
            self._restart_worker()
            return None

    async def _in_worker(self, job: SiteJob) -> SiteUpdate | None:
        if self._pool is None:  # not started (tests): in the event loop, with the API's store
            evaluator = evaluator_for(job)
            return None if evaluator is None else await evaluator.run(job, self.store)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, run_job, job)
        except BrokenProcessPool:
            self._restart_worker()
            return None

    def _restart_worker(self) -> None:
        log.warning("the fleet worker process died; starting another (every site starts again)")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.start_worker()
        self._sent.clear()


_SESSIONS = itertools.count(1)
APPLY_SLICE = 500  # bays made from an update's rows between the event loop's turns (about a millisecond)


@dataclass(slots=True)
class Sent:
    """What the worker holds of a site in one session: the live states it was sent (so that the
    next job carries only those changed since) and the report's bays (an update brings only those
    whose facts or problems changed)."""

    session: int
    site: Site
    version: int  # LiveState.version of the states sent: unchanged means nothing to look through
    states: dict[str, BayState]  # in site-file order
    bays: dict[str, BayHealth] = field(default_factory=dict)

    def changed(self, states: Iterable[BayState]) -> list[BayState]:
        # A bay's state is replaced, never changed in place: a new object is a new state.
        held = self.states
        return [s for s in states if held.get(s.bay) is not s]

    def taken(self, states: list[BayState], version: int) -> None:
        for s in states:
            self.states[s.bay] = s
        self.version = version

    async def apply(self, update: SiteUpdate) -> SiteHealth:
        """The report with the update's bays; a whole site's (a new session, or after a slow read) is
        made in slices with the event loop's turns between them."""
        bays = self.bays
        for i, row in enumerate(update.changed, 1):
            bay = bay_health(row)
            bays[bay.facts.bay] = bay
            if i % APPLY_SLICE == 0:
                await asyncio.sleep(0)
        return SiteHealth(
            self.site.id,
            update.evaluated_ns,
            [bays[b] for b in self.states],
            update.site_problems,
            update.counts,
        )


class FleetCollector(Collector):
    """The monitor's reports as Prometheus metrics, read when /metrics is scraped."""

    def __init__(self, monitor: FleetMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        problems = GaugeMetricFamily(
            "parklotse_sensor_problems",
            "Bays of a site with a problem, by problem code",
            labels=["site", "code"],
        )
        site_problems = GaugeMetricFamily(
            "parklotse_site_problem", "1 while a site-wide problem holds, by code", labels=["site", "code"]
        )
        bays = GaugeMetricFamily(
            "parklotse_sensor_bays", "Bays of a site watched for problems", labels=["site"]
        )
        evaluated = GaugeMetricFamily(
            "parklotse_fleet_last_evaluation_timestamp_seconds",
            "When the site's sensor health was last evaluated",
            labels=["site"],
        )
        for report in self.monitor.reports():
            for code, count in report.counts.items():
                problems.add_metric([report.site, code], count)
            holding = {p.code for p in report.site_problems}
            for site_code in SiteProblemCode:
                site_problems.add_metric([report.site, site_code.value], 1.0 if site_code in holding else 0.0)
            bays.add_metric([report.site], len(report.bays))
            evaluated.add_metric([report.site], report.evaluated_ns / 1e9)
        yield from (problems, site_problems, bays, evaluated)
        yield GaugeMetricFamily(
            "parklotse_fleet_evaluation_seconds",
            "Wall time of the last evaluation of every site",
            value=self.monitor.last_evaluation_s,
        )
        yield CounterMetricFamily(
            "parklotse_fleet_evaluation_errors",
            "Evaluations that could not read InfluxDB",
            value=self.monitor.evaluation_errors,
        )
        yield GaugeMetricFamily(
            "parklotse_fleet_deadletter_feed_connected",
            "1 while the monitor hears the ingester's dead letters",
            value=1.0 if self.monitor.deadletter_feed_connected else 0.0,
        )
        webhook = self.monitor.webhook
        if webhook is not None:
            sent = CounterMetricFamily("parklotse_alert_webhook_sent", "Alert webhook messages delivered")
            sent.add_metric([], webhook.counts.sent)
            failed = CounterMetricFamily("parklotse_alert_webhook_failed_attempts", "Failed webhook POSTs")
            failed.add_metric([], webhook.counts.failed_attempts)
            dropped = CounterMetricFamily(
                "parklotse_alert_webhook_dropped", "Webhook messages lost, by reason", labels=["reason"]
            )
            dropped.add_metric(["overflow"], webhook.counts.dropped_overflow)
            dropped.add_metric(["gave_up"], webhook.counts.dropped_gave_up)
            yield from (sent, failed, dropped)
            yield GaugeMetricFamily(
                "parklotse_alert_webhook_queue", "Webhook messages waiting", value=webhook.pending
            )


def make_webhook(settings: ApiSettings) -> AlertWebhook | None:
    if not settings.alert_webhook_url:
        return None
    return AlertWebhook(
        settings.alert_webhook_url,
        queue_size=settings.alert_webhook_queue,
        retry_initial_s=settings.alert_webhook_retry_initial_s,
        retry_max_s=settings.alert_webhook_retry_max_s,
        attempts=settings.alert_webhook_attempts,
    )


@asynccontextmanager
async def fleet_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the API's own lifespan (a router lifespan), so its services exist already."""
    services = app.state.services
    settings: ApiSettings = services.settings
    if not settings.fleet_enabled:
        app.state.fleet = None
        yield
        return
    monitor = FleetMonitor(
        settings,
        services.registry,
        services.store,
        services.live,
        make_webhook(settings),
        simulators=services.simulators,
    )
    collector = FleetCollector(monitor)
    app.state.metrics.registry.register(collector)
    app.state.fleet = monitor
    monitor.start()
    try:
        yield
    finally:
        await monitor.stop()
        app.state.metrics.registry.unregister(collector)


async def get_fleet(request: Request) -> FleetMonitor:
    monitor: FleetMonitor | None = getattr(request.app.state, "fleet", None)
    if monitor is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "fleet health is switched off (PARKLOTSE_FLEET_ENABLED)"
        )
    return monitor
