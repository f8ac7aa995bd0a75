"""Weeks of simulated history for a simulated site, written before the demo's page opens.

The offline model (the same scenario and seed as the live simulator) runs over the last ``weeks``
weeks of the real calendar, so each simulated day is the weekday it is stamped with and the
heatmap shows a typical week. Its sensor readings go to ``bay_status`` at their simulated times,
tagged ``source=sim`` (``parking.simulated``), in large line-protocol batches through the store.

A site is only filled where it has no history yet: from ``weeks`` weeks before today's local
midnight, or from its last reading or last backfill if that is later. So a second start writes
nothing, and a start after a pause fills only the gap. The rollups are the API's: its keeper builds
them at start-up (the demo starts the API after the backfill); into a running stack, follow a
backfill with ``POST /api/v1/sites/{site}/rollup``.

The core (simulated seconds → UTC, readings → line protocol, what span to fill) is pure; running
the model and talking to InfluxDB are the edges.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import httpx

from parking.history.influxql import marker_query
from parking.history.sums import HEATMAP_TZ
from parking.history.windows import DAY_NS, HOUR_NS
from parking.registry import Registry, load_registry
from parking.settings import CommonSettings
from parking.simulated import (
    BackfillRecord,
    covered_until,
    local_date,
    local_midnight_ns,
    marker_line,
    parse_markers,
    reading_line,
    reading_prefix,
)
from parking.store import InfluxStore

WEEKS = 4
DEFAULT_SEED = 1  # the offline model's default seed (simulator.command.DEFAULT_SEED)
MIN_GAP_NS = HOUR_NS  # less history missing than this is not worth a backfill
BATCH_LINES = 50_000
DAY_S = 86_400.0

Progress = Callable[[str, int, int], None]  # site, simulated days done, days in all


@dataclass(frozen=True, slots=True)
class Reading:
    time_ns: int
    site: str
    bay: str
    occupied: bool


@dataclass(frozen=True, slots=True)
class Target:
    """A site the model's readings are written for, from ``start_ns`` on: the model's own site, or a
    site that is a piece of it (the showroom table is one block face of the town) under its own names.
    """

    site: str
    bays: dict[str, str]  # the model's bay id -> this site's bay id
    start_ns: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a backfill of one site did: ``record`` is None when nothing was missing."""

    site: str
    record: BackfillRecord | None
    seconds: float
    reason: str = ""


# ---------------------------------------------------------------- the pure core


def plan_span(
    now_ns: int, covered_ns: int | None, weeks: int, zone: ZoneInfo, min_gap_ns: int = MIN_GAP_NS
) -> tuple[int, int] | None:
    """``[start, now)`` to fill: from local midnight ``weeks`` weeks back, not before what is covered."""
    start = local_midnight_ns(local_date(now_ns, zone) - timedelta(weeks=weeks), zone)
    if covered_ns is not None:
        start = max(start, covered_ns)
    return (start, now_ns) if now_ns - start >= min_gap_ns else None


