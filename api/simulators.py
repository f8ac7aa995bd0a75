"""The running simulators as the API sees them: their last retained status, and KPIs in API form.

Statuses and positions arrive on MQTT from the simulators and are validated against
``parking.simulator_messages`` here, at the edge; a message that does not fit is dropped, counted
(``parklotse_api_simulator_messages_refused_total{kind}``) and logged at most once a minute per kind
with its first problem, and the last good status is kept.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from pydantic import ValidationError

from parking import topics
from parking.logs import RateLimitedLog
from parking.simulator_messages import (
    KpiView,
    SavedToday,
    SimulatorStatus,
    SimulatorSummary,
    Source,
    VehiclePositions,
)
from parking.timestamps import TimestampError, parse_rfc3339

log = logging.getLogger(__name__)

# The studies the model is calibrated on (docs/research.md §1c, §4, §7).
CALIBRATION_SOURCES = (
    Source(
        label="start2park (Frankfurt UAS, GPS-Messung)",
        url="https://start2park.fluxguide.com/website/2022/11/02/zwischenergebnisse",
    ),
    Source(
        label="Destatis 2017: 179 g CO₂/km Pkw-Flotte",
        url="https://m.faz.net/aktuell/wirtschaft/der-co2-ausstoss-von-autos-waechst-15910393.amp.html",
    ),
    Source(
        label="Köln-Nippes Parkpilot (Testfahrten)",
        url="https://ksta.de/koeln/nippes/parkpilot-in-koeln-nippes-wie-hat-sich-die-auslastung-der-stellplaetze-entwickelt-287105",
    ),
)
SAVED_METHOD = (
    "the same drivers on the same day in the same town without sensors (the twin) minus the run with "
    "sensors, over the drivers finished in both; positive means the sensors helped"
)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


class Refusals:
    """Simulator messages the API ignored: counted by kind (``status``, ``vehicles``), each heard by
    ``on_refused`` (the Prometheus counter), logged at most once a minute per kind."""

    def __init__(self, on_refused: Callable[[str], None] | None = None, log_interval_s: float = 60.0) -> None:
        self.counts: Counter[str] = Counter()
        self._on_refused = on_refused
        self._log = RateLimitedLog(log_interval_s, logger=log)

    def refuse(self, kind: str, topic: str, why: str) -> None:
        self.counts[kind] += 1
        if self._on_refused is not None:
            self._on_refused(kind)
        self._log.warning(kind, "ignored a simulator %s message on %s: %s", kind, topic[:200], why)


def parse_status(topic: str, payload: bytes, refusals: Refusals | None = None) -> SimulatorStatus | None:
    """A simulator's status from its topic, or None: not a status topic, an empty payload (a cleared
    retained status), or a message that does not fit (told to ``refusals``)."""
    site = topics.split_simulator_status(topic)
    if site is None or not payload:
        return None
    try:
        status = SimulatorStatus.model_validate_json(payload)
    except ValidationError as exc:
        _refuse(refusals, "status", topic, _first_error(exc))
        return None
    if status.site != site:
        _refuse(refusals, "status", topic, f"it is for site {status.site!r}")
        return None
    return status


def parse_vehicles(topic: str, payload: bytes, refusals: Refusals | None = None) -> VehiclePositions | None:
    """Car positions from their topic, or None: not a positions topic, or a message that does not fit
    (told to ``refusals``)."""
    found = topics.split_simulator(topic)
    if found is None or found[1] != "vehicles":
        return None
    try:
        positions = VehiclePositions.model_validate_json(payload)
    except ValidationError as exc:
        _refuse(refusals, "vehicles", topic, _first_error(exc))
        return None
    if positions.site != found[0]:
        _refuse(refusals, "vehicles", topic, f"they are for site {positions.site!r}")
        return None
    return positions


def _refuse(refusals: Refusals | None, kind: str, topic: str, why: str) -> None:
    if refusals is None:
        log.warning("ignored a simulator %s message on %s: %s", kind, topic[:200], why)
    else:
        refusals.refuse(kind, topic, why)


def kpi_view(status: SimulatorStatus) -> KpiView:
    """The kiosk's "with and without sensors" figures from a simulator status (pure).

    The comparison is always the twin (the same drivers, nobody steered) against the run with
    sensors, never the unguided against the guided drivers of one run.
    """
    kpis = status.kpis
    today = kpis.today
    saved = today.saved
    return KpiView(
        site=status.site,
        model_site=status.model_site,
        scenario=status.scenario,
        preset=status.preset,
        steering=status.steering,
        guidance_share=status.guidance_share,
        sensor_latency_s=status.sensor_latency_s,
        sim_time=status.sim_time,
        day_label=status.day_label,
        searching_now=kpis.now.searching,
        on_road_now=kpis.now.on_road,
        without_sensors=today.without_sensors,
        with_sensors=today.with_sensors,
        guided=today.guided,
        unguided=today.unguided,
        saved_today=SavedToday(
            search_min=saved.search_min if saved else None,
            km=saved.km if saved else None,
            co2_kg=saved.co2_kg if saved else None,
            method=SAVED_METHOD,
        ),
        typical_day=status.typical_day,
        sources=list(CALIBRATION_SOURCES),
        factors=kpis.factors,
    )


def summary(status: SimulatorStatus) -> SimulatorSummary:
    return SimulatorSummary(
        site=status.site,
        model_site=status.model_site,
        state=status.state,
        preset=status.preset,
        sim_time=status.sim_time,
        day_label=status.day_label,
    )


class SimulatorBook:
    """Latest status per simulated site, fed by the live feed (single-threaded in the event loop).

    A simulator publishes its status every second, also while paused, and clears it when it stops. A
    status older than ``stale_after_s`` belongs to a simulator that died without clearing it: it is
    no longer listed or answered for, so a screen does not show a frozen town as live.
    """

    def __init__(
        self,
        stale_after_s: float = 30.0,
        clock: Callable[[], int] = time.time_ns,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.refusals = Refusals(on_refused)
        self._status: dict[str, SimulatorStatus] = {}
        self._updated_ns: dict[str, int] = {}
        self._stale_ns = int(stale_after_s * 1e9)
        self._clock = clock

    def update(self, status: SimulatorStatus) -> None:
        try:
            updated = parse_rfc3339(status.updated_at)
        except TimestampError:
            self.refusals.refuse(
                "status", topics.simulator_status(status.site), f"updated_at {status.updated_at!r}"
            )
            return
        self._status[status.site] = status
        self._updated_ns[status.site] = updated

    def forget(self, site: str) -> None:
        self._status.pop(site, None)
        self._updated_ns.pop(site, None)

    @property
    def status(self) -> dict[str, SimulatorStatus]:
        """The running simulators' statuses by site (fresh ones only)."""
        oldest = self._clock() - self._stale_ns
        return {site: s for site, s in self._status.items() if self._updated_ns[site] >= oldest}

    def pick(self, site: str | None) -> SimulatorStatus | None:
        running = self.status
        if site is not None:
            return running.get(site)
        return running[sorted(running)[0]] if running else None

    def summaries(self) -> list[SimulatorSummary]:
        running = self.status
        return [summary(running[site]) for site in sorted(running)]

    def model_sites(self, site: str | None) -> set[str]:
        """The town models whose cars a screen of ``site`` (None: every site) shows."""
        running = self.status
        if site is None:
            return {s.model_site for s in running.values()}
        found = running.get(site)
        return {found.model_site} if found is not None else set()


class VehicleLeases:
    """Renews the "someone watches the cars" lease per town model, at most every ``renew_s``.

    Stream clients call ``want`` whenever they wake; the first call after ``renew_s`` returns True and
    the caller sends a ``VehiclesWanted`` for ``lease_s``. With no client, nothing is sent and the
    simulator stops publishing positions when its lease runs out.
    """

    def __init__(self, lease_s: float = 10.0, renew_s: float = 3.0) -> None:
        self.lease_s = lease_s
        self.renew_s = renew_s
        self._sent: dict[str, float] = {}

    def due(self, model_site: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if now - self._sent.get(model_site, -1e18) < self.renew_s:
            return False
        self._sent[model_site] = now
        return True
