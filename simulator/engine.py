"""The event-driven simulation, and the live interface the publisher drives.

``Engine`` is the model: a heap of the timed events of cars on the road (a driver reaches a
junction, pulls into a bay), a calendar of departures, each day's pre-drawn arrivals and a regular
occupancy sample, merged in time order. Time is
seconds since midnight of the first simulated day; nothing reads the wall clock.

``Simulation`` wraps two engines fed the same drivers: the one people watch, with the guidance
share and sensor latency set from the control panel, and a twin without guidance, so that the
savings shown are against the same demand rather than against other drivers of the same run.
"""

from __future__ import annotations

import bisect
import heapq
import math
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from parking.registry import Site
from simulator import metrics
from simulator.demand import DAY_S, Arrivals, DemandModel
from simulator.grid import Network, build_network
from simulator.scenario import Scenario
from simulator.search import (
    CLAIMED,
    FREE,
    NO_BAY,
    OCCUPIED,
    Driver,
    GuidanceServer,
    Rules,
    Uniforms,
    cruise_step,
    entry_distance,
    route_step,
)

_NODE, _PARK, _FORGET = 1, 2, 3
UNGUIDED, GUIDED = 0, 1


def seed_entropy(seed: int) -> int:
    """The engine's entropy for a run seed: every engine of one seed sees the same drivers."""
    return int(np.random.default_rng(seed).integers(0, 2**63 - 1))


@dataclass(frozen=True, slots=True)
class BayChange:
    """One bay's sensor reading changed, ``t_s`` seconds after the simulation started."""

    bay: str
    occupied: bool
    t_s: float


def _floats() -> array[float]:
    return array("d")


def _flags() -> array[int]:
    return array("b")


@dataclass(slots=True)
class Records:
    """One entry per driver who parked or gave up (offline runs keep them for the report).

    Typed arrays rather than lists: 8 bytes a value, which matters at hundreds of thousands of drivers.
    """

    t_arrival: array[float] = field(default_factory=_floats)
    t_done: array[float] = field(default_factory=_floats)  # parked or gave up
    dwell_s: array[float] = field(default_factory=_floats)  # 0 for drivers who gave up
    guided: array[int] = field(default_factory=_flags)
    search_m: array[float] = field(default_factory=_floats)
    gave_up: array[int] = field(default_factory=_flags)
    misses: array[int] = field(default_factory=lambda: array("l"))
    occupancy: array[float] = field(default_factory=_floats)
    walk_m: array[float] = field(default_factory=_floats)
    approach_m: array[float] = field(default_factory=_floats)
    dest_r: array[float] = field(default_factory=_floats)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {name: np.array(getattr(self, name)) for name in self.__dataclass_fields__}
        for flag in ("guided", "gave_up"):
            out[flag] = out[flag].astype(bool)
        return out


@dataclass(slots=True)
class Samples:
    """Occupancy and searching cars every ``sample_interval_s``."""

    t: list[float] = field(default_factory=list)
    core_occupied: list[int] = field(default_factory=list)
    occupied: list[int] = field(default_factory=list)
    searching_unguided: list[int] = field(default_factory=list)
    searching_guided: list[int] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in self.__dataclass_fields__}


