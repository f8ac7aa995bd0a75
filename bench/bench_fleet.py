"""Fleet health for the city scenario (10,080 bays): the rules, and a whole evaluation against InfluxDB.

    python -m bench fleet [--repeat 20] [--no-influx]

1. The pure rules (``parking/fleet/rules.py``) over 10,080 bays whose facts mix healthy sensors with
   every kind of problem, median of ``--repeat`` runs. Baseline in the same run: the pass the API
   already makes over the same bays whenever a site changes (``api.current.shown_states``, which
   marks silent sensors unknown), so the ratio says what the rules cost next to existing work.
2. Joining the facts (``gather.SiteBays.assemble``) on inputs that reach every branch, beside the join
   it replaced (kept here as the reference): the bench stops unless both give identical facts, and
   prints the time of each, measured in the same run.
3. Evaluations a minute apart as the worker makes them (``parking/fleet/incremental.py``: only what
   changed joined and judged again) beside a whole evaluation of the same inputs, in turn.
4. Unless ``--no-influx``: a local influxd (Debian's, in a temporary folder) gets a day of readings
   of every bay (a change about every two hours, a heartbeat every three, battery and radio with
   each) and two weeks of daily battery readings; then the monitor's reads (the fast query of every
   evaluation, the slow ones of every 15 minutes), the joining of facts and the rules are timed as
   its worker runs them. Target: a whole evaluation of the city under 1 s. The monitor counts the
   status changes of the last hour from the ingester's change events, with the changes stored in
   the hour before it heard them read once (``parking/fleet/changes.py``), so its steady evaluation
   is that count, joining and rules; the InfluxDB count query is what it does while the events
   cannot be heard (both are printed, and the read of the hour before). Then whole
   evaluations as the API's monitor runs them (``FleetMonitor.evaluate_site``, the work in its
   worker process) with the longest the event loop waited meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

# Runnable as a plain script from a checkout, without installing the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.current import shown_states
from api.fleet import FleetMonitor, evaluate
from api.settings import ApiSettings
from parking.events import BayStatus
from parking.fleet.changes import ChangeEvent, ChangeWindow
from parking.fleet.deadletters import Refusal
from parking.fleet.evaluation import SiteHealth
from parking.fleet.gather import (
    SiteBays,
    SiteLayout,
    SlowFacts,
    read_change_times,
    read_fast,
    read_slow,
    status_since,
)
from parking.fleet.incremental import SiteBook, vouched
from parking.fleet.rules import (
    DAY_NS,
    HOUR_NS,
    BayFacts,
    Limits,
    Problem,
    Thresholds,
    evaluate_bay,
    fit_trend,
    healthy,
)
from parking.lineprotocol import BAY_STATUS, SENSOR_HEALTH
from parking.registry import Registry, Site
from parking.settings import DEFAULT_SITES_DIR
from parking.state import BayState, LiveState
from parking.store import InfluxStore
from parklotse.servers import LocalInfluxDB
from simulator.grid import resolve_site
from simulator.scenario import load_scenario

S = 1_000_000_000
DB = "bench"
TARGET_S = 1.0


def city_site() -> Site:
    return resolve_site(load_scenario("city"), DEFAULT_SITES_DIR)


def mixed_facts(site: Site, now: int, seed: int = 1) -> list[BayFacts]:
    """Healthy sensors, and about a third with one of the problems (more than a real fleet: each
    problem costs its two sentences), with battery trends, radio and zone facts for every bay."""
    rng = random.Random(seed)
    facts = []
    for bay in site.bays.values():
        kind = rng.randrange(20)
        last_seen = now - rng.randrange(60, 3 * 3600) * S
        battery = [
            (now - d * DAY_NS, 3.6 - (0.02 if kind == 4 else 0.001) * (14 - d)) for d in range(14, 0, -1)
        ]
        facts.append(
            BayFacts(
                site=site.id,
                bay=bay.id,
                zone=bay.zone,
                device=bay.device_id,
                codec=bay.codec,
                status=BayStatus.OCCUPIED if kind == 1 or rng.random() < 0.5 else BayStatus.FREE,
                since_ns=now - (80 * HOUR_NS if kind == 1 else rng.randrange(60, 6 * 3600) * S),
                last_seen_ns=now - 30 * HOUR_NS if kind == 0 else last_seen,
                changes_last_hour=30 if kind == 2 else rng.randrange(0, 4),
                battery_v=3.1 if kind == 3 else battery[-1][1],
                battery_v_trend=fit_trend(battery),
                rssi_median=-125.0 if kind == 5 else rng.uniform(-115, -70),
                snr_median=rng.uniform(-10, 10),
                radio_messages=rng.randrange(5, 40),
                rejected=9 if kind == 6 else 0,
                rejected_reason="bad_frame" if kind == 6 else None,
                zone_last_change_ns=now - 300 * S,
            )
        )
    return facts


def median_time(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def median_times(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Both medians, the two run in turn (first then second, then second then first, ...)."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(repeat):
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            started = time.perf_counter()
            (first, second)[which]()
            times[which].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def bench_rules(site: Site, repeat: int) -> None:
    now = time.time_ns()
    facts = mixed_facts(site, now)
    thresholds = Thresholds()
    states = [BayState(site.id, f.bay, f.status, f.since_ns, f.last_seen_ns, f.battery_v) for f in facts]

    limits = Limits.of(thresholds)

    def rules() -> list[list[Problem]]:
        return [evaluate_bay(f, thresholds, now, limits) for f in facts]

    def every_rule() -> list[list[Problem]]:
        return [evaluate_bay(f, thresholds, now) for f in facts]

    if rules() != every_rule():
        raise SystemExit("the quick path for healthy bays changed a bay's problems")
    found = sum(map(len, rules()))
    rules_s, every_rule_s = median_times(rules, every_rule, repeat)
    baseline_s = median_time(lambda: shown_states(states, now, 6 * 3600 * S), repeat)
    quick = sum(healthy(f, limits, now) for f in facts)
    print(f"1. rules over {len(facts):,} bays ({found:,} problems found), median of {repeat} runs:")
    print(f"   rules                               {rules_s * 1000:8.1f} ms   ({quick:,} by the quick path)")
    print(
        f"   every rule on every bay             {every_rule_s * 1000:8.1f} ms   "
        f"(identical problems; timed in turn)"
    )
    print(f"   baseline: the current view's pass   {baseline_s * 1000:8.1f} ms")
    ratio = rules_s / baseline_s
    print(f"   ratio rules / baseline              {ratio:8.1f}x   (target: rules < {TARGET_S:g} s)")


class LoopWatch:
    """A task beside the measured work that notes how late the event loop wakes it: the longest
    wait is what a request arriving mid-evaluation could be held up by."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while not self._done.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(0)
            self.late.append(time.perf_counter() - asked)

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._done.set()
        if self._task is not None:
            await self._task

    @property
    def longest(self) -> float:
        return max(self.late, default=0.0)


