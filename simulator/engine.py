"""The event-driven simulation of one town: ``Engine``.

``Engine`` is the model: a heap of the timed events of cars on the road (a driver reaches a
junction, pulls into a bay), a calendar of departures, each day's pre-drawn arrivals and a regular
occupancy sample, merged in time order. Time is seconds since midnight of the first reported day
(warm-up days run at negative times); nothing reads the wall clock.

Twin runs with common random numbers: the demand (who arrives when, where to, for how long, who
would follow steering) comes from one stream per run; every driver then draws all of its own
decisions from its own counter-based stream keyed by (run, driver index), and every sensor draws
its reading errors from a stream keyed by (run, bay, change count). Two engines of the same entropy
therefore meet the same drivers who make the same choices, and differ only where steering changes
a decision. With nobody steered they are identical to the byte.
"""

from __future__ import annotations

import bisect
import heapq
import math
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import numpy as np

from parking.registry import Site
from parking.simulator_messages import Sign, SignLine
from simulator.demand import DAY_S, HOUR_S, Arrivals, DemandModel
from simulator.grid import Network, build_network
from simulator.scenario import Preset, Scenario, SteeringMode
from simulator.search import (
    APP,
    CLAIMED,
    FREE,
    NO_BAY,
    OCCUPIED,
    SIGNS,
    UNSTEERED,
    Driver,
    GuidanceServer,
    Rules,
    cruise_turns,
    driver_draws,
    entry_distance,
    family_key,
    goal_of_node,
    nearest_bay,
    route_turns,
    stream_key,
    unit,
    units,
)

_NODE: Final = 1  # event kinds (Final: mypyc inlines them, setup.py)
_PARK: Final = 2
_FORGET: Final = 3
# driver groups of the run with sensors: not steered, steered (app or signs)
UNGUIDED: Final = 0
GUIDED: Final = 1
_DRIVER_STREAM, _SENSOR_STREAM, _FAILURE_STREAM = 1, 2, 3
# bays stand beside a face's centre line: a face whose lower bound of distance (its middle's distance
# less half its length) exceeds the accepted distance by more than this holds no bay within it
_LOOK_MARGIN_M: Final = 10.0
# random numbers drawn ahead per driver: most draw fewer (the rest are drawn as needed)
_DRAWS_AHEAD: Final = 16
# Module functions the event loop calls, as Final names: compiled, a Final is a C static, where
# math.hypot would look the attribute up in the module's dict at every call.
_hypot: Final = math.hypot
_heappush: Final = heapq.heappush
# sensor error numbers drawn ahead per bay (most bays change fewer times a day; then the next block)
_ERROR_BLOCK: Final = 32


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
    """One entry per driver who parked, went to a garage or gave up (offline runs keep them).

    Typed arrays rather than lists: 8 bytes a value, which matters at hundreds of thousands of drivers.
    """

    t_arrival: array[float] = field(default_factory=_floats)
    t_done: array[float] = field(default_factory=_floats)  # parked, or reached the garage, or gave up
    dwell_s: array[float] = field(default_factory=_floats)  # 0 for drivers who left
    guided: array[int] = field(default_factory=_flags)  # steered (app or signs)
    mode: array[int] = field(default_factory=_flags)  # 0 not steered, 1 app, 2 signs
    search_m: array[float] = field(default_factory=_floats)
    # the search path as start2park records it: from where the route entered the search radius to the bay
    path_m: array[float] = field(default_factory=_floats)
    gave_up: array[int] = field(default_factory=_flags)  # searched until the limit, then left the streets
    garage: array[int] = field(default_factory=_flags)  # parked in a garage (sent there or gave up)
    misses: array[int] = field(default_factory=lambda: array("l"))
    occupancy: array[float] = field(default_factory=_floats)
    walk_m: array[float] = field(default_factory=_floats)
    approach_m: array[float] = field(default_factory=_floats)
    dest_r: array[float] = field(default_factory=_floats)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {name: np.array(getattr(self, name)) for name in self.__dataclass_fields__}
        for flag in ("guided", "gave_up", "garage"):
            out[flag] = out[flag].astype(bool)
        return out