class SimClock:
    """Simulated seconds since midnight of ``first_day`` → UTC nanoseconds, on the local calendar.

    A simulated day is 24 hours; the local day it is stamped on has 23 or 25 at the clock changes,
    so on those two days a year simulated time is stretched evenly onto the local day. The mapping
    thus stays monotonic (a bay's readings keep their order) and every other day is exact.
    """

    def __init__(self, first_day: date, zone: ZoneInfo) -> None:
        self.first_day = first_day
        self.zone = zone
        self._midnights: list[int] = []

    def midnight_ns(self, day_index: int) -> int:
        while len(self._midnights) <= day_index + 1:
            self._midnights.append(
                local_midnight_ns(self.first_day + timedelta(days=len(self._midnights)), self.zone)
            )
        return self._midnights[day_index]

    def to_ns(self, t_s: float) -> int:
        day = int(t_s // DAY_S)
        start = self.midnight_ns(day)
        length = self._midnights[day + 1] - start
        seconds = t_s - day * DAY_S
        if length == DAY_NS:
            return start + round(seconds * 1e9)
        return start + round(seconds / DAY_S * length)


def lines_for(readings: Iterable[Reading], prefixes: dict[tuple[str, str], str] | None = None) -> list[str]:
    """Line protocol of simulated readings; ``prefixes`` caches each bay's line head between calls."""
    prefixes = {} if prefixes is None else prefixes
    lines = []
    for r in readings:
        prefix = prefixes.get((r.site, r.bay))
        if prefix is None:
            prefix = prefixes[(r.site, r.bay)] = reading_prefix(r.site, r.bay)
        lines.append(reading_line(prefix, r.occupied, r.time_ns))
    return lines


class TargetState:
    """What one target has seen: each bay's state before its start, and whether that went out."""

    def __init__(self, target: Target, end_ns: int) -> None:
        self.target = target
        self.end_ns = end_ns
        self.state: dict[str, bool] = {}
        self.started = False

    def take(self, changes: Iterable[tuple[int, str, bool]], day_end_ns: int) -> list[Reading]:
        """The target's readings among one simulated day's ``(time, model bay, occupied)``.

        Readings before its start only update the state; once the day reaches the start, every
        bay's state at the start comes first (free if the model never parked on it), so every
        bay of the site is known from then on.
        """
        t = self.target
        kept = []
        for time_ns, model_bay, occupied in changes:
            bay = t.bays.get(model_bay)
            if bay is None:
                continue
            if time_ns < t.start_ns:
                self.state[bay] = occupied
            elif time_ns < self.end_ns:
                kept.append(Reading(time_ns, t.site, bay, occupied))
        if not self.started and day_end_ns > t.start_ns:
            self.started = True
            first = [Reading(t.start_ns, t.site, bay, self.state.get(bay, False)) for bay in t.bays.values()]
            kept = first + kept
        return kept


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Model:
    """A scenario, its site and seed: what the live simulator of that scenario would run.

    ``views``: the sites that are a piece of the model's town (site file ``"part_of"``), each with
    its bays' ids in the model (their ``town_bay``).
    """

    scenario_name: str
    site_id: str
    bays: tuple[str, ...]
    views: dict[str, dict[str, str]]
    run_days: Callable[[date, int], Iterator[list[tuple[float, str, bool]]]]

    def targets(self, starts: dict[str, int]) -> list[Target]:
        """The sites to write from their start on (those in ``starts``)."""
        found = []
        if self.site_id in starts:
            found.append(Target(self.site_id, {b: b for b in self.bays}, starts[self.site_id]))
        for site, view in self.views.items():
            if site in starts:
                found.append(Target(site, {town: own for own, town in view.items()}, starts[site]))
        return found


def views_of(registry: Registry, model_site: str) -> dict[str, dict[str, str]]:
    """Sites that are part of ``model_site``: their bay id -> the model's bay id (``town_bay``)."""
    views: dict[str, dict[str, str]] = {}
    for site in registry.sites.values():
        if site.id != model_site and site.properties.get("part_of") == model_site:
            mapping = {
                b.id: str(b.properties["town_bay"]) for b in site.bays.values() if "town_bay" in b.properties
            }
            if mapping:
                views[site.id] = mapping
    return views


def load_model(scenario_name: str, sites_dir: Path, seed: int) -> Model:
    """The calibrated model of a scenario (errors name the file and field, as the simulator's do)."""
    from simulator.engine import BayChange, Engine, seed_entropy
    from simulator.grid import build_network, resolve_site
    from simulator.scenario import load_scenario, resolve_scenario_path

    path = resolve_scenario_path(scenario_name)
    scenario = load_scenario(path)
    site = resolve_site(scenario, sites_dir, path)
    network = build_network(site, scenario.space)

    def run_days(first_day: date, days: int) -> Iterator[list[tuple[float, str, bool]]]:
        # The live simulator's engine: the same drivers for the same seed (simulator.live).
        engine = Engine(scenario, network, seed_entropy(seed), first_day, keep_records=False)
        for day in range(1, days + 1):
            changes: list[BayChange] = []
            engine.run_until(day * DAY_S, changes)
            # The engine's own warm-up runs before midnight of first_day (negative times): those
            # readings only set the state, so they are kept, in order, at first_day's midnight.
            yield [(max(c.t_s, 0.0), c.bay, c.occupied) for c in changes]

    views = views_of(load_registry(sites_dir), site.id)
    return Model(scenario_name, site.id, tuple(site.bays), views, run_days)


def simulate(
    model: Model, targets: Sequence[Target], end_ns: int, zone: ZoneInfo, progress: Progress | None = None
) -> Iterator[list[Reading]]:
    """The model's readings for each target up to ``end``, a simulated day at a time.

    The model starts a day before the earliest start, so the car park is as full then as it would
    be (long-stay cars stay overnight).
    """
    start_ns = min(t.start_ns for t in targets)
    first_day = local_date(start_ns, zone) - timedelta(days=1)
    days = (local_date(end_ns - 1, zone) - first_day).days + 1
    clock = SimClock(first_day, zone)
    states = [TargetState(t, end_ns) for t in targets]
    for done, changes in enumerate(model.run_days(first_day, days), start=1):
        stamped = [(clock.to_ns(t_s), bay, occupied) for t_s, bay, occupied in changes]
        day_end = clock.midnight_ns(done)
        kept = [r for state in states for r in state.take(stamped, day_end)]
        if kept:
            yield kept
        if progress is not None:
            progress(model.site_id, done, days)


# ---------------------------------------------------------------- InfluxDB


async def plan_sites(
    store: InfluxStore, sites: Iterable[str], now_ns: int, weeks: int, zone: ZoneInfo
) -> dict[str, tuple[int, int] | None]:
    """Per site, the span its history lacks (None: nothing worth writing), from its backfill markers."""
    await store.ensure_database()
    spans: dict[str, tuple[int, int] | None] = {}
    for site in sites:
        records, last_ns = parse_markers(await store.query(marker_query(site), epoch="ns"), site)
        spans[site] = plan_span(now_ns, covered_until(records, last_ns), weeks, zone)
    return spans


async def backfill_model(
    store: InfluxStore,
    model: Model,
    *,
    seed: int,
    now_ns: int | None = None,
    weeks: int = WEEKS,
    zone: ZoneInfo | None = None,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Fill the missing simulated history of the model's site and its views up to now."""
    started = time.perf_counter()
    zone = zone or ZoneInfo(HEATMAP_TZ)
    now = time.time_ns() if now_ns is None else now_ns
    spans = await plan_sites(store, [model.site_id, *model.views], now, weeks, zone)
    targets = model.targets({site: span[0] for site, span in spans.items() if span is not None})
    skipped = [
        Outcome(site, None, time.perf_counter() - started, "history already there")
        for site, span in spans.items()
        if span is None
    ]
    if not targets:
        return skipped
    written: dict[str, int] = {t.site: 0 for t in targets}
    batch: list[str] = []
    prefixes: dict[tuple[str, str], str] = {}
    pending: asyncio.Task[None] | None = None
    days = simulate(model, targets, now, zone, progress)
    # The model runs in a thread while the last batch is written: InfluxDB works on the other core.
    while (readings := await asyncio.to_thread(next, days, None)) is not None:
        batch += lines_for(readings, prefixes)
        for r in readings:
            written[r.site] += 1
        if len(batch) >= BATCH_LINES:
            if pending is not None:
                await pending
            pending = asyncio.create_task(store.write(batch))
            batch = []
    if pending is not None:
        await pending
    await store.write(batch)
    records = [
        BackfillRecord(t.site, t.start_ns, now, written[t.site], seed, model.scenario_name) for t in targets
    ]
    # The markers last: a backfill cut short is continued from its last reading at the next start.
    await store.write([marker_line(r) for r in records])
    seconds = time.perf_counter() - started
    return [Outcome(r.site, r, seconds) for r in records] + skipped


async def backfill(
    store: InfluxStore,
    scenarios: Sequence[str],
    sites_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    weeks: int = WEEKS,
    now_ns: int | None = None,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Every scenario's sites; scenarios of the same town (the showroom is a piece of it) run once."""
    now = time.time_ns() if now_ns is None else now_ns
    outcomes: list[Outcome] = []
    done: set[str] = set()
    for name in scenarios:
        model = load_model(name, sites_dir, seed)
        if model.site_id in done:
            continue
        done.add(model.site_id)
        outcomes += await backfill_model(store, model, seed=seed, now_ns=now, weeks=weeks, progress=progress)
    return outcomes


def describe(outcome: Outcome) -> str:
    if outcome.record is None:
        return f"{outcome.site}: no backfill needed ({outcome.reason})"
    r = outcome.record
    days = (r.end_ns - r.start_ns) / DAY_NS
    return (
        f"{outcome.site}: {r.readings:,} simulated readings over {days:.1f} days "
        f"(scenario {r.scenario}, seed {r.seed}) in {outcome.seconds:.1f} s"
    )


# ---------------------------------------------------------------- for the demo


class ProgressLine:
    """One line on a terminal, rewritten in place ("history: town-centre day 12/30"); elsewhere
    (a log file, a test) only the finished lines are printed.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._shown = 0.0

    def update(self, site: str, done: int, total: int) -> None:
        now = time.monotonic()
        if self.tty and (done == total or now - self._shown >= 0.2):
            self._shown = now
            self.out.write(f"\r  simulated history: {site}, day {done} of {total} …\033[K")
            self.out.flush()

    def line(self, text: str) -> None:
        self.out.write(("\r\033[K" if self.tty else "") + f"  {text}\n")
        self.out.flush()


def run_backfill(
    settings: CommonSettings, scenarios: Sequence[str], out: TextIO, *, weeks: int = WEEKS
) -> list[Outcome]:
    """The demo's step: every simulated site's missing history, with a progress line on ``out``."""
    shown = ProgressLine(out)
    out.write(f"Writing {weeks} weeks of simulated history (skip with --no-backfill) …\n")
    out.flush()

    # Batches of 50,000 readings: more time than a live write needs, on a loaded machine.
    patient = settings.model_copy(update={"influx_timeout_s": max(60.0, settings.influx_timeout_s)})

    async def run() -> list[Outcome]:
        async with InfluxStore.from_settings(patient) as store:
            return await backfill(store, scenarios, settings.sites_dir, weeks=weeks, progress=shown.update)

    started = time.perf_counter()
    outcomes = asyncio.run(run())
    for outcome in outcomes:
        shown.line(describe(outcome))
    shown.line(f"simulated history done in {time.perf_counter() - started:.1f} s")
    return outcomes


def history_served(api_url: str, sites: Iterable[str], timeout_s: float = 1.0) -> bool:
    """Whether the API answers every site's four-week heatmap (the rollups are built)."""
    for site in sites:
        try:
            response = httpx.get(f"{api_url}api/v1/sites/{site}/heatmap?weeks={WEEKS}", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
    return True