def join_inputs(
    site: Site, now: int, seed: int = 4
) -> tuple[list[BayState], dict[str, int], SlowFacts, dict[str, tuple[int, Refusal]]]:
    """Live states, change counts, slow facts and refusals that reach every branch of the join: bays of
    every status, never heard, changed after the slow read, battery only stored or only live, volts and
    percent, radio or none, refused messages, and zones whose bays changed at the same moment."""
    rng = random.Random(seed)
    statuses = (BayStatus.FREE, BayStatus.OCCUPIED, BayStatus.UNKNOWN)
    states, changed, first, radio, volts, percent, refusals = [], {}, {}, {}, {}, {}, {}
    for bay in site.bays:
        kind = rng.randrange(10)
        since = None if kind == 0 else now - rng.choice((60, 600, 3600, 7200)) * S  # ties within zones
        if kind == 1:
            since = now + 30 * S  # a change after the slow read
        states.append(
            BayState(
                site.id,
                bay,
                rng.choice(statuses),
                since,
                None if since is None else now - rng.randrange(0, 3600) * S,
                None if kind in (2, 3) else 3.5,
                rng.choice((None, 55.0)),
            )
        )
        if kind != 4:
            changed[bay] = now - rng.randrange(3600, 15 * 86400) * S
        first[bay] = now - 15 * DAY_NS
        if kind != 5:
            radio[bay] = (rng.uniform(-125, -80), rng.choice((None, rng.uniform(-18, 9))), rng.randrange(9))
        days = [(now - d * DAY_NS, 3.6 - 0.01 * (14 - d)) for d in range(rng.randrange(1, 14), 0, -1)]
        if kind != 2:
            volts[bay] = (days[-1][1], fit_trend(days))
        if kind == 3:
            percent[bay] = (40.0, fit_trend([(t, 40 + v) for t, v in days]))
        if kind == 6:
            refusal = Refusal(site.id, bay, "bad_frame", "frame too short", now - 60 * S)
            refusals[bay] = (rng.randrange(1, 12), refusal)
    changes = {bay: rng.randrange(0, 30) for bay in site.bays if rng.random() < 0.5}
    slow = SlowFacts(
        read_ns=now,
        changed_ns=changed,
        first_ns=first,
        window_start_ns=now - 15 * DAY_NS,
        radio=radio,
        battery_read_ns=now,
        battery_v=volts,
        battery_pct=percent,
    )
    return states, changes, slow, refusals


