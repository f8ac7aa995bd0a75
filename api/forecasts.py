"""The forecast service: per site, a model fitted on the stored history, and forecasts kept ready.

In the background (never in a request): at start-up and then daily, each site's model is fitted on its
last ``forecast_history_days`` of 5-minute occupancy (the rollups, and raw readings since their last
pass) and back-tested on its last ``forecast_backtest_days``; every ``forecast_refresh_s`` the newest
readings are appended and the forecasts of the site and each zone computed anew. A request only reads
what was computed. Fitting and computing run in a worker process at low priority: in a thread of the
API's own process the fit held the interpreter for tens of seconds a day, and every request waited
meanwhile (the API benchmark's cheapest request went from p50 7 ms to 1.4 s while a city model was
fitted); the computation held it for a fraction of a second every 5 minutes (docs/forecast.md, Cost).
The worker keeps each site's model and series after the fit, so a refresh sends it only the newest
readings and gets back the forecasts; a worker that lost them (restarted) answers so, and the site is
fitted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar
from zoneinfo import ZoneInfo

from forecast.calendar import DEFAULT_REGION, HolidayCalendar
from forecast.data import Series
from forecast.model import NotEnoughHistory
from forecast.site import (
    ScopeForecast,
    SiteModel,
    append_series,
    fit_site,
    forecast_scope,
    series_from_shares,
)
from forecast.timeseries import DAY, MAX_GAP
from parking.history.influxql import OCCUPANCY_FIELDS, Scope, zone_scope
from parking.history.planner import interval_buckets
from parking.history.rollups import RollupKeeper
from parking.history.sums import HEATMAP_TZ
from parking.history.windows import FINE_ROLLUP_NS, Window
from parking.processes import background_worker
from parking.registry import Registry, Site
from parking.store import InfluxStore, StoreError

log = logging.getLogger(__name__)
_T = TypeVar("_T")


# In the worker process: per site, the fit it belongs to (its start, UTC seconds), the model and the
# series kept since. Process-local by design: it is what spares sending the model and the history at
# every refresh.
_FITTED: dict[str, tuple[float, SiteModel, dict[str | None, Series]]] = {}


def _fit_in_worker(
    site: str,
    fit_id: float,
    series: dict[str | None, Series],
    calendar: HolidayCalendar,
    backtest_days: int,
) -> SiteModel:
    _FITTED.pop(site, None)
    model = fit_site(list(series.values()), calendar, backtest_days=backtest_days)
    _FITTED[site] = (fit_id, model, series)
    return model


@dataclass(frozen=True)
class Computed:
    """What a refresh sends back: each scope's forecast, and its latest reading (UTC seconds)."""

    forecasts: dict[str | None, ScopeForecast]
    latest: dict[str | None, int]


def _compute_in_worker(
    site: str, fit_id: float, fresh: dict[str | None, Series], now: float, keep_from: int
) -> Computed | None:
    """Append ``fresh`` to the kept series and forecast each scope; None when this worker does not
    hold the site's fit ``fit_id`` (it was restarted, or another fit is newer)."""
    kept = _FITTED.get(site)
    if kept is None or kept[0] != fit_id:
        return None
    _, model, series = kept
    for zone, new in fresh.items():
        old = series.get(zone)
        series[zone] = new if old is None else append_series(old, new, keep_from)
    forecasts = {
        # A forecast from a reading older than the longest gap the model bridges is no forecast.
        zone: forecast_scope(model, s)
        for zone, s in series.items()
        if len(s) and now - s.times[-1] <= MAX_GAP
    }
    latest = {zone: int(s.times[-1]) for zone, s in series.items() if len(s)}
    return Computed(forecasts, latest)


STEP_NS = FINE_ROLLUP_NS
# Appended readings overlap the kept ones by this much: the last rollup pass may have completed them.
OVERLAP_S = 2 * 3600
CAUGHT_UP_S = 3 * 3600
WAITING_POLL_S = 10.0  # how often a site without a model looks whether its rollups are there


@dataclass(frozen=True)
class ForecastPolicy:
    """How the API keeps its forecasts: ``PARKLOTSE_FORECAST_*`` of api.settings (docs/forecast.md)."""

    enabled: bool = True
    history_days: int = 56
    backtest_days: int = 7
    refit_s: float = 86_400.0
    refresh_s: float = 300.0
    holidays: str = DEFAULT_REGION


