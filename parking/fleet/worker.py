"""The fleet monitor's evaluations, in a worker process of their own at a lower priority.

A city's evaluation (reading and parsing the status changes of the last hour in the monitor's first
hour, joining 10,080 bays' facts, the rules over them) takes a few hundred milliseconds of CPU; in
the API's process it held the interpreter in slices between requests, and the current state's p99
went up by half (docs/fleet.md, Cost). Here the worker keeps each site's live states, slow facts and
last report between evaluations, so a job carries only what changed since the last one (states,
change counts, refusals) and an update only the bays whose facts or problems changed; the API's
share of an evaluation is a look at which states changed and a swap of the report.

A worker that does not hold the site's session (it was restarted) answers None; the API then starts a
new session with every state and the problems of its last report, so problems keep their starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from parking.events import BayStatus
from parking.fleet.changes import with_real_hour
from parking.fleet.deadletters import Refusal
from parking.fleet.evaluation import BayHealth, SiteHealth, changes
from parking.fleet.gather import SiteLayout, SlowFacts, read_change_times, read_fast, read_slow
from parking.fleet.incremental import SiteBook
from parking.fleet.rules import (
    HOUR_NS,
    BayFacts,
    Problem,
    ProblemCode,
    SiteProblemCode,
    Thresholds,
    Trend,
)
from parking.processes import BACKGROUND_NICENESS, background_worker
from parking.settings import CommonSettings
from parking.state import BayState
from parking.store import InfluxStore

# What the join needs of a live state, as a plain tuple (cheap to send): bay, status, since,
# last seen, battery volts, battery percent.
StateRow = tuple[str, BayStatus, int | None, int | None, float | None, float | None]


def state_row(s: BayState) -> StateRow:
    return (s.bay, s.status, s.since_ns, s.last_seen_ns, s.battery_v, s.battery_pct)


# A bay's facts and problems as plain tuples (enums as their values, trends as tuples): the API
# unpickles an update in one piece, and 10,080 BayHealth objects took it 95-300 ms that way, plain
# tuples 13-17 ms (2026-12-01, one process, load 2.5); it makes the objects in slices.
TrendRow = tuple[float, float, int]
ProblemRow = tuple[str, int | None, str, str]
BayRow = tuple[tuple[Any, ...], tuple[ProblemRow, ...]]
_STATUSES = {s.value: s for s in BayStatus}
_CODES: dict[str, str] = {c.value: c for c in (*ProblemCode, *SiteProblemCode)}


def _trend_row(t: Trend | None) -> TrendRow | None:
    return None if t is None else (t.value, t.slope_per_day, t.days)


def bay_row(b: BayHealth) -> BayRow:
    f = b.facts
    return (
        (
            f.site,
            f.bay,
            f.zone,
            f.device,
            f.codec,
            f.status.value,
            f.since_ns,
            f.last_seen_ns,
            f.changes_last_hour,
            f.battery_v,
            f.battery_pct,
            _trend_row(f.battery_v_trend),
            _trend_row(f.battery_pct_trend),
            f.rssi_median,
            f.snr_median,
            f.radio_messages,
            f.rejected,
            f.rejected_reason,
            f.zone_last_change_ns,
        ),
        tuple((str(p.code), p.since_ns, p.message_de, p.message_en) for p in b.problems),
    )


def bay_health(row: BayRow) -> BayHealth:
    """``bay_row`` undone."""
    fields, problems = row
    volts, percent = fields[11], fields[12]
    f = fields
    facts = BayFacts(
        f[0],
        f[1],
        f[2],
        f[3],
        f[4],
        _STATUSES[f[5]],
        f[6],
        f[7],
        f[8],
        f[9],
        f[10],
        None if volts is None else Trend(*volts),
        None if percent is None else Trend(*percent),
        f[13],
        f[14],
        f[15],
        f[16],
        f[17],
        f[18],
    )
    return BayHealth(facts, [Problem(_CODES.get(p[0], p[0]), p[1], p[2], p[3]) for p in problems])


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """How the worker reaches InfluxDB (the API's own ``PARKLOTSE_INFLUX_*`` settings)."""

    url: str
    database: str
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> StoreConfig:
        password = settings.influx_password
        return cls(
            settings.influx_url,
            settings.influx_db,
            settings.influx_username,
            None if password is None else password.get_secret_value(),
            settings.influx_timeout_s,
        )

    def open(self) -> InfluxStore:
        return InfluxStore(
            self.url, self.database, username=self.username, password=self.password, timeout_s=self.timeout_s
        )


@dataclass(frozen=True, slots=True)
class SiteJob:
    """One evaluation of a site. ``layout`` (and ``previous``) only when a session starts; then
    ``states`` holds every bay, else only those changed since the session's last job."""

    site: str
    session: int
    now_ns: int
    states: list[StateRow]
    counts: dict[str, int] | None  # status changes per bay, from the events heard; None: ask InfluxDB
    refusals: Mapping[str, tuple[int, Refusal]]
    thresholds: Thresholds
    slow_every_ns: int
    battery_every_ns: int
    simulated: Thresholds | None = None
    real: frozenset[str] = frozenset()
    layout: SiteLayout | None = None
    previous: SiteHealth | None = None  # the API's last report, problem bays only (a new session)


@dataclass(frozen=True, slots=True)
class SiteUpdate:
    """What an evaluation changed: the bays whose facts or problems differ from the session's last
    update (every bay in its first), the site's problems and counts, and the problems raised and
    cleared (the webhook's changes)."""

    session: int
    evaluated_ns: int
    changed: list[BayRow]  # bay_row of each
    site_problems: list[Problem]
    counts: dict[str, int]
    raised_cleared: list[dict[str, Any]] = field(default_factory=list)


async def read_counts(
    store: InfluxStore, site: str, now_ns: int, simulated: Thresholds | None, real: frozenset[str]
) -> dict[str, int]:
    """Status changes per bay from InfluxDB (the monitor's first hour); a simulated site's bays over
    their simulated hour, its hands-on bays over the real one."""
    window = HOUR_NS if simulated is None else int(simulated.flapping_window_s * 1e9)
    counts = await read_fast(store, site, now_ns, window)
    hour = counts if window == HOUR_NS or not real else await read_fast(store, site, now_ns)
    return with_real_hour(counts, hour, real)


class SiteEvaluator:
    """A site's evaluations as the worker keeps them between jobs."""

    def __init__(self, session: int, layout: SiteLayout, previous: SiteHealth | None) -> None:
        self.session = session
        self.book = SiteBook(layout, previous)
        self.slow: SlowFacts | None = None

    def without_reads(self, job: SiteJob) -> SiteUpdate | None:
        """``step`` when the job needs no InfluxDB read (most jobs: the slow facts are read every
        15 minutes, the change counts come from the events heard); None when it does."""
        slow = self.slow
        if slow is None or self._slow_due(job, slow) or job.counts is None:
            return None
        return self.step(job, slow, job.counts)

    @staticmethod
    def _slow_due(job: SiteJob, slow: SlowFacts) -> bool:
        return job.now_ns - slow.read_ns >= job.slow_every_ns

    async def run(self, job: SiteJob, store: InfluxStore) -> SiteUpdate:
        """The job's reads (the slow facts when due, the change counts while the change events
        cannot be heard), then ``step``."""
        slow = self.slow
        if slow is None or self._slow_due(job, slow):
            slow = await read_slow(store, job.site, job.now_ns, job.thresholds, slow, job.battery_every_ns)
            self.slow = slow
        counts = job.counts
        if counts is None:
            counts = await read_counts(store, job.site, job.now_ns, job.simulated, job.real)
        return self.step(job, slow, counts)

    def step(self, job: SiteJob, slow: SlowFacts, counts: Mapping[str, int]) -> SiteUpdate:
        """The evaluation itself, with the facts read: the job's states taken, the bays whose inputs
        changed joined and judged again (``SiteBook``), and what differs from the last update."""
        site, now = job.site, job.now_ns
        before = self.book.report
        report, changed = self.book.step(
            (BayState(site, *row) for row in job.states),
            counts,
            job.refusals,
            slow,
            job.thresholds,
            now,
            job.simulated,
            job.real,
        )
        found = changes(before, report)
        rows = [bay_row(b) for b in changed]
        return SiteUpdate(self.session, now, rows, report.site_problems, report.counts, found)


# In the worker process: per site, its evaluations (process-local by design: it is what spares
# sending every bay at every evaluation). Set up by ``start_worker``.
_SITES: dict[str, SiteEvaluator] = {}
_STORE: list[StoreConfig] = []


def start_worker(store: StoreConfig, niceness: int = BACKGROUND_NICENESS) -> None:
    """The worker process's initializer: a background worker (``parking.processes``), and where
    InfluxDB is."""
    background_worker(niceness)
    _STORE[:] = [store]


def evaluator_for(job: SiteJob) -> SiteEvaluator | None:
    """The site's evaluations the job belongs to (a new one when it starts a session); None when this
    process does not hold the job's session."""
    held = _SITES.get(job.site)
    if job.layout is not None:
        held = _SITES[job.site] = SiteEvaluator(job.session, job.layout, job.previous)
    elif held is None or held.session != job.session:
        return None
    return held


def run_job(job: SiteJob) -> SiteUpdate | None:
    """One job in the worker process (``start_worker`` ran there); None when it does not hold the
    job's session."""
    evaluator = evaluator_for(job)
    if evaluator is None:
        return None
    update = evaluator.without_reads(job)
    if update is not None:  # no client opened: making one costs ~50 ms (httpx's SSL context)
        return update
    config = _STORE[0]

    async def with_store() -> SiteUpdate:
        async with config.open() as store:
            return await evaluator.run(job, store)

    return asyncio.run(with_store())


def read_change_times_job(site: str, start_ns: int, end_ns: int) -> dict[str, list[int]]:
    """``gather.read_change_times`` in the worker process (``start_worker`` ran there): InfluxDB's
    answer, thousands of rows for a city, is parsed there rather than in the API's event loop."""
    config = _STORE[0]

    async def with_store() -> dict[str, list[int]]:
        async with config.open() as store:
            return await read_change_times(store, site, start_ns, end_ns)

    return asyncio.run(with_store())