def keyword_join(
    site: Site,
    states: list[BayState],
    changes: dict[str, int],
    slow: SlowFacts,
    refusals: dict[str, tuple[int, Refusal]],
) -> list[BayFacts]:
    """The join as it was at commit 997c7a6, before it was made lean, kept as the reference: the registry
    looked up per bay, the zone's two latest changes in sorted lists, facts made with keywords."""
    since = {s.bay: status_since(s, slow) for s in states}
    latest: dict[str, list[tuple[int, str]]] = {}
    for s in states:
        t = since[s.bay]
        if t is None or s.status not in (BayStatus.FREE, BayStatus.OCCUPIED):
            continue
        top = latest.setdefault(site.bays[s.bay].zone, [])
        if len(top) < 2:
            top.append((t, s.bay))
            top.sort(reverse=True)
        elif t > top[1][0]:
            top[1] = (t, s.bay)
            if t > top[0][0]:
                top.reverse()
    facts = []
    for s in states:
        bay = site.bays[s.bay]
        others = [t for t, b in latest.get(bay.zone, []) if b != s.bay]
        rssi, snr, messages = slow.radio.get(s.bay, (None, None, 0))
        refused, last = refusals.get(s.bay, (0, None))
        volts, percent = slow.battery_v.get(s.bay), slow.battery_pct.get(s.bay)
        facts.append(
            BayFacts(
                site=site.id,
                bay=s.bay,
                zone=bay.zone,
                device=bay.device_id or bay.dev_eui,
                codec=bay.codec,
                status=s.status,
                since_ns=since[s.bay],
                last_seen_ns=s.last_seen_ns,
                changes_last_hour=changes.get(s.bay, 0),
                battery_v=s.battery_v if s.battery_v is not None else (None if volts is None else volts[0]),
                battery_pct=s.battery_pct
                if s.battery_pct is not None
                else (None if percent is None else percent[0]),
                battery_v_trend=None if volts is None else volts[1],
                battery_pct_trend=None if percent is None else percent[1],
                rssi_median=rssi,
                snr_median=snr,
                radio_messages=messages,
                rejected=refused,
                rejected_reason=None if last is None else last.reason,
                zone_last_change_ns=others[0] if others else None,
            )
        )
    return facts


def bench_join(site: Site, repeat: int) -> None:
    """The lean join beside the reference it replaced, on inputs that reach every branch: identical
    facts, and the time of each in the same run."""
    now = time.time_ns()
    states, changes, slow, refusals = join_inputs(site, now)
    join = SiteBays(site)  # the monitor keeps one per site
    lean = list(join.assemble(states, changes, slow, refusals))
    reference = keyword_join(site, states, changes, slow, refusals)
    if lean != reference:
        differ = sum(a != b for a, b in zip(lean, reference, strict=True))
        raise SystemExit(f"the join differs from the reference for {differ} of {len(lean):,} bays")
    zones = sum(f.zone_last_change_ns is not None for f in lean)
    # Interleaved, so that both see the same load of the shared machine.
    lean_s, reference_s = median_times(
        lambda: list(join.assemble(states, changes, slow, refusals)),
        lambda: keyword_join(site, states, changes, slow, refusals),
        repeat,
    )
    print(f"2. joining the facts of {len(lean):,} bays, median of {repeat} runs (identical facts;")
    print(f"   {zones:,} bays with another change in their zone):")
    print(f"   SiteBays.assemble (the monitor's)   {lean_s * 1000:8.1f} ms")
    print(f"   reference: the join before          {reference_s * 1000:8.1f} ms")
    print(f"   ratio lean / reference              {lean_s / reference_s:8.2f}x")


CHANGED_PER_MINUTE = 84  # a change about every two hours per bay, as in day_lines: 10,080 / 120

Inputs = tuple[list[BayState], dict[str, int], SlowFacts, dict[str, tuple[int, Refusal]]]