@dataclass(slots=True)
class Samples:
    """Occupancy and cars on the road every ``sample_interval_s``."""

    t: list[float] = field(default_factory=list)
    core_occupied: list[int] = field(default_factory=list)
    occupied: list[int] = field(default_factory=list)
    searching_unguided: list[int] = field(default_factory=list)
    searching_guided: list[int] = field(default_factory=list)
    to_garage: list[int] = field(default_factory=list)

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
        self._due: list[tuple[float, int, int]] = []  # (-t, -seq, place)
        self._loaded = -(2**62)

    def push(self, t: float, seq: int, place: int) -> None:
        key = int(t // self.BUCKET_S)
        if key <= self._loaded:
            bisect.insort(self._due, (-t, -seq, place))
            return
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = []
            heapq.heappush(self._keys, key)
        bucket.append((-t, -seq, place))

    def next_t(self) -> float:
        due = self._due
        if not due:
            if not self._keys:
                return math.inf
            self._loaded = heapq.heappop(self._keys)
            due.extend(self._buckets.pop(self._loaded))
            due.sort()
        return -due[-1][0]

    def pop(self) -> tuple[int, int]:
        _, seq, place = self._due.pop()
        return place, -seq


class DayTotals:
    """Running totals per day (of arrival) and driver group, for the live "today" figures."""

    __slots__ = ("gave_up", "misses", "no_search", "search_m", "searches", "to_garage")

    def __init__(self) -> None:
        self.searches = [0, 0]
        self.search_m = [0.0, 0.0]
        self.no_search = [0, 0]
        self.gave_up = [0, 0]
        self.to_garage = [0, 0]
        self.misses = [0, 0]


# A driver's way in as Engine._arrive leaves it: how many numbers it drew (n), s0, dist, on_dest, prev,
# seg, node, t_seg, stop_m and legs (Driver's fields of the same names)
Approach = tuple[
    int, float, float, bool, int, int, int, float, float, list[tuple[float, int, int, int]] | None
]


class SharedApproaches:
    """The ways in that the two twins of a run share, so that each is decided once.

    A driver nobody steers drives in the same way in both twins up to its first junction event: the
    route depends on the network, its destination, entrance and random stream only, as long as it
    passes its first face without looking at bays (Engine._arrive checks that). The twin that meets such
    a driver first keeps its way in; the other takes it instead of deciding it again. Every arrival
    forgets the driver's entry, so nothing waits for a twin that has already passed; at most ``limit``
    entries wait (a twin further ahead decides the rest itself, with the same result).
    """

    __slots__ = ("_kept", "_met", "limit")

    def __init__(self, limit: int = 100_000) -> None:
        self._kept: dict[int, Approach] = {}
        self._met = [0, 0]  # per twin: how many drivers it has met (driver ids count up in both)
        self.limit = limit

    def take(self, twin: int, driver: int) -> Approach | None:
        """The way in the other twin kept for this driver, if any; forgotten either way."""
        self._met[twin] = driver + 1
        return self._kept.pop(driver, None)

    def keep(self, twin: int, driver: int, approach: Approach) -> None:
        """Keep a driver's way in for the other twin, unless that twin has met the driver already."""
        if self._met[1 - twin] <= driver and len(self._kept) < self.limit:
            self._kept[driver] = approach

    def __len__(self) -> int:
        return len(self._kept)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where drivers enter, where the garages and the signs are: junctions of the network."""

    entrance_nodes: tuple[int, ...]
    entrance_names: tuple[str, ...]
    entrance_cum: tuple[float, ...]  # cumulative shares, for drawing an entrance
    garage_nodes: tuple[int, ...]
    garage_names: tuple[str, ...]
    garage_capacity: tuple[int, ...]
    sign_nodes: tuple[int, ...]
    sign_names: tuple[str, ...]
    # shortest street distance from each entrance to every junction (metres)
    entrance_dist: tuple[tuple[float, ...], ...]


def build_layout(scenario: Scenario, net: Network) -> Layout:
    cx, cy = net.centre

    def snap(east: float, north: float) -> int:
        return net.nearest_node(cx + east, cy + north)

    entrances = [snap(e.east_m, e.north_m) for e in scenario.entrances]
    cum, total = [], 0.0
    for e in scenario.entrances:
        total += e.share
        cum.append(total)
    cum[-1] = 1.0
    garages = [snap(g.east_m, g.north_m) for g in scenario.garages]
    steering = scenario.steering
    signs: list[int] = []
    names: list[str] = []
    if steering.signs_at_entrances:
        for e, node in zip(scenario.entrances, entrances, strict=True):
            if node not in signs:
                signs.append(node)
                names.append(e.name)
    for place in steering.sign_junctions:
        node = snap(place.east_m, place.north_m)
        if node not in signs:
            signs.append(node)
            names.append(place.name)
    return Layout(
        entrance_nodes=tuple(entrances),
        entrance_names=tuple(e.name for e in scenario.entrances),
        entrance_cum=tuple(cum),
        garage_nodes=tuple(garages),
        garage_names=tuple(g.name for g in scenario.garages),
        garage_capacity=tuple(g.capacity for g in scenario.garages),
        sign_nodes=tuple(signs),
        sign_names=tuple(names),
        entrance_dist=tuple(tuple(_distances(net, node)) for node in entrances),
    )


def _distances(net: Network, source: int) -> list[float]:
    """Dijkstra over block faces from one junction."""
    dist = [math.inf] * len(net.node_x)
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d, node = heapq.heappop(heap)
        if d > dist[node]:
            continue
        for other, face in net.adj[node]:
            nd = d + net.seg_len[face]
            if nd < dist[other]:
                dist[other] = nd
                heapq.heappush(heap, (nd, other))
    return dist


# A car on the road as the screen draws it: driver id, x and y in network metres, heading in degrees
# clockwise from north, and its state (parking.simulator_messages.VehicleState).
Vehicle = tuple[int, float, float, int, str]


class Engine:
    """The model of docs/research.md §6 on one network, with one steering setting."""

    drive_ahead = True  # decide quiet junctions ahead (_drive_through); off only to test it changes nothing

    def __init__(
        self,
        scenario: Scenario,
        network: Network,
        entropy: int,
        first_day: date,
        *,
        keep_records: bool = True,
        layout: Layout | None = None,
        day_kind: str | None = None,
        shared: tuple[SharedApproaches, int] | None = None,
    ) -> None:
        """``shared``: the store of ways in this engine shares with its twin, and its side (0 or 1);
        only for two engines of the same network, layout, search rules and entropy (twin_engines)."""
        demand_seed = np.random.SeedSequence(entropy).spawn(1)[0]
        self.scenario = scenario
        self.net = network
        self.layout = layout or build_layout(scenario, network)
        self.warmup_days = scenario.run.warmup_days
        self.demand = DemandModel(
            scenario.demand,
            scenario.dwell,
            network.seg_weight,
            np.random.default_rng(demand_seed),
            first_day,
            self.layout.entrance_cum,
            first_index=-self.warmup_days,
            seg_has_bays=[bool(bays) for bays in network.seg_bays],
            day_kind=day_kind,
        )
        self.first_day = first_day
        self.driver_key = stream_key(entropy, _DRIVER_STREAM)
        self._driver_family = family_key(self.driver_key)  # driver i's stream: stream_key(driver_key, i)
        sensor_key = stream_key(entropy, _SENSOR_STREAM)
        n = network.n_bays
        self.bay_keys = [stream_key(sensor_key, bay) for bay in range(n)]
        self.bay_changes = array("l", bytes(8 * n))
        self.failure_key = stream_key(entropy, _FAILURE_STREAM)
        self.rules = Rules(scenario.search)
        self.shared = shared
        self.server = GuidanceServer(network, scenario.guidance.sensor_latency_s, self.rules.cap)
        self.share = scenario.guidance.share
        self.mode: SteeringMode = scenario.steering.mode
        self.compliance = scenario.steering.sign_compliance
        self.full_below = scenario.steering.full_below
        # a zone shows "besetzt" below this many free bays: a fixed floor, or a share of the zone's bays
        zone_bays = [0] * network.n_zones
        for zone in network.bay_zone:
            zone_bays[zone] += 1
        full_share = scenario.steering.full_share
        self.zone_full = [max(self.full_below, math.ceil(full_share * n)) for n in zone_bays]
        self.ask_radius = max(scenario.guidance.ask_radius_m, self.rules.radius)
        self._entry_reach = self.rules.radius + 1.0  # a metre to spare for rounding (see _enter)
        # Rules.accepted of any search_m <= 0 (max(search_m, 0.0) is 0 or -0: the same sum)
        self._accepted_before_search = self.rules.accepted(0.0)
        self.miss_memory_s = scenario.guidance.miss_memory_s
        self.detection_error = scenario.guidance.detection_error
        # each bay's next sensor error numbers, drawn ahead in numpy: the 64-bit integer arithmetic of
        # unit() is slow in the event loop (big integers). Bay b's block holds unit(bay_keys[b], count)
        # for count from _error_first[b] on, at _error_draws[b * _ERROR_BLOCK + count - _error_first[b]].
        self._error_first = array("l", bytes(8 * n))
        self._error_draws = array("d")
        if self.detection_error > 0:
            block = units(
                np.array(self.bay_keys, dtype=np.uint64)[:, None],
                np.arange(_ERROR_BLOCK, dtype=np.uint64)[None, :],
            )
            self._error_draws.frombytes(block.tobytes())
        self.state = bytearray(n)
        self.reading = bytearray(n)
        self.frozen = bytearray(n)  # failed sensors: their reading no longer changes
        self.external = bytearray(n)  # bays driven by a real sensor
        self.occupant = array("l", bytes(8 * n))  # park sequence number of the model car on the bay, 0: none
        self.claimer = array("l", [-1]) * n  # the driver pulling into the bay
        self.seg_free = [len(bays) for bays in network.seg_bays]
        self.core = network.core
        self.n_core = max(sum(network.core), 1)
        self.core_occupied = 0
        self.occupied = 0
        self.garage_used = [0] * len(self.layout.garage_nodes)
        self.sign_at = {node: i for i, node in enumerate(self.layout.sign_nodes)}
        self._zones_by_dest: dict[int, list[tuple[float, int, int]]] = {}
        self.heap: list[tuple[float, int, int, Any]] = []  # drivers on the road: a few hundred at most
        self.road: dict[int, Driver] = {}
        self.departures = DepartureCalendar()  # parked cars: many, and due minutes to hours ahead
        self._limit = -math.inf  # run_until: how far cars on the road may run before another queue is due
        self.seq = 0
        start = -self.warmup_days * DAY_S
        self.t = start
        self.day = -self.warmup_days - 1
        self.arrivals = Arrivals.empty()
        self._keys: list[int] = []
        self._draws: list[list[float]] = []
        self.arrival_i = 0
        self.next_day_t = start
        self.sample_interval = scenario.run.sample_interval_s
        self.next_sample_t = start
        self.searching = [0, 0]
        self.to_garage = 0
        self.on_road = 0
        self.next_id = 0
        self.changes: list[BayChange] | None = None
        self.t0 = 0.0
        self.records: Records | None = Records() if keep_records else None
        self.samples = Samples()
        self.daily: dict[int, DayTotals] = {}
        self.changes_total = 0
        self._failure = (0.0, 0.0)
        self._failure_pending = False
        failure = scenario.sensors
        if failure.failed_share > 0:
            self.fail_sensors(failure.failed_share, failure.failed_from_hour * HOUR_S)

    # ----------------------------------------------------------------- control

    def set_guidance_share(self, share: float) -> None:
        """Share of arriving drivers who use the app (modes app and both); from now on."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"guidance share must be within 0..1, got {share}")
        self.share = share

    def set_sign_compliance(self, share: float) -> None:
        """Share of arriving drivers who follow the signs (modes signs and both); from now on."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"sign compliance must be within 0..1, got {share}")
        self.compliance = share

    def set_steering(self, mode: SteeringMode) -> None:
        if mode not in ("app", "signs", "both"):
            raise ValueError(f"steering must be app, signs or both, got {mode!r}")
        self.mode = mode

    def set_sensor_latency(self, latency_s: float) -> None:
        if not 0.0 <= latency_s <= 86_400.0:
            raise ValueError(f"sensor latency must be within 0..86400 s, got {latency_s}")
        self.server.set_latency(self.t, latency_s)

    def fail_sensors(self, share: float, t_from: float) -> None:
        """From ``t_from`` on, the sensors of a fixed share of bays (drawn per run) report nothing more."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"failed sensor share must be within 0..1, got {share}")
        self._failure = (share, t_from)
        self.frozen = bytearray(
            1 if unit(self.failure_key, bay) < share and t_from <= self.t else 0
            for bay in range(self.net.n_bays)
        )
        self._failure_pending = t_from > self.t and share > 0

    def _check_failure(self, t: float) -> None:
        share, t_from = self._failure
        if self._failure_pending and t >= t_from:
            self._failure_pending = False
            self.frozen = bytearray(
                1 if unit(self.failure_key, bay) < share else 0 for bay in range(self.net.n_bays)
            )

    @property
    def sensor_latency_s(self) -> float:
        return self.server.latency_s

    def record_arrays(self) -> dict[str, np.ndarray]:
        """One array per field of ``Records`` (engines built with ``keep_records``)."""
        if self.records is None:
            raise ValueError("this engine keeps no records (keep_records=False)")
        return self.records.arrays()

    # ----------------------------------------------------------------- what the screen shows

    def vehicles(self, t: float | None = None) -> list[Vehicle]:
        """The cars on the road at ``t`` (default: now), interpolated along their faces. O(cars on road)."""
        t = self.t if t is None else t
        net, speed = self.net, self.rules.speed
        nx, ny = net.node_x, net.node_y
        out: list[Vehicle] = []
        now = self.t  # the engine's clock: every event up to it has been processed
        for d in self.road.values():
            if d.seg < 0:
                continue
            prev, node, seg, t_seg, stop_m = d.prev, d.node, d.seg, d.t_seg, d.stop_m
            if d.legs is not None and now < t_seg:  # still on a face it drove through (_drive_through)
                for leg_t, leg_prev, leg_node, leg_seg in reversed(d.legs):
                    if leg_t <= now:
                        prev, node, seg, t_seg = leg_prev, leg_node, leg_seg, leg_t
                        stop_m = net.seg_len[seg]
                        break
            x0, y0, x1, y1 = nx[prev], ny[prev], nx[node], ny[node]
            length = net.seg_len[seg]
            along = min(max(t - t_seg, 0.0) * speed, stop_m)
            f = along / length if length > 0 else 0.0
            heading = int(math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360.0) % 360
            if d.garage >= 0:
                state = "to_garage"
            elif d.target != NO_BAY or d.zone >= 0:
                state = "guided"
            elif d.searching:
                state = "searching"
            else:
                state = "approaching"
            out.append((d.id, x0 + f * (x1 - x0), y0 + f * (y1 - y0), heading, state))
        return out

    def occupied_string(self) -> str:
        """One character per bay in site order: '1' a car stands on it, '0' free (or a car pulling in)."""
        return self.state.translate(_OCCUPIED_TABLE).decode("ascii")

    def signs(self) -> list[Sign]:
        """The signs as drivers read them now: free bays per zone as the sensors report, and "besetzt"."""
        self.server.catch_up(self.t)
        lines = [
            SignLine(zone=name, free=max(free, 0), full=free < full)
            for name, free, full in zip(
                self.net.zone_names, self.server.zone_free, self.zone_full, strict=True
            )
        ]
        lines += [
            SignLine(zone=name, free=max(capacity - used, 0), full=used >= capacity)
            for name, capacity, used in zip(
                self.layout.garage_names, self.layout.garage_capacity, self.garage_used, strict=True
            )
        ]
        out = []
        for name, node in zip(self.layout.sign_names, self.layout.sign_nodes, strict=True):
            lon, lat = self.net.to_lonlat(self.net.node_x[node], self.net.node_y[node])
            out.append(Sign(id=name, lon=lon, lat=lat, lines=lines))
        return out

    # ----------------------------------------------------------------- real sensors

    def set_external(self, bay: int, occupied: bool, t: float) -> None:
        """A real sensor's reading for ``bay`` at ``t`` (the engine's clock); the real reading wins.

        Occupied: the bay is taken; a model car standing on it leaves as if its time were up, and a car
        pulling in finds it taken. Free: the bay is free (a model car on it leaves). From the first call
        on, the model's own readings of this bay are no longer produced: the real sensor reports it.
        """
        self.run_until(max(t, self.t))
        self.external[bay] = 1
        state = self.state[bay]
        if state == OCCUPIED:
            self._vacate(bay)
        if occupied:
            if self.state[bay] == CLAIMED:  # the driver pulling in will find it taken
                self.occupied += 1
                self.core_occupied += self.core[bay]
            else:
                self._occupy(bay)
            self.state[bay] = OCCUPIED
            self.occupant[bay] = 0
        occ = 1 if occupied else 0
        if self.reading[bay] != occ:
            self.reading[bay] = occ
            self.changes_total += 1
            self.server.reading(self.t, bay, occ)

    def _occupy(self, bay: int) -> None:
        self.seg_free[self.net.bay_seg[bay]] -= 1
        self.occupied += 1
        self.core_occupied += self.core[bay]

    def _vacate(self, bay: int) -> None:
        self.state[bay] = FREE
        self.occupant[bay] = 0
        self.seg_free[self.net.bay_seg[bay]] += 1
        self.occupied -= 1
        self.core_occupied -= self.core[bay]
        self.server.unhold(bay)

    # ----------------------------------------------------------------- running

    def run_until(self, t_end: float, changes: list[BayChange] | None = None) -> None:
        """Process every event up to and including ``t_end``; bay reading changes go to ``changes``."""
        self.changes = changes
        heap = self.heap
        pop = heapq.heappop
        inf = math.inf
        departures = self.departures
        if self._failure_pending and t_end >= self._failure[1]:
            self.run_until(self._failure[1] - 1e-9, changes)
            self._check_failure(t_end)
            self.changes = changes
        while True:
            td = departures.next_t()
            arrivals = self.arrivals
            i = self.arrival_i
            ta = arrivals.t[i] if i < len(arrivals.t) else self.next_day_t
            ts = self.next_sample_t
            th = heap[0][0] if heap else inf
            if th <= td and th <= ta and th <= ts:
                if th > t_end:
                    break
                # Cars on the road (most events): run them without looking at the other queues again
                # until the next departure, arrival or sample is due (the heap wins ties). A car that
                # parks may schedule a departure before that: _schedule_departure lowers the limit.
                self._limit = min(td, ta, ts, t_end)
                while heap and heap[0][0] <= self._limit:
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
                place, seq = departures.pop()
                self._depart(td, place, seq)
            elif ta <= ts:
                if ta > t_end:
                    break
                if i < len(arrivals.t):
                    self.arrival_i = i + 1
                    self._arrive(ta, i)
                else:
                    self.day += 1
                    self.arrivals = self.demand.arrivals(self.day)
                    # the day's drivers get the ids next_id, next_id + 1, ... in order of arrival
                    self._keys, self._draws = driver_draws(
                        self._driver_family, self.next_id, len(self.arrivals), _DRAWS_AHEAD
                    )
                    self.arrival_i = 0
                    self.next_day_t = (self.day + 1) * DAY_S
            else:
                if ts > t_end:
                    break
                self._sample(ts)
                self.next_sample_t = ts + self.sample_interval
        self.t = max(self.t, t_end)
        self.changes = None

    def _schedule_departure(self, t: float, place: int) -> int:
        """A parked car leaves ``place`` (a bay, or n_bays + garage) at ``t``; its sequence number."""
        self.seq += 1
        self.departures.push(t, self.seq, place)
        if t < self._limit:  # run_until is running cars on the road up to _limit: stop there
            self._limit = t
        return self.seq

    def _push(self, t: float, kind: int, subject: Any) -> None:
        self.seq += 1
        _heappush(self.heap, (t, self.seq, kind, subject))

    def _sample(self, t: float) -> None:
        if t < 0:
            return  # warm-up
        s = self.samples
        s.t.append(t)
        s.core_occupied.append(self.core_occupied)
        s.occupied.append(self.occupied)
        s.searching_unguided.append(self.searching[UNGUIDED])
        s.searching_guided.append(self.searching[GUIDED])
        s.to_garage.append(self.to_garage)

    # ----------------------------------------------------------------- events

    def _arrive(self, t: float, i: int) -> None:
        a, net, layout = self.arrivals, self.net, self.layout
        dest = a.dest[i]
        mid_x, mid_y = net.seg_mid(dest)
        mode = UNSTEERED
        if self.mode != "signs" and a.u_app[i] < self.share:
            mode = APP
        elif self.mode != "app" and a.u_sign[i] < self.compliance:
            mode = SIGNS
        ident = self.next_id
        self.next_id += 1
        d = Driver(ident, dest, mid_x, mid_y, mode, t, a.dwell_s[i], self._keys[i], self._draws[i])
        self.on_road += 1
        self.road[ident] = d
        d.occupancy = self.core_occupied / self.n_core
        entrance = a.entrance[i]
        node = layout.entrance_nodes[entrance]
        dist = layout.entrance_dist[entrance]
        half = net.seg_len[dest] / 2
        d.d0 = min(dist[net.seg_a[dest]], dist[net.seg_b[dest]]) + half
        d.node = node
        if self.shared is None:
            self._at_node(t, d)
            return
        store, twin = self.shared
        kept = store.take(twin, ident)
        if mode != UNSTEERED:
            self._at_node(t, d)
        elif kept is not None:
            self._resume(d, kept)
        else:
            self._at_node(t, d)
            if self._way_in_shareable(d):
                store.keep(
                    twin,
                    ident,
                    (d.n, d.s0, d.dist, d.on_dest, d.prev, d.seg, d.node, d.t_seg, d.stop_m, d.legs),
                )

    def _way_in_shareable(self, d: Driver) -> bool:
        """Whether an unsteered driver's first event, just decided, touched nothing shared: it passed its
        first face without looking at bays (as _enter decides that), so the twin would decide the same."""
        if d.bay != NO_BAY:
            return False
        net = self.net
        first = d.legs[0][3] if d.legs else d.seg
        near = _hypot(net.seg_mid_x[first] - d.dx, net.seg_mid_y[first] - d.dy) - net.seg_len[first] / 2
        return near - _LOOK_MARGIN_M > self._accepted_before_search

    def _resume(self, d: Driver, way_in: Approach) -> None:
        """An unsteered driver drives in the way its twin decided (SharedApproaches), to its next event."""
        (d.n, d.s0, d.dist, d.on_dest, d.prev, d.seg, d.node, d.t_seg, d.stop_m, d.legs) = way_in
        self._push(d.t_seg + self.net.seg_len[d.seg] / self.rules.speed, _NODE, d)

    def _at_node(self, t: float, d: Driver) -> None:
        seg = d.seg
        if seg >= 0:
            d.dist += self.net.seg_len[seg]
            if seg == d.dest:
                d.on_dest = True
        self._decide(t, d)

    def _decide(self, t: float, d: Driver) -> None:
        """Where the driver standing at a junction goes next."""
        net, rules = self.net, self.rules
        node = d.node
        if d.garage >= 0:
            if node == self.layout.garage_nodes[d.garage]:
                self._garage(t, d)
                return
            nxt, face = self._turn(d, goal_of_node(net, self.layout.garage_nodes[d.garage]))
            self._enter(t, d, node, face, nxt)
            return
        if not d.searching and d.dist > d.d0:
            d.searching = True
            self.searching[d.mode != UNSTEERED] += 1
        search_m = d.dist - d.d0
        if search_m >= rules.give_up_m:
            d.gave_up = True
            self._send_to_garage(t, d)
            return
        if d.mode == SIGNS and node in self.sign_at and not self._read_sign(t, d):
            return
        if (
            d.mode == APP
            and d.target == NO_BAY
            and _hypot(net.node_x[node] - d.dx, net.node_y[node] - d.dy) <= self.ask_radius
        ):
            d.target = self.server.nearest(t, d)
            if d.target == NO_BAY and d.dist <= d.d0 and self._garage_with_space(node) >= 0:
                self._send_to_garage(t, d)  # the app knows the centre is full: the garage, before circling
                return
        if d.target != NO_BAY:
            nxt, face = self._turn(d, net.bay_seg[d.target])
        elif d.zone >= 0 and d.zone_face >= 0:
            nxt, face = self._turn(d, d.zone_face)
            if face == d.zone_face:
                d.zone_face = -1  # arrived in the zone: look around it from here
        elif not d.on_dest and d.zone < 0:
            nxt, face = self._turn(d, d.dest)
        else:
            distance, every, nearer = cruise_turns(net, node, d.prev, d.zf)
            options = nearer if distance > rules.head_fraction * rules.accepted(search_m) else every
            nxt, face = options[0] if len(options) == 1 else options[int(d.u() * len(options))]
        self._enter(t, d, node, face, nxt)

    def _turn(self, d: Driver, goal: int) -> tuple[int, int]:
        """The next (node, face) of a driver at a junction heading for a goal (a face, or goal_of_node)."""
        options = route_turns(self.net, d.node, d.prev, goal)
        return options[0] if len(options) == 1 else options[int(d.u() * len(options))]

    def _read_sign(self, t: float, d: Driver) -> bool:
        """A sign-following driver reads the sign at its junction; False if it was sent to a garage there."""
        server = self.server
        server.catch_up(t)
        zone_free, zone_full = server.zone_free, self.zone_full
        options = self._zones_by_dest.get(d.dest)
        if options is None:
            options = self._zone_options(d.dest, d.dx, d.dy)
        for rank, (_distance, zone, face) in enumerate(options):
            if zone_free[zone] >= zone_full[zone]:
                if rank == 0:  # its own zone shows free bays: drive on as planned
                    if d.zone >= 0:
                        d.zone, d.zone_face, d.zx, d.zy, d.zf = -1, -1, d.dx, d.dy, d.dest
                elif zone != d.zone:
                    d.zone, d.zone_face, d.zf = zone, face, face
                    d.zx, d.zy = self.net.seg_mid(face)
                return True
        if self._garage_with_space(d.node) >= 0:  # "besetzt" for every zone within reach
            self._send_to_garage(t, d)
            return False
        return True

    def _zone_options(self, dest: int, x: float, y: float) -> list[tuple[float, int, int]]:
        """Zones within the largest accepted walk of a destination, nearest first, with their nearest face."""
        net = self.net
        best: dict[int, tuple[float, int]] = {}
        for bay in range(net.n_bays):
            distance = _hypot(net.bay_x[bay] - x, net.bay_y[bay] - y)
            zone = net.bay_zone[bay]
            if distance <= self.rules.cap and (zone not in best or distance < best[zone][0]):
                best[zone] = (distance, net.bay_seg[bay])
        options = sorted((distance, zone, face) for zone, (distance, face) in best.items())
        self._zones_by_dest[dest] = options
        return options

    def _garage_with_space(self, node: int) -> int:
        """The nearest garage (by straight line) that is not full, or -1."""
        layout, net = self.layout, self.net
        best, best_d = -1, math.inf
        for g, (gnode, capacity) in enumerate(zip(layout.garage_nodes, layout.garage_capacity, strict=True)):
            if self.garage_used[g] < capacity:
                distance = _hypot(net.node_x[gnode] - net.node_x[node], net.node_y[gnode] - net.node_y[node])
                if distance < best_d:
                    best, best_d = g, distance
        return best

    def _send_to_garage(self, t: float, d: Driver) -> None:
        if d.target != NO_BAY:
            self.server.release(d.target)
            d.target = NO_BAY
        g = self._garage_with_space(d.node)
        if g < 0:
            g = self._garage_any(d.node)
        if g < 0:  # no garage in this town: the driver leaves the streets
            self._finish(t, d, d.search_m(), 0.0, garage=False)
            return
        if d.searching:
            d.searching = False
            self.searching[d.mode != UNSTEERED] -= 1
        d.garage = g
        d.garage_from = d.dist
        d.zone = -1
        self.to_garage += 1
        self._decide(t, d)

    def _garage_any(self, node: int) -> int:
        nodes = self.layout.garage_nodes
        if not nodes:
            return -1
        net = self.net
        return min(
            range(len(nodes)),
            key=lambda g: _hypot(
                net.node_x[nodes[g]] - net.node_x[node], net.node_y[nodes[g]] - net.node_y[node]
            ),
        )

    def _garage(self, t: float, d: Driver) -> None:
        """The driver reaches its garage: parks there if there is room, else leaves town."""
        g = d.garage
        self.to_garage -= 1
        net = self.net
        gnode = self.layout.garage_nodes[g]
        walk = _hypot(net.node_x[gnode] - d.dx, net.node_y[gnode] - d.dy)
        if self.garage_used[g] < self.layout.garage_capacity[g]:
            self.garage_used[g] += 1
            self._schedule_departure(t + d.dwell_s, net.n_bays + g)
            self._finish(t, d, d.search_m(), walk, garage=True)
        else:
            self._finish(t, d, d.search_m(), 0.0, garage=False)

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
        # how near the face comes to the destination, at least (its middle's distance less half its length)
        near = _hypot(net.seg_mid_x[face] - d.dx, net.seg_mid_y[face] - d.dy) - net.seg_len[face] / 2
        if chosen == NO_BAY and d.garage < 0 and self.seg_free[face] > 0:
            rules = self.rules
            accepted = rules.accepted(d.dist - d.d0)
            dx, dy, zone = d.dx, d.dy, d.zone
            # a face whose every bay lies beyond the accepted distance is passed without looking
            if zone >= 0 or near - _LOOK_MARGIN_M <= accepted:
                bay_x, bay_y, bay_zone = net.bay_x, net.bay_y, net.bay_zone
                bays = net.seg_bays[face]
                order = bays if net.seg_a[face] == node else reversed(bays)
                notice, u = rules.notice, d.u
                for bay in order:
                    if (
                        state[bay] == FREE
                        and (bay_zone[bay] == zone or _hypot(bay_x[bay] - dx, bay_y[bay] - dy) <= accepted)
                        and u() < notice
                    ):
                        chosen = bay
                        break
        # where the route enters the search radius: only a face that comes near it can (most do not);
        # entry_distance also counts a face under a metre long as entered
        if d.s0 == math.inf and (near <= self._entry_reach or net.seg_len[face] <= 1.0):
            nx, ny = net.node_x, net.node_y
            entry = entry_distance(nx[node], ny[node], nx[nxt], ny[nxt], d.dx, d.dy, self.rules.radius)
            if entry < net.seg_len[face]:
                d.s0 = d.dist + entry
        d.prev, d.seg, d.node, d.t_seg = node, face, nxt, t
        if chosen == NO_BAY:
            d.stop_m = net.seg_len[face]
            t_next = t + net.seg_len[face] / self.rules.speed
            if self.drive_ahead and d.target == NO_BAY and d.zone < 0 and d.garage < 0:
                t_next = self._drive_through(d, t_next)
            self.seq += 1  # self._push, inlined: the most frequent event
            _heappush(self.heap, (t_next, self.seq, _NODE, d))
            return
        if target != NO_BAY and target != chosen:
            self.server.release(target)
            d.target = NO_BAY
        along = (
            net.bay_along[chosen] if net.seg_a[face] == node else net.seg_len[face] - net.bay_along[chosen]
        )
        state[chosen] = CLAIMED
        self.claimer[chosen] = d.id
        self.seg_free[face] -= 1
        d.bay = chosen
        d.stop_m = along
        d.park_dist = d.dist + along
        self._push(t + along / self.rules.speed, _PARK, d)

    def _drive_through(self, d: Driver, t: float) -> float:
        """Decide now the junctions ahead whose decision touches nothing shared; return when the driver
        reaches the first one that needs its own event (``t``: when it reaches ``d.node``).

        On its way in, a driver far from its destination only follows its route: the turn depends on
        the network and its own random stream, and no bay of the next face lies within its accepted
        distance, so it passes without taking one. Such a junction needs no event: the decision is made
        here, in the same order with the same numbers as _at_node, _decide and _enter would make it then
        (a draw that turns out to lead to a face where it may take a bay is taken back), and the faces
        passed are kept in ``d.legs`` for ``vehicles``. A junction where it may start searching, give
        up, read a sign or ask the app, or whose next face has a bay within its accepted distance, gets
        its event as before. Most of a city's junctions are passed this way (drivers cross half the
        city to their destination).
        """
        net, rules = self.net, self.rules
        seg_len, seg_mid_x, seg_mid_y = net.seg_len, net.seg_mid_x, net.seg_mid_y
        node_x, node_y = net.node_x, net.node_y
        dx, dy, dest, d0, searching = d.dx, d.dy, d.dest, d.d0, d.searching
        watch_signs, ask = d.mode == SIGNS, d.mode == APP
        routes, n_states = net.routes.table(dest), len(node_x) + 1  # route_turns, inlined: the hottest code
        reaches = net.bay_reach.table(dest)
        legs: list[tuple[float, int, int, int]] = []
        node, prev, seg, t_seg, dist, on_dest = d.node, d.prev, d.seg, d.t_seg, d.dist, d.on_dest
        while True:
            dist_there = dist + seg_len[seg]  # what _at_node adds at the junction
            on_dest_there = on_dest or seg == dest
            search_m = dist_there - d0
            if (not searching and dist_there > d0) or search_m >= rules.give_up_m:
                break  # starts searching (a count the samples read) or gives up
            if (watch_signs and node in self.sign_at) or (
                ask and _hypot(node_x[node] - dx, node_y[node] - dy) <= self.ask_radius
            ):
                break
            accepted = self._accepted_before_search if search_m <= 0.0 else rules.accepted(search_m)
            if not on_dest_there:
                options = routes.get(node * n_states + prev + 1) or route_turns(net, node, prev, dest)
            else:
                distance, every, nearer = cruise_turns(net, node, prev, d.zf)
                options = nearer if distance > rules.head_fraction * accepted else every
            drawn = d.n
            nxt, face = options[0] if len(options) == 1 else options[int(d.u() * len(options))]
            near = _hypot(seg_mid_x[face] - dx, seg_mid_y[face] - dy) - seg_len[face] / 2
            # _enter looks along a face that comes near (a lower bound) and takes a bay only within the
            # accepted distance: a face in reach whose nearest bay lies beyond it is passed all the same
            if near - _LOOK_MARGIN_M <= accepted:
                reach_m = reaches.get(face)  # nearest_bay, inlined
                if reach_m is None:
                    reach_m = nearest_bay(net, dest, face)
                if reach_m <= accepted:
                    d.n = drawn  # it may take a bay on that face: the event decides, with the same numbers
                    break
            dist, on_dest = dist_there, on_dest_there
            if d.s0 == math.inf and (near <= self._entry_reach or seg_len[face] <= 1.0):
                entry = entry_distance(
                    node_x[node], node_y[node], node_x[nxt], node_y[nxt], dx, dy, rules.radius
                )
                if entry < seg_len[face]:
                    d.s0 = dist + entry
            legs.append((t_seg, prev, node, seg))
            prev, seg, node, t_seg = node, face, nxt, t
            t = t + seg_len[face] / rules.speed
        if legs:
            d.dist, d.on_dest = dist, on_dest
            d.prev, d.seg, d.node, d.t_seg, d.stop_m = prev, seg, node, t_seg, seg_len[seg]
            d.legs = legs
        else:
            d.legs = None
        return t

    def _park(self, t: float, d: Driver) -> None:
        bay = d.bay
        net = self.net
        if self.state[bay] != CLAIMED or self.claimer[bay] != d.id:
            # a real car took the bay meanwhile: drive on to the end of the face
            self.claimer[bay] = -1 if self.claimer[bay] == d.id else self.claimer[bay]
            d.bay = NO_BAY
            if d.target == bay:
                d.target = NO_BAY
            d.misses += 1
            d.stop_m = net.seg_len[d.seg]
            self._push(d.t_seg + net.seg_len[d.seg] / self.rules.speed, _NODE, d)
            return
        self.claimer[bay] = -1
        self.state[bay] = OCCUPIED
        self.occupied += 1
        self.core_occupied += self.core[bay]
        if d.target == bay:
            self.server.hold(bay, t)
            d.target = NO_BAY
        self._reading(t, bay, 1)
        walk = _hypot(net.bay_x[bay] - d.dx, net.bay_y[bay] - d.dy)
        d.dist = d.park_dist
        self._finish(t, d, d.search_m(), walk, garage=False)
        self.occupant[bay] = self._schedule_departure(t + d.dwell_s, bay)

    def _depart(self, t: float, place: int, seq: int) -> None:
        n = self.net.n_bays
        if place >= n:
            self.garage_used[place - n] -= 1
            return
        if self.occupant[place] != seq:
            return  # the car was moved out when a real sensor took the bay
        self._vacate(place)
        self._reading(t, place, 0)

    def _reading(self, t: float, bay: int, occupied: int) -> None:
        """The bay's sensor reports; with probability ``detection_error`` it reports the wrong state.

        The error draw belongs to the sensor: the bay's n-th change draws the n-th number of the bay's
        own stream, whatever the drivers do. A failed sensor and a bay with a real sensor report nothing.
        """
        count = self.bay_changes[bay]
        self.bay_changes[bay] = count + 1
        if self.frozen[bay] or self.external[bay]:
            return
        if self.detection_error > 0 and self._error_u(bay, count) < self.detection_error:
            occupied = 1 - occupied
        if occupied == self.reading[bay]:
            return
        self.reading[bay] = occupied
        self.changes_total += 1
        self.server.reading(t, bay, occupied)
        if self.changes is not None:
            self.changes.append(BayChange(self.net.bay_ids[bay], bool(occupied), t - self.t0))

    def _error_u(self, bay: int, count: int) -> float:
        """``unit(self.bay_keys[bay], count)``: the bay's error number for its ``count``-th change."""
        first = self._error_first[bay]
        at = count - first
        if not 0 <= at < _ERROR_BLOCK:  # past the bay's block: draw its next block from here
            self._error_first[bay] = count
            at = 0
            block = units(
                np.array([self.bay_keys[bay]], dtype=np.uint64),
                np.arange(count, count + _ERROR_BLOCK, dtype=np.uint64),
            )
            start = bay * _ERROR_BLOCK
            self._error_draws[start : start + _ERROR_BLOCK] = array("d", block.tolist())
        return self._error_draws[bay * _ERROR_BLOCK + at]

    def _finish(self, t: float, d: Driver, search_m: float, walk_m: float, *, garage: bool) -> None:
        self.on_road -= 1
        del self.road[d.id]
        group = 1 if d.mode != UNSTEERED else 0
        if d.searching:
            self.searching[group] -= 1
        day = int(d.t_arrival // DAY_S)
        totals = self.daily.get(day)
        if totals is None:
            totals = self.daily[day] = DayTotals()
        totals.searches[group] += 1
        totals.search_m[group] += search_m
        totals.no_search[group] += search_m <= 0
        totals.gave_up[group] += d.gave_up
        totals.to_garage[group] += d.garage >= 0
        totals.misses[group] += d.misses
        r = self.records
        if r is not None and d.t_arrival >= 0:
            r.t_arrival.append(d.t_arrival)
            r.t_done.append(t)
            r.dwell_s.append(d.dwell_s if garage or d.bay != NO_BAY else 0.0)
            r.guided.append(group)
            r.mode.append(d.mode)
            r.search_m.append(search_m)
            r.path_m.append(max(d.dist - min(d.s0, d.dist), 0.0))
            r.gave_up.append(d.gave_up)
            r.garage.append(garage)
            r.misses.append(d.misses)
            r.occupancy.append(d.occupancy)
            r.walk_m.append(walk_m)
            r.approach_m.append(min(d.s0, d.dist))
            r.dest_r.append(_hypot(d.dx - self.net.centre[0], d.dy - self.net.centre[1]))


_OCCUPIED_TABLE = bytes.maketrans(bytes([FREE, OCCUPIED, CLAIMED]), b"010")


def first_day_of(kind: str, start: date) -> date:
    """The first date on or after ``start`` that is of this kind (weekday, saturday, sunday)."""
    for offset in range(7):
        day = start + timedelta(days=offset)
        weekday = day.weekday()
        if (
            (weekday < 5 and kind == "weekday")
            or (weekday == 5 and kind == "saturday")
            or (weekday == 6 and kind == "sunday")
        ):
            return day
    raise ValueError(f"unknown kind of day {kind!r}")


TwinName = Literal["without_sensors", "with_sensors"]
TWINS: tuple[TwinName, TwinName] = ("without_sensors", "with_sensors")
LOCAL_TZ = ZoneInfo("Europe/Berlin")
_WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def preset_scenario(scenario: Scenario, preset: Preset) -> Scenario:
    """The scenario as a preset runs it: its demand factor and its sensor failure applied."""
    out = scenario.with_demand_factor(preset.demand_factor) if preset.demand_factor != 1.0 else scenario
    if preset.sensor_failed_share > 0:
        out = out.with_sensor_failure(preset.sensor_failed_share, preset.sensor_failed_from_h)
    return out


def preset_date(scenario: Scenario, preset: Preset) -> date:
    """The simulated date of a preset: its own date, else the first day of its kind from run.start_date."""
    return preset.date or first_day_of(preset.day, scenario.run.start_date)


def twin_engines(
    scenario: Scenario,
    network: Network,
    entropy: int,
    first_day: date,
    *,
    keep_records: bool = True,
    day_kind: str | None = None,
) -> dict[TwinName, Engine]:
    """The town without sensors (nobody steered) and with sensors (the scenario's steering), same drivers."""
    layout = build_layout(scenario, network)
    bare = scenario.with_guidance(share=0.0).model_copy(
        update={"steering": scenario.steering.model_copy(update={"sign_compliance": 0.0})}
    )
    options: dict[str, Any] = {"keep_records": keep_records, "layout": layout, "day_kind": day_kind}
    shared = SharedApproaches()
    return {
        "without_sensors": Engine(bare, network, entropy, first_day, shared=(shared, 0), **options),
        "with_sensors": Engine(scenario, network, entropy, first_day, shared=(shared, 1), **options),
    }


class Simulation:
    """The live interface: two twin towns advanced together, steered while running.

    ``twins["without_sensors"]`` is the town where nobody is steered; ``twins["with_sensors"]`` the same
    drivers with the steering set from the staff page. Both start at midnight before the warm-up day
    and run silently up to ``start_time``, so the car park is as full as it is at that hour; ``advance``
    then returns every sensor change of the town with sensors in (last, until], ``t_s`` in seconds
    since ``start_time``. The real sensors of a hands-on table enter both twins (``set_external``).
    """

    def __init__(
        self,
        scenario: Scenario,
        site: Site,
        seed: int | np.random.Generator,
        start_time: datetime | None = None,
        *,
        preset: str | None = None,
        start_hour: float | None = None,
        network: Network | None = None,
    ) -> None:
        self.preset_name = preset or scenario.default_preset
        self.preset = scenario.preset(self.preset_name)
        self.base_scenario = scenario
        self.scenario = preset_scenario(scenario, self.preset)
        self.site = site
        self.network = network or build_network(site, scenario.space)
        if isinstance(seed, np.random.Generator):
            self._entropy = int(seed.integers(0, 2**63 - 1))
        else:
            self._entropy = seed_entropy(seed)
        if start_time is None:
            hour = self.preset.loop_start_h if start_hour is None else start_hour
            if not 0.0 <= hour < 24.0:
                raise ValueError(f"start hour must be within 0..24, got {hour}")
            day = preset_date(scenario, self.preset)
            start_time = datetime.combine(day, time(0), tzinfo=LOCAL_TZ) + timedelta(hours=hour)
        self.start_time = start_time
        self._mode: SteeringMode = scenario.steering.mode
        self._share = scenario.guidance.share
        self._compliance = scenario.steering.sign_compliance
        self._latency = scenario.guidance.sensor_latency_s
        self._external: dict[int, bool] = {}
        self._build()

    def _build(self) -> None:
        midnight = self.start_time.replace(hour=0, minute=0, second=0, microsecond=0)
        self._t0 = (self.start_time - midnight).total_seconds()
        self.twins = twin_engines(
            self.scenario, self.network, self._entropy, midnight.date(), keep_records=False
        )
        self._apply_settings()
        for engine in self.twins.values():
            engine.t0 = self._t0
            engine.run_until(self._t0)
        for bay, occupied in self._external.items():
            for engine in self.twins.values():
                engine.set_external(bay, occupied, self._t0)
        self._until = 0.0

    def _apply_settings(self) -> None:
        engine = self.twins["with_sensors"]
        engine.set_steering(self._mode)
        engine.set_guidance_share(self._share)
        engine.set_sign_compliance(self._compliance)
        engine.set_sensor_latency(self._latency)

    @property
    def with_sensors(self) -> Engine:
        return self.twins["with_sensors"]

    @property
    def without_sensors(self) -> Engine:
        return self.twins["without_sensors"]

    @property
    def t_s(self) -> float:
        return self._until

    @property
    def steering(self) -> SteeringMode:
        return self._mode

    @property
    def guidance_share(self) -> float:
        """The share of steered drivers of the current mode (app share, or sign compliance for signs)."""
        return self._compliance if self._mode == "signs" else self._share

    @property
    def sensor_latency_s(self) -> float:
        return self._latency

    def advance(self, until_s: float) -> list[BayChange]:
        """Run to ``until_s`` seconds after the start; every bay change since the last call, in order."""
        if until_s < self._until:
            raise ValueError(f"cannot go back in time: {until_s} < {self._until}")
        changes: list[BayChange] = []
        self.with_sensors.run_until(self._t0 + until_s, changes)
        self.without_sensors.run_until(self._t0 + until_s)
        self._until = until_s
        return changes

    # ----------------------------------------------------------------- steering

    def set_steering(self, mode: SteeringMode) -> None:
        self.with_sensors.set_steering(mode)
        if mode == "signs" and self._mode != "signs":
            self._compliance = self._share if self._mode == "app" else self._compliance
        self._mode = mode
        self._apply_settings()

    def set_guidance_share(self, share: float) -> None:
        """The share of steered drivers for the current mode: app users, sign followers, or both."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"guidance share must be within 0..1, got {share}")
        if self._mode in ("app", "both"):
            self._share = share
        if self._mode in ("signs", "both"):
            self._compliance = share
        self._apply_settings()

    def set_sensor_latency(self, seconds: float) -> None:
        self.with_sensors.set_sensor_latency(seconds)
        self._latency = seconds

    def set_external(self, bay: str, occupied: bool, t_s: float | None = None) -> None:
        """A real sensor's reading of a bay (site id) enters both twins at ``t_s`` (default: now)."""
        index = self._bay_index(bay)
        when = self._t0 + (self._until if t_s is None else max(t_s, self._until))
        self._external[index] = occupied
        for engine in self.twins.values():
            engine.set_external(index, occupied, when)

    def _bay_index(self, bay: str) -> int:
        index = getattr(self, "_index", None)
        if index is None:
            index = self._index = {b: i for i, b in enumerate(self.network.bay_ids)}
        if bay not in index:
            raise ValueError(f"no bay {bay!r} in site {self.site.id!r}")
        return index[bay]

    def reset(self, rng: np.random.Generator | None = None) -> None:
        """Start again at ``start_time`` with the current settings (the same drivers unless a new rng)."""
        if rng is not None:
            self._entropy = int(rng.integers(0, 2**63 - 1))
        self._build()

    def jump_to(self, hour: float) -> None:
        """Start again at ``hour`` of the same simulated day, same drivers and settings."""
        if not 0.0 <= hour < 24.0:
            raise ValueError(f"hour must be within 0..24, got {hour}")
        midnight = self.start_time.replace(hour=0, minute=0, second=0, microsecond=0)
        self.start_time = midnight + timedelta(hours=hour)
        self._build()

    # ----------------------------------------------------------------- what the screen shows

    def vehicles(self) -> dict[TwinName, list[tuple[int, float, float, int, str]]]:
        """Cars on the road now in both twins: (driver id, lon, lat, heading °, state)."""
        to_lonlat = self.network.to_lonlat
        out: dict[TwinName, list[tuple[int, float, float, int, str]]] = {}
        for name, engine in self.twins.items():
            out[name] = [(i, *to_lonlat(x, y), h, state) for i, x, y, h, state in engine.vehicles()]
        return out

    def occupied(self) -> dict[TwinName, str]:
        """Each twin's bays in site order, one character each: '1' occupied, '0' free."""
        return {name: engine.occupied_string() for name, engine in self.twins.items()}

    def signs(self) -> list[Sign]:
        """The Parkleitsystem's signs of the town with sensors, as drivers read them now."""
        return self.with_sensors.signs()

    def occupancy(self) -> dict[str, bool]:
        """Every bay's current sensor reading in the town with sensors (what a retained topic holds)."""
        reading = self.with_sensors.reading
        return {bay: bool(reading[i]) for i, bay in enumerate(self.network.bay_ids)}

    def snapshot(self) -> list[BayChange]:
        """Every bay's current reading as changes at the current time, to announce the state at start."""
        return [BayChange(bay, occupied, self._until) for bay, occupied in self.occupancy().items()]

    def now(self) -> datetime:
        return self.start_time + timedelta(seconds=self._until)

    def day_label(self, lang: str = "de") -> str:
        """E.g. 'Samstag · Markttag' (German) or 'Saturday · Market Saturday' (English)."""
        now = self.now()
        title = getattr(self.preset.title, "de" if lang == "de" else "en")
        day = _WEEKDAYS_DE[now.weekday()] if lang == "de" else now.strftime("%A")
        return f"{day} · {title}"