class State(Enum):
    WAITING = "waiting"  # not tried yet, or the rollups are being built
    NOT_ENOUGH_HISTORY = "not_enough_history"
    FAILED = "failed"
    READY = "ready"


@dataclass(frozen=True)
class ZoneForecast:
    zone: str | None
    capacity: int
    forecast: ScopeForecast


@dataclass(frozen=True)
class SiteForecasts:
    model: SiteModel
    trained_at: float  # UTC seconds
    computed_at: float
    scopes: dict[str | None, ZoneForecast]
    # Answers as sent, per (zone, steps): made once per computation, so a request is a look-up.
    bodies: dict[tuple[str | None, int], bytes] = field(default_factory=dict)


@dataclass
class SiteEntry:
    state: State = State.WAITING
    message: str = "the forecast model has not been fitted yet"
    model: SiteModel | None = None
    trained_at: float = 0.0
    # Each scope's latest reading (UTC seconds): the next refresh reads from there. The series
    # themselves are kept by the worker.
    latest: dict[str | None, int] = field(default_factory=dict)
    ready: SiteForecasts | None = None


class ForecastUnavailable(Exception):
    """No forecast to give: ``message`` says why (and ``disabled`` whether it is switched off)."""

    def __init__(self, message: str, *, disabled: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.disabled = disabled


def scopes_of(site: Site) -> dict[str | None, tuple[Scope, int]]:
    """The site (zone None) and each zone, with its bays as capacity (the history's own scopes)."""
    scopes = {zone: zone_scope(site, zone) for zone in (None, *site.zones)}
    return {zone: (scope, len(scope.known)) for zone, scope in scopes.items() if scope is not None}


class ForecastService:
    def __init__(
        self,
        store: InfluxStore,
        registry: Registry,
        keeper: RollupKeeper,
        policy: ForecastPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.registry = registry
        self.keeper = keeper
        self.policy = policy
        self.clock = clock
        self.zone = ZoneInfo(HEATMAP_TZ)
        self._sites: dict[str, SiteEntry] = {site: SiteEntry() for site in registry.sites}
        self._task: asyncio.Task[None] | None = None
        self._pool: ProcessPoolExecutor | None = None

    # ------------------------------------------------------------ what requests read

    def get(self, site: str) -> SiteForecasts:
        if not self.policy.enabled:
            raise ForecastUnavailable(
                "forecasts are switched off (PARKLOTSE_FORECAST_ENABLED)", disabled=True
            )
        entry = self._sites.get(site)
        if entry is None or entry.ready is None:
            message = entry.message if entry is not None else "no forecast for this site"
            raise ForecastUnavailable(message)
        return entry.ready

    def status(self, site: str) -> tuple[str, str]:
        """The site's state (ready, waiting, not_enough_history, failed, disabled) and why."""
        if not self.policy.enabled:
            return "disabled", "forecasts are switched off (PARKLOTSE_FORECAST_ENABLED)"
        entry = self._sites.get(site)
        if entry is None:
            return State.WAITING.value, "no forecast for this site"
        return entry.state.value, entry.message

    # ------------------------------------------------------------ the background

    async def start(self) -> None:
        if self.policy.enabled:
            # spawn, not fork: a forked copy of a running event loop and its threads is unsafe.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=background_worker
            )
            self._task = asyncio.create_task(self._run(), name="parklotse-forecasts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _run(self) -> None:
        while True:
            for site in list(self._sites):
                try:
                    await self.update(site)
                except StoreError as exc:
                    log.warning("forecast of site %s postponed: %s", site, exc)
                except Exception:
                    self._sites[site].state = State.FAILED
                    self._sites[site].message = "the forecast failed; it is tried again at the next pass"
                    log.exception("forecast of site %s failed; trying again at the next pass", site)
            waiting = any(e.model is None and e.state is State.WAITING for e in self._sites.values())
            await asyncio.sleep(
                min(WAITING_POLL_S, self.policy.refresh_s) if waiting else self.policy.refresh_s
            )

    async def update(self, site_id: str) -> None:
        """Fit the site's model if due, then compute its forecasts from the newest readings."""
        site = self.registry.site(site_id)
        entry = self._sites[site_id]
        watermark = self.keeper.watermark(site_id)
        # While the rollups are being built their watermark trails far behind: the raw readings since
        # then would be slow to read, and the rollups will have them shortly.
        if site is None or watermark is None or watermark < (self.clock() - CAUGHT_UP_S) * 1e9:
            entry.message = "the forecast waits for the history rollups, which are being built"
            return
        now = self.clock()
        if entry.trained_at == 0.0 or now - entry.trained_at >= self.policy.refit_s:
            await self.fit(site, entry, now)
        if entry.model is not None and not await self._compute(site, entry, now):
            log.info("forecast of site %s: the worker no longer holds its model; fitting again", site.id)
            await self.fit(site, entry, now)
            if entry.model is not None:
                await self._compute(site, entry, now)

    async def _in_worker(self, function: Callable[..., _T], *args: object) -> _T:
        if self._pool is None:  # not started (tests that call fit directly)
            return await asyncio.to_thread(function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def fit(self, site: Site, entry: SiteEntry, now: float) -> None:
        days = self.policy.history_days
        log.info("forecast of site %s: reading %d days of history", site.id, days)
        series = await self._read(site, int(now) - days * DAY, int(now))
        log.info("forecast of site %s: fitting on %d readings", site.id, sum(map(len, series.values())))
        started = time.perf_counter()
        calendar = HolidayCalendar(self.policy.holidays)
        entry.model, entry.latest = None, {}
        try:
            model = await self._in_worker(
                _fit_in_worker, site.id, now, series, calendar, self.policy.backtest_days
            )
        except NotEnoughHistory as exc:
            entry.state, entry.message = State.NOT_ENOUGH_HISTORY, str(exc)
            entry.trained_at, entry.ready = now, None
            log.info(
                "forecast of site %s: %s; trying again in %.0f s",
                site.id,
                exc,
                self.policy.refit_s,
            )
            return
        entry.model, entry.trained_at = model, now
        entry.latest = {zone: int(s.times[-1]) for zone, s in series.items() if len(s)}
        log.info(
            "forecast of site %s: fitted in %.1f s%s",
            site.id,
            time.perf_counter() - started,
            "" if model.backtest is None else f"; back-test 30 min {_mae(model, 30)}",
        )

    async def _compute(self, site: Site, entry: SiteEntry, now: float) -> bool:
        """The newest readings to the worker, the forecasts back; False if the worker lost the model."""
        assert entry.model is not None
        since = min(entry.latest.values(), default=int(now)) - OVERLAP_S
        fresh = await self._read(site, since, int(now))
        keep_from = int(now) - self.policy.history_days * DAY
        computed = await self._in_worker(_compute_in_worker, site.id, entry.trained_at, fresh, now, keep_from)
        if computed is None:
            return False
        entry.latest = computed.latest
        capacities = {zone: capacity for zone, (_, capacity) in scopes_of(site).items()}
        scopes = {
            zone: ZoneForecast(zone, capacities[zone], forecast)
            for zone, forecast in computed.forecasts.items()
        }
        if not scopes:
            entry.state = State.WAITING
            entry.message = (
                f"no readings of site {site.id} in the last {MAX_GAP // 60} minutes to forecast from"
            )
            entry.ready = None
            return True
        entry.state, entry.message = State.READY, "ready"
        entry.ready = SiteForecasts(entry.model, entry.trained_at, now, scopes)
        return True

    async def _read(self, site: Site, start_s: int, end_s: int) -> dict[str | None, Series]:
        """Occupied share per 5 minutes of the site and each zone: the rollups, then raw readings."""
        window = Window(start_s * 10**9 // STEP_NS * STEP_NS, end_s * 10**9 // STEP_NS * STEP_NS, STEP_NS)
        found = {}
        for zone, (scope, capacity) in scopes_of(site).items():
            buckets, _ = await interval_buckets(
                self.store, self.keeper, scope, zone, window, window.end_ns, "auto", OCCUPANCY_FIELDS
            )
            # Complete intervals only, each stamped at its end: that is when its share was known.
            rows = [
                ((t + STEP_NS) // 10**9, b.occupancy)
                for t, b in sorted(buckets.items())
                if b.occupancy is not None and t + STEP_NS <= window.end_ns
            ]
            found[zone] = series_from_shares(
                zone or "", [t for t, _ in rows], [share for _, share in rows], capacity, self.zone
            )
        return found


def _mae(model: SiteModel, horizon_min: int) -> str:
    assert model.backtest is not None
    for s in model.backtest.scores:
        if s.horizon_min == horizon_min:
            return f"model {s.mae['model']:.2f} vs persistence {s.mae['persistence']:.2f} points (n {s.n})"
    return "n/a"