def fleet_inputs(site: Site, now: int, seed: int = 6) -> Inputs:
    """A fleet as a city would have it: sensors heard within three hours, statuses held for minutes
    to hours, good batteries and radio; about 3 % with a problem (silent, flapping, low battery,
    weak radio, refused messages)."""
    rng = random.Random(seed)
    states, changed, radio, refusals, counts = [], {}, {}, {}, {}
    for bay in site.bays:
        kind = rng.randrange(200)
        since = now - rng.randrange(60, 6 * 3600) * S
        seen = now - (30 * HOUR_NS if kind < 2 else rng.randrange(0, 3 * 3600) * S)
        volts = 3.1 if kind in (2, 3) else 3.55
        states.append(
            BayState(site.id, bay, rng.choice((BayStatus.FREE, BayStatus.OCCUPIED)), since, seen, volts)
        )
        changed[bay] = since
        radio[bay] = (-126.0 if kind == 4 else rng.uniform(-110, -80), rng.uniform(-5, 9), 12)
        if kind == 5:
            refusals[bay] = (9, Refusal(site.id, bay, "bad_frame", "frame too short", now - 60 * S))
        if kind == 6:
            counts[bay] = 25
        elif since > now - HOUR_NS:
            counts[bay] = 1
    slow = SlowFacts(
        read_ns=now, changed_ns=changed, window_start_ns=now - 15 * DAY_NS, radio=radio, battery_read_ns=now
    )
    return states, counts, slow, refusals


def time_steps(site: Site, inputs: Inputs, now: int, repeat: int) -> tuple[float, float, int]:
    """Medians of an evaluation after a minute's changes (``SiteBook.step``) and of a whole one of
    the same inputs, timed in turn; and the bays with a problem. Stops unless both agree."""
    states, counts, slow, refusals = inputs
    live = {s.bay: s for s in states}
    thresholds = Thresholds()
    book = SiteBook(SiteLayout.of(site))
    report, _ = book.step(states, counts, refusals, slow, thresholds, now)
    rng = random.Random(5)
    steps: tuple[list[float], list[float]] = ([], [])
    for i in range(repeat):
        now += 60 * S
        counts = dict(counts)
        fresh = []
        for bay in rng.sample(list(live), CHANGED_PER_MINUTE):
            before = live[bay]
            status = BayStatus.FREE if before.status is BayStatus.OCCUPIED else BayStatus.OCCUPIED
            live[bay] = BayState(site.id, bay, status, now, now, before.battery_v, before.battery_pct)
            fresh.append(live[bay])
            counts[bay] = counts.get(bay, 0) + 1
        whole: SiteHealth | None = None
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            started = time.perf_counter()
            if which == 0:
                report, _ = book.step(fresh, counts, refusals, slow, thresholds, now)
            else:
                facts = SiteBays(site).assemble(live.values(), counts, slow, refusals)
                whole = evaluate(site, facts, slow, thresholds, now, report)
            steps[which].append(time.perf_counter() - started)
        if whole is None or vouched(report) != vouched(whole):
            raise SystemExit(f"step {i + 1}: the evaluation after changes differs from a whole one")
    problems = sum(1 for b in report.bays if b.problems)
    return statistics.median(steps[0]), statistics.median(steps[1]), problems


def bench_steps(site: Site, repeat: int) -> None:
    """Evaluations one after another as the worker makes them (``SiteBook``: only the bays whose
    inputs changed joined and judged again, bays with a problem every time), beside a whole
    evaluation of the same inputs each time: a minute between them, in which 84 bays change (state
    and change count)."""
    now = time.time_ns()
    print(f"3. evaluations a minute apart, {CHANGED_PER_MINUTE} bays changed before each, median of {repeat}")
    print("   (only what changed: SiteBook.step; baseline: a whole evaluation; same reports):")
    print(f"   {'inputs':<38}{'problems':>9}{'changed':>10}{'whole':>10}{'ratio':>8}")
    for name, inputs in (
        ("a fleet as in a city (fleet_inputs)", fleet_inputs(site, now)),
        ("every branch of the join (join_inputs)", join_inputs(site, now)),
    ):
        one, all_, problems = time_steps(site, inputs, now, repeat)
        print(f"   {name:<38}{problems:>9,}{one * 1000:>8.1f}ms{all_ * 1000:>8.1f}ms{one / all_:>7.2f}x")