class DepartureCalendar:
    """Departures in one-minute buckets, so that the event heap holds only the cars on the road.

    Invariant: every departure in a bucket up to ``_loaded`` is in ``_due`` (sorted, the next at the
    end); later ones wait in ``_buckets``. Order is by time, then by the sequence number of scheduling.
    """

    __slots__ = ("_buckets", "_due", "_keys", "_loaded")
    BUCKET_S = 60.0

    def __init__(self) -> None:
        self._buckets: dict[int, list[tuple[float, int, int]]] = {}
        self._keys: list[int] = []
        self._due: list[tuple[float, int, int]] = []  # (-t, -seq, bay)
        self._loaded = -1

    def push(self, t: float, seq: int, bay: int) -> None:
        key = int(t // self.BUCKET_S)
        if key <= self._loaded:
            bisect.insort(self._due, (-t, -seq, bay))
            return
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = []
            heapq.heappush(self._keys, key)
        bucket.append((-t, -seq, bay))

    def next_t(self) -> float:
        due = self._due
        if not due:
            if not self._keys:
                return math.inf
            self._loaded = heapq.heappop(self._keys)
            due.extend(self._buckets.pop(self._loaded))
            due.sort()
        return -due[-1][0]

    def pop(self) -> int:
        return self._due.pop()[2]


class DayTotals:
    """Running totals per day and driver group, for the live "today" figures."""

    __slots__ = ("gave_up", "misses", "no_search", "search_m", "searches")

    def __init__(self) -> None:
        self.searches = [0, 0]
        self.search_m = [0.0, 0.0]
        self.no_search = [0, 0]
        self.gave_up = [0, 0]
        self.misses = [0, 0]


class Engine:
    """The model of parking-search.md §6 on one network."""

    def __init__(
        self,
        scenario: Scenario,
        network: Network,
        entropy: int,
        first_day: date,
        *,
        keep_records: bool = True,
    ) -> None:
        demand_seed, behaviour_seed = np.random.SeedSequence(entropy).spawn(2)
        self.scenario = scenario
        self.net = network
        self.demand = DemandModel(
            scenario.demand, scenario.dwell, network.seg_weight, np.random.default_rng(demand_seed), first_day
        )
        self.first_day = first_day
        self.u = Uniforms(np.random.default_rng(behaviour_seed))
        self.rules = Rules(scenario.search)
        self.server = GuidanceServer(network, scenario.guidance.sensor_latency_s, self.rules.cap)
        self.share = scenario.guidance.share
        self.miss_memory_s = scenario.guidance.miss_memory_s
        self.detection_error = scenario.guidance.detection_error
        n = network.n_bays
        self.state = bytearray(n)
        self.reading = bytearray(n)
        self.seg_free = [len(bays) for bays in network.seg_bays]
        self.core = network.core
        self.n_core = max(sum(network.core), 1)
        self.core_occupied = 0
        self.occupied = 0
        self.heap: list[tuple[float, int, int, Any]] = []  # drivers on the road: a few hundred at most
        self.departures = DepartureCalendar()  # parked cars: many, and due minutes to hours ahead
        self.seq = 0
        self.t = 0.0
        self.day = -1
        self.arrivals = Arrivals.empty()
        self.arrival_i = 0
        self.next_day_t = 0.0
        self.sample_interval = scenario.run.sample_interval_s
        self.next_sample_t = 0.0
        self.searching = [0, 0]
        self.on_road = 0
        self.next_id = 0
        self.changes: list[BayChange] | None = None
        self.t0 = 0.0
        self.records: Records | None = Records() if keep_records else None
        self.samples = Samples()
        self.daily: dict[int, DayTotals] = {}
        self.changes_total = 0

    # ----------------------------------------------------------------- control

    def set_guidance_share(self, share: float) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"guidance share must be within 0..1, got {share}")
        self.share = share

    def set_sensor_latency(self, latency_s: float) -> None:
        if not 0.0 <= latency_s <= 86_400.0:
            raise ValueError(f"sensor latency must be within 0..86400 s, got {latency_s}")
        self.server.set_latency(self.t, latency_s)

    @property
    def sensor_latency_s(self) -> float:
        return self.server.latency_s

    def record_arrays(self) -> dict[str, np.ndarray]:
        """One array per field of ``Records`` (engines built with ``keep_records``)."""
        if self.records is None:
            raise ValueError("this engine keeps no records (keep_records=False)")
        return self.records.arrays()

    # ----------------------------------------------------------------- running

    def run_until(self, t_end: float, changes: list[BayChange] | None = None) -> None:
        """Process every event up to and including ``t_end``; bay reading changes go to ``changes``."""
        self.changes = changes
        heap = self.heap
        pop = heapq.heappop
        inf = math.inf
        departures = self.departures
        while True:
            th = heap[0][0] if heap else inf
            td = departures.next_t()
            arrivals = self.arrivals
            i = self.arrival_i
            ta = arrivals.t[i] if i < len(arrivals.t) else self.next_day_t
            ts = self.next_sample_t
            if th <= td and th <= ta and th <= ts:
                if th > t_end:
                    break
                t, _, kind, subject = pop(heap)
                if kind == _NODE:
                    self._at_node(t, subject)
                elif kind == _PARK:
                    self._park(t, subject)
                else:
                    self.server.forget(*subject)
            elif td <= ta and td <= ts:
                if td > t_end:
                    break
                self._depart(td, departures.pop())
            elif ta <= ts:
                if ta > t_end:
                    break
                if i < len(arrivals.t):
                    self.arrival_i = i + 1
                    self._arrive(ta, i)
                else:
                    self.day += 1
                    self.arrivals = self.demand.arrivals(self.day)
                    self.arrival_i = 0
                    self.next_day_t = (self.day + 1) * DAY_S
            else:
                if ts > t_end:
                    break
                self._sample(ts)
                self.next_sample_t = ts + self.sample_interval
        self.t = max(self.t, t_end)
        self.changes = None

    def _push(self, t: float, kind: int, subject: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, subject))

    def _sample(self, t: float) -> None:
        s = self.samples
        s.t.append(t)
        s.core_occupied.append(self.core_occupied)
        s.occupied.append(self.occupied)
        s.searching_unguided.append(self.searching[UNGUIDED])
        s.searching_guided.append(self.searching[GUIDED])

    # ----------------------------------------------------------------- events

    def _arrive(self, t: float, i: int) -> None:
        a, net = self.arrivals, self.net
        dest = a.dest[i]
        mid_x, mid_y = net.seg_mid(dest)
        guided = a.u_guided[i] < self.share
        driver = Driver(self.next_id, dest, mid_x, mid_y, guided, t, a.dwell_s[i])
        self.next_id += 1
        self.on_road += 1
        driver.occupancy = self.core_occupied / self.n_core
        first, last = net.seg_a[dest], net.seg_b[dest]
        entry, leave = (first, last) if a.u_end[i] < 0.5 else (last, first)
        approaches = [o for o in net.adj[entry] if o[1] != dest]
        radius = self.rules.radius
        nx, ny = net.node_x, net.node_y
        if approaches:
            start, face = approaches[int(a.u_approach[i] * len(approaches))]
            driver.d0 = net.seg_len[face] + net.seg_len[dest] / 2
            driver.forced = dest
            node_from, node_to = start, entry
            driver.s0 = entry_distance(nx[start], ny[start], nx[entry], ny[entry], mid_x, mid_y, radius)
            if driver.s0 >= net.seg_len[face]:
                far = entry_distance(nx[entry], ny[entry], nx[leave], ny[leave], mid_x, mid_y, radius)
                driver.s0 = net.seg_len[face] + far
        else:  # a dead end: the driver starts on the destination face itself
            face = dest
            driver.d0 = net.seg_len[dest] / 2
            node_from, node_to = entry, leave
            driver.s0 = entry_distance(nx[entry], ny[entry], nx[leave], ny[leave], mid_x, mid_y, radius)
        if guided and driver.s0 <= 0:  # already inside the search radius: ask now
            driver.target = self.server.nearest(t, driver)
            if driver.target != NO_BAY:
                driver.forced = -1
        self._enter(t, driver, node_from, face, node_to)

    def _at_node(self, t: float, d: Driver) -> None:
        net, rules = self.net, self.rules
        d.dist += net.seg_len[d.seg]
        if not d.searching and d.dist > d.d0:
            d.searching = True
            self.searching[d.guided] += 1
        search_m = d.dist - d.s0
        if search_m >= rules.give_up_m:
            self._give_up(t, d)
            return
        node = d.node
        if d.guided and d.target == NO_BAY and d.dist >= d.s0:
            d.target = self.server.nearest(t, d)  # guided drivers ask from the search start on
        if d.target != NO_BAY:
            d.forced = -1
            nxt, face = route_step(net, node, d.prev, net.bay_seg[d.target], self.u)
        elif d.forced >= 0:
            face = d.forced
            d.forced = -1
            nxt = net.seg_b[face] if net.seg_a[face] == node else net.seg_a[face]
        else:
            nxt, face = cruise_step(net, node, d.prev, d.dx, d.dy, rules.accepted(search_m), rules, self.u)
        self._enter(t, d, node, face, nxt)

    def _enter(self, t: float, d: Driver, node: int, face: int, nxt: int) -> None:
        """The driver turns into ``face`` at ``node``: pull into a bay on it, or drive on to ``nxt``."""
        net, state = self.net, self.state
        chosen = NO_BAY
        target = d.target
        if target != NO_BAY and net.bay_seg[target] == face:
            if state[target] == FREE:
                chosen = target
            else:
                d.misses += 1
                # the miss is reported: the bay stays off offer until its reading changes, at most for a while
                self.server.hold(target, t)
                self._push(t + self.miss_memory_s, _FORGET, (target, t))
                target = d.target = self.server.nearest(t, d)
                if target != NO_BAY and net.bay_seg[target] == face and state[target] == FREE:
                    chosen = target
        if chosen == NO_BAY and self.seg_free[face] > 0:
            rules = self.rules
            accepted = rules.accepted(d.dist - d.s0)
            bay_x, bay_y, dx, dy = net.bay_x, net.bay_y, d.dx, d.dy
            bays = net.seg_bays[face]
            order = bays if net.seg_a[face] == node else reversed(bays)
            notice, u = rules.notice, self.u
            for bay in order:
                if (
                    state[bay] == FREE
                    and math.hypot(bay_x[bay] - dx, bay_y[bay] - dy) <= accepted
                    and u() < notice
                ):
                    chosen = bay
                    break
        d.prev, d.seg, d.node = node, face, nxt
        if chosen == NO_BAY:
            self._push(t + net.seg_len[face] / self.rules.speed, _NODE, d)
            return
        if target != NO_BAY and target != chosen:
            self.server.release(target)
            d.target = NO_BAY
        along = (
            net.bay_along[chosen] if net.seg_a[face] == node else net.seg_len[face] - net.bay_along[chosen]
        )
        state[chosen] = CLAIMED
        self.seg_free[face] -= 1
        d.bay = chosen
        d.park_dist = d.dist + along
        self._push(t + along / self.rules.speed, _PARK, d)

    def _park(self, t: float, d: Driver) -> None:
        bay = d.bay
        self.state[bay] = OCCUPIED
        self.occupied += 1
        if self.core[bay]:
            self.core_occupied += 1
        if d.target == bay:
            self.server.hold(bay, t)
            d.target = NO_BAY
        self._reading(t, bay, 1)
        walk = math.hypot(self.net.bay_x[bay] - d.dx, self.net.bay_y[bay] - d.dy)
        self._finish(t, d, d.park_dist - d.s0 if d.park_dist > d.d0 else 0.0, False, walk)
        self.seq += 1
        self.departures.push(t + d.dwell_s, self.seq, bay)

    def _depart(self, t: float, bay: int) -> None:
        self.state[bay] = FREE
        self.seg_free[self.net.bay_seg[bay]] += 1
        self.occupied -= 1
        if self.core[bay]:
            self.core_occupied -= 1
        self.server.unhold(bay)
        self._reading(t, bay, 0)

    def _give_up(self, t: float, d: Driver) -> None:
        if d.target != NO_BAY:
            self.server.release(d.target)
            d.target = NO_BAY
        self._finish(t, d, d.dist - d.s0, True, 0.0)

    def _reading(self, t: float, bay: int, occupied: int) -> None:
        """The bay's sensor reports; with probability ``detection_error`` it reports the wrong state."""
        if self.detection_error > 0 and self.u() < self.detection_error:
            occupied = 1 - occupied
        if occupied == self.reading[bay]:
            return
        self.reading[bay] = occupied
        self.changes_total += 1
        self.server.reading(t, bay, occupied)
        if self.changes is not None:
            self.changes.append(BayChange(self.net.bay_ids[bay], bool(occupied), t - self.t0))

    def _finish(self, t: float, d: Driver, search_m: float, gave_up: bool, walk_m: float) -> None:
        self.on_road -= 1
        group = 1 if d.guided else 0
        if d.searching:
            self.searching[group] -= 1
        day = int(d.t_arrival // DAY_S)
        totals = self.daily.get(day)
        if totals is None:
            totals = self.daily[day] = DayTotals()
        totals.searches[group] += 1
        totals.search_m[group] += search_m
        totals.no_search[group] += search_m <= 0
        totals.gave_up[group] += gave_up
        totals.misses[group] += d.misses
        r = self.records
        if r is not None:
            r.t_arrival.append(d.t_arrival)
            r.t_done.append(t)
            r.dwell_s.append(0.0 if gave_up else d.dwell_s)
            r.guided.append(d.guided)
            r.search_m.append(search_m)
            r.gave_up.append(gave_up)
            r.misses.append(d.misses)
            r.occupancy.append(d.occupancy)
            r.walk_m.append(walk_m)
            r.approach_m.append(min(d.s0, d.park_dist) if not gave_up else d.s0)
            r.dest_r.append(math.hypot(d.dx - self.net.centre[0], d.dy - self.net.centre[1]))


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


class Simulation:
    """The live interface: advance in steps, steer while running, read the KPIs.

    The model starts at midnight of ``start_time``'s day and runs silently up to ``start_time``,
    so the car park is as full as it would be at that hour; ``advance`` then returns every sensor
    change in (last, until], with ``t_s`` in seconds since ``start_time``.
    """

    def __init__(
        self, scenario: Scenario, site: Site, rng: np.random.Generator, start_time: datetime
    ) -> None:
        self.scenario = scenario
        self.site = site
        self.network = build_network(site, scenario.space)
        self.start_time = start_time
        self._entropy = int(rng.integers(0, 2**63 - 1))
        self._share = scenario.guidance.share
        self._latency = scenario.guidance.sensor_latency_s
        self._build()

    def _build(self) -> None:
        midnight = _midnight(self.start_time)
        self._t0 = (self.start_time - midnight).total_seconds()
        first_day = midnight.date()
        self.engine = Engine(self.scenario, self.network, self._entropy, first_day, keep_records=False)
        self.baseline = Engine(self.scenario, self.network, self._entropy, first_day, keep_records=False)
        self.engine.set_guidance_share(self._share)
        self.engine.set_sensor_latency(self._latency)
        self.baseline.set_guidance_share(0.0)
        for engine in (self.engine, self.baseline):
            engine.t0 = self._t0
            engine.run_until(self._t0)
        self._until = 0.0

    @property
    def t_s(self) -> float:
        return self._until

    def advance(self, until_s: float) -> list[BayChange]:
        """Run to ``until_s`` seconds after the start; every bay change since the last call, in order."""
        if until_s < self._until:
            raise ValueError(f"cannot go back in time: {until_s} < {self._until}")
        changes: list[BayChange] = []
        self.engine.run_until(self._t0 + until_s, changes)
        self.baseline.run_until(self._t0 + until_s)
        self._until = until_s
        return changes

    def set_guidance_share(self, share: float) -> None:
        self.engine.set_guidance_share(share)
        self._share = share

    def set_sensor_latency(self, seconds: float) -> None:
        self.engine.set_sensor_latency(seconds)
        self._latency = seconds

    def reset(self, rng: np.random.Generator | None = None) -> None:
        """Start again at ``start_time`` with the current settings (the same drivers unless a new rng)."""
        if rng is not None:
            self._entropy = int(rng.integers(0, 2**63 - 1))
        self._build()

    def occupancy(self) -> dict[str, bool]:
        """Every bay's current sensor reading (what a retained status topic would hold)."""
        reading = self.engine.reading
        return {bay: bool(reading[i]) for i, bay in enumerate(self.network.bay_ids)}

    def snapshot(self) -> list[BayChange]:
        """Every bay's current reading as changes at the current time, to announce the state at start."""
        return [BayChange(bay, occupied, self._until) for bay, occupied in self.occupancy().items()]

    def now(self) -> datetime:
        return self.start_time + timedelta(seconds=self._until)

    def kpis(self) -> dict[str, Any]:
        """Figures for the kiosk: now, today by driver group, and savings against no guidance."""
        return metrics.live_kpis(self)