def day_lines(site: Site, now: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for bay in site.bays:
        tags = f"bay={bay},site={site.id}"
        t, occupied = now - DAY_NS + rng.randrange(0, 3600) * S, rng.random() < 0.5
        while t < now:
            following = t + max(60, int(rng.expovariate(1 / 7200))) * S
            beat = t
            while beat < min(following, now):
                lines.append(f"{BAY_STATUS},{tags} occupied={int(occupied)}i {beat}")
                rssi, snr = rng.uniform(-118, -80), rng.uniform(-8, 9)
                lines.append(f"{SENSOR_HEALTH},{tags} battery_v=3.55,rssi={rssi:.1f},snr={snr:.1f} {beat}")
                beat += 3 * 3600 * S
            occupied, t = not occupied, following
        for d in range(1, 14):
            lines.append(f"{SENSOR_HEALTH},{tags} battery_v={3.6 - 0.002 * (14 - d):.4f} {now - d * DAY_NS}")
    return lines


def write(url: str, lines: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=300) as client:
        client.post("/query", params={"q": f'CREATE DATABASE "{DB}"'}).raise_for_status()
        for i in range(0, len(lines), 50_000):
            client.post(
                "/write", params={"db": DB}, content="\n".join(lines[i : i + 50_000])
            ).raise_for_status()


def heard_changes(site: Site, now: int, seed: int = 3) -> ChangeWindow:
    """The change events of the last hour as the monitor holds them (a change about every two hours
    per bay, as in ``day_lines``)."""
    rng = random.Random(seed)
    window = ChangeWindow()
    window.connected(now - 2 * HOUR_NS)
    for bay in site.bays:
        t, occupied = now - HOUR_NS - rng.randrange(0, 7200) * S, rng.random() < 0.5
        while t < now:
            window.add(ChangeEvent(site.id, bay, "occupied" if occupied else "free", t))
            occupied, t = not occupied, t + max(60, int(rng.expovariate(1 / 7200))) * S
    return window


async def evaluate_city(url: str, site: Site, now: int, repeat: int) -> dict[str, float]:
    """Each step of an evaluation as the worker takes it (in this process, timed one by one), then
    whole evaluations as the API's monitor runs them, in its worker process: their wall time and the
    longest the event loop waited meanwhile (what a request arriving mid-evaluation could wait)."""
    thresholds = Thresholds()
    states = [BayState(site.id, bay, BayStatus.FREE, now - HOUR_NS, now - 600 * S, 3.55) for bay in site.bays]
    timings: dict[str, list[float]] = {
        "fast": [],
        "seed": [],
        "events": [],
        "slow": [],
        "slow_full": [],
        "assemble": [],
        "rules": [],
        "worker": [],
        "hold": [],
        "worker_first_hour": [],
        "hold_first_hour": [],
        "hold_new_session": [],
        "cpu": [],
        "cpu_first_hour": [],
    }
    heard = heard_changes(site, now)
    join = SiteBays(site)  # the worker keeps one per site
    async with InfluxStore(url, DB, timeout_s=120) as store:
        for _ in range(repeat):
            started = time.perf_counter()
            full = await read_slow(store, site.id, now, thresholds)
            timings["slow_full"].append(time.perf_counter() - started)
            started = time.perf_counter()
            slow = await read_slow(store, site.id, now, thresholds, full)
            timings["slow"].append(time.perf_counter() - started)
            started = time.perf_counter()
            fast = await read_fast(store, site.id, now)
            timings["fast"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await read_change_times(store, site.id, now - HOUR_NS, now)
            timings["seed"].append(time.perf_counter() - started)
            started = time.perf_counter()
            heard.counts(site.id, now)
            timings["events"].append(time.perf_counter() - started)
            started = time.perf_counter()
            facts = list(join.assemble(states, fast, slow, {}))
            timings["assemble"].append(time.perf_counter() - started)
            started = time.perf_counter()
            evaluate(site, facts, slow, thresholds, now, None)
            timings["rules"].append(time.perf_counter() - started)
        registry = Registry([site])
        live = LiveState(registry)
        for state in states:
            live.put(state)
        settings = ApiSettings(influx_url=url, influx_db=DB, influx_timeout_s=120)
        for first_hour in (False, True):
            monitor = FleetMonitor(settings, registry, store, live, clock=lambda: now)
            if first_hour:
                # Heard only from a minute ago: the first evaluation reads the hour before once.
                monitor.changes.connected(now - 60 * S)
            else:
                monitor.changes = heard
            monitor.start_worker()
            try:
                # The first: the slow reads (and, in the first hour, the change times of the hour
                # before), and every bay sent and sent back (as after a slow read that changed every
                # bay's facts).
                async with LoopWatch() as watch:
                    await monitor.evaluate_site(site)
                timings["hold_new_session"].append(watch.longest)
                suffix = "_first_hour" if first_hour else ""
                for _ in range(repeat):
                    async with LoopWatch() as watch:
                        started = time.perf_counter()
                        await monitor.evaluate_site(site)
                        took = time.perf_counter() - started
                    timings[f"worker{suffix}"].append(took)
                    timings[f"hold{suffix}"].append(watch.longest)
                    # The CPU this process spent on it (all its threads, not the worker's), without
                    # the watch, whose busy turns would count: what the API's interpreter gives up,
                    # which the machine's load does not inflate as it does the waits above.
                    cpu = time.process_time()
                    await monitor.evaluate_site(site)
                    timings[f"cpu{suffix}"].append(time.process_time() - cpu)
            finally:
                await monitor.stop()
    return {name: statistics.median(values) for name, values in timings.items()}


def bench_influx(site: Site, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="parklotse-bench-fleet-") as tmp:
        influx = LocalInfluxDB(Path(tmp) / "influxdb")
        influx.start()
        try:
            now = time.time_ns()
            started = time.perf_counter()
            lines = day_lines(site, now)
            write(influx.url, lines)
            print(
                f"4. wrote {len(lines):,} points (a day of readings, 14 days of battery) in "
                f"{time.perf_counter() - started:.1f} s; a whole evaluation, median of {repeat} runs:"
            )
            t = asyncio.run(evaluate_city(influx.url, site, now, repeat))
        finally:
            influx.stop()
    every = t["events"] + t["assemble"] + t["rules"]
    first_hour = t["fast"] + t["assemble"] + t["rules"]
    print(f"   status changes of the last hour, counted   {t['events'] * 1000:8.1f} ms   every evaluation")
    print("     from the change events heard")
    print(f"   ... read from InfluxDB instead             {t['fast'] * 1000:8.1f} ms   events unheard")
    print(
        f"   the hour before, each change with its time {t['seed'] * 1000:8.1f} ms   once after subscribing"
    )
    print(f"   joining the facts (assemble)               {t['assemble'] * 1000:8.1f} ms   every evaluation")
    print(f"   rules                                      {t['rules'] * 1000:8.1f} ms   every evaluation")
    print(f"   slow reads (radio, status starts, site)    {t['slow'] * 1000:8.1f} ms   every 15 minutes")
    print(f"   the same with the battery series           {t['slow_full'] * 1000:8.1f} ms   every 6 hours")
    print(f"   an evaluation                              {every * 1000:8.1f} ms   (target < {TARGET_S:g} s)")
    print(f"   an evaluation, the events not heard        {first_hour * 1000:8.1f} ms")
    print(f"   an evaluation with the slow reads          {(every + t['slow']) * 1000:8.1f} ms")
    print("   as the API's monitor runs them, in its worker process (nice 10), nothing changed between:")
    print(f"   an evaluation                              {t['worker'] * 1000:8.1f} ms   wall time")
    print(f"     the longest the event loop waited in it  {t['hold'] * 1000:8.1f} ms")
    print(f"     the API process's CPU for it             {t['cpu'] * 1000:8.1f} ms")
    print(
        f"   in the first hour (hour before read once)  {t['worker_first_hour'] * 1000:8.1f} ms   wall time"
    )
    print(f"     the longest the event loop waited in it  {t['hold_first_hour'] * 1000:8.1f} ms")
    print(f"     the API process's CPU for it             {t['cpu_first_hour'] * 1000:8.1f} ms")
    print(
        f"   the first (every bay sent and sent back):  {t['hold_new_session'] * 1000:8.1f} ms   "
        "the event loop's longest wait"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench fleet", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--repeat", type=int, default=20, help="runs per measurement (default 20)")
    parser.add_argument("--no-influx", action="store_true", help="only the pure rules, no InfluxDB")
    args = parser.parse_args(argv)
    site = city_site()
    print(f"city: {len(site.bays):,} bays in {len(site.zones)} zones")
    bench_rules(site, args.repeat)
    bench_join(site, args.repeat)
    bench_steps(site, args.repeat)
    if not args.no_influx:
        bench_influx(site, max(3, args.repeat // 4))


if __name__ == "__main__":
    main()
