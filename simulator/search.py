"""How a driver looks for a bay, with and without guidance (docs/research.md §6.4-§6.6).

Unguided (PARKAGENT / MATSim-Benenson lite): drive to the destination face; on every face passed,
take a free bay that lies within the accepted distance A = base + growth x search time (capped) and
that the driver notices. At a junction, head for the destination while it is farther than a fraction
of A, otherwise turn at random, never making a U-turn unless the street ends. Give up after a limit
and go to a garage.

Guided: the driver asks the system for the free bay nearest to the destination *in the system's
view* (sensor readings delayed by the latency, with detection errors), excluding bays already
recommended to other guided drivers (soft reservation), drives towards it, still takes a suitable
free bay passed on the way, and asks again when the bay is gone on arrival (a "guidance miss").
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from typing import Final

import numpy as np

from simulator.grid import Network, point_segment_distance
from simulator.scenario import Search

# true bay states; CLAIMED = a driver is pulling in (Final: mypyc inlines them, setup.py)
FREE: Final = 0
OCCUPIED: Final = 1
CLAIMED: Final = 2
NO_BAY: Final = -1
HELD: Final = -2  # a guided driver parked here or reported it taken: off the list until its reading changes
# how a driver is steered
UNSTEERED: Final = 0
APP: Final = 1
SIGNS: Final = 2


# a C static when compiled, where math.hypot would look the attribute up in the module at every call
_hypot: Final = math.hypot

_MASK: Final = (1 << 64) - 1
_GOLDEN: Final = 0x9E3779B97F4A7C15
_TO_UNIT: Final = 2.0**-53


def mix64(z: int) -> int:
    """SplitMix64's finaliser: a cheap, well-mixed 64-bit hash (Steele, Lea, Flood 2014)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def stream_key(entropy: int, *parts: int) -> int:
    """The start of a counter-based random stream keyed by ``entropy`` and integers (a driver, a bay)."""
    z = mix64((entropy + _GOLDEN) & _MASK)
    for part in parts:
        z = child_key(z, part)
    return z


def family_key(key: int) -> int:
    """``child_key(family_key(k), i) == stream_key(k, i)``: one hash per driver instead of two."""
    return mix64((key + _GOLDEN) & _MASK)


def child_key(family: int, part: int) -> int:
    return mix64(((family ^ (part & _MASK)) + _GOLDEN) & _MASK)


def unit(key: int, counter: int) -> float:
    """The ``counter``-th uniform number in [0, 1) of the stream ``key``."""
    return (mix64((key + counter * _GOLDEN) & _MASK) >> 11) * _TO_UNIT


def _mix64_array(z: np.ndarray) -> np.ndarray:
    """mix64 over an array of uint64: numpy's 64-bit products wrap as the masks do."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)))


def units(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """``unit(key, counter)`` element-wise over arrays of uint64 (broadcast): the same numbers."""
    with np.errstate(over="ignore"):
        mixed = _mix64_array(keys + counters * np.uint64(_GOLDEN))
    return np.asarray((mixed >> np.uint64(11)).astype(np.float64) * _TO_UNIT)


def driver_draws(family: int, first: int, count: int, ahead: int) -> tuple[list[int], list[list[float]]]:
    """The stream keys of drivers ``first`` .. ``first + count - 1`` (``child_key(family, i)``) and the
    first ``ahead`` numbers of each (``unit(key, 1..ahead)``), for a day's drivers at once: one numpy
    pass instead of a few big-integer operations per number in the event loop, the same numbers."""
    ids = np.arange(first, first + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        keys = _mix64_array((ids ^ np.uint64(family)) + np.uint64(_GOLDEN))
    draws = units(keys[:, None], np.arange(1, ahead + 1, dtype=np.uint64)[None, :])
    return [int(k) for k in keys.tolist()], draws.tolist()


class Driver:
    """One driver on the road, with its own random stream.

    Every decision the driver makes (noticing a bay, which way to turn) draws from ``u()``, a
    counter-based stream keyed by the run's entropy and the driver's index. The same driver therefore
    draws the same numbers in both twins, whatever the other drivers do; the runs differ only where
    steering changes a decision.
    """

    __slots__ = (
        "bay",
        "d0",
        "dest",
        "dist",
        "draws",
        "dwell_s",
        "dx",
        "dy",
        "garage",
        "garage_from",
        "gave_up",
        "id",
        "key",
        "legs",
        "misses",
        "mode",
        "n",
        "node",
        "occupancy",
        "on_dest",
        "park_dist",
        "prev",
        "s0",
        "searching",
        "seg",
        "stop_m",
        "t_arrival",
        "t_seg",
        "target",
        "zf",
        "zone",
        "zone_face",
        "zx",
        "zy",
    )

    def __init__(
        self,
        ident: int,
        dest: int,
        dx: float,
        dy: float,
        mode: int,
        t_arrival: float,
        dwell_s: float,
        key: int,
        draws: list[float] | None = None,
    ) -> None:
        self.id = ident
        self.dest = dest  # destination face
        self.dx, self.dy = dx, dy  # destination point (the face's middle)
        self.mode = mode  # UNSTEERED, APP or SIGNS
        self.t_arrival = t_arrival
        self.dwell_s = dwell_s
        self.key = key  # the random stream: its n-th number is unit(key, n)
        self.n = 0  # numbers drawn so far
        self.draws = draws or []  # the first numbers, drawn ahead for a day's drivers (driver_draws)
        self.node = 0  # the node the driver is heading for
        self.prev = -1  # the node the driver came from (-1 at the town entrance)
        self.seg = -1
        self.t_seg = t_arrival  # when the driver turned into the current face
        self.stop_m = 0.0  # where on the current face it stops: the face's length, or its bay
        self.dist = 0.0  # metres driven up to the last node passed
        self.d0 = 0.0  # the shortest route from the entrance to the destination point
        self.s0 = math.inf  # odometer where the route entered the search radius: the search starts there
        self.on_dest = False  # has driven along its destination face
        # faces already passed on the way to the current one, decided ahead (Engine._drive_through):
        # (time it turned into the face, from node, to node, face)
        self.legs: list[tuple[float, int, int, int]] | None = None
        self.target = NO_BAY
        self.zone = -1  # the zone a sign sent it to
        self.zone_face = -1
        self.zx, self.zy = dx, dy  # where it looks for a bay: the destination, or the zone it was sent to
        self.zf = dest  # the face whose middle is (zx, zy)
        self.garage = -1  # the garage it drives to
        self.garage_from = 0.0  # odometer when it turned towards the garage
        self.gave_up = False
        self.misses = 0
        self.searching = False
        self.bay = NO_BAY
        self.park_dist = 0.0
        self.occupancy = 0.0  # search-area occupancy when the driver arrived

    def u(self) -> float:
        """The driver's next uniform number in [0, 1)."""
        n = self.n
        self.n = n + 1
        draws = self.draws
        return draws[n] if n < len(draws) else unit(self.key, n + 1)

    def search_m(self) -> float:
        """Metres driven beyond the shortest route to the destination point, and all of a drive to a garage.

        Continuous: 0 for a driver who parks on the way, a few metres for one who parks just past the
        destination, and everything beyond the direct route for one who circles.
        """
        if self.garage >= 0:
            return max(self.garage_from - self.d0, 0.0) + (self.dist - self.garage_from)
        return max(self.dist - self.d0, 0.0)


class Rules:
    """The search parameters in the units the hot path uses (metres, seconds)."""

    __slots__ = ("base", "cap", "give_up_m", "growth_per_m", "head_fraction", "notice", "radius", "speed")

    def __init__(self, search: Search) -> None:
        self.speed = search.speed_kmh / 3.6
        self.base = search.accepted_base_m
        # A grows per minute searched; at a constant speed that is per metre searched.
        self.growth_per_m = search.accepted_growth_m_per_min / (self.speed * 60.0)
        self.cap = search.accepted_max_m
        self.head_fraction = search.head_for_destination_fraction
        self.notice = search.notice_probability
        self.give_up_m = search.give_up_min * 60.0 * self.speed
        self.radius = search.search_radius_m

    def accepted(self, search_m: float) -> float:
        """A(t) = base + growth × time searched, capped."""
        return min(self.base + self.growth_per_m * max(search_m, 0.0), self.cap)


def entry_distance(x0: float, y0: float, x1: float, y1: float, dx: float, dy: float, radius: float) -> float:
    """How far along the line from (x0, y0) to (x1, y1) it first comes within ``radius`` of (dx, dy).

    The length of the line if it never does.
    """
    length = _hypot(x1 - x0, y1 - y0)
    if length <= 0:
        return 0.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    wx, wy = x0 - dx, y0 - dy
    wu = wx * ux + wy * uy
    disc = wu * wu - (wx * wx + wy * wy) + radius * radius
    if disc < 0:
        return length
    first = -wu - math.sqrt(disc)
    if first > length or -wu + math.sqrt(disc) < 0:
        return length
    return max(first, 0.0)


def turn_state(net: Network, node: int, prev: int) -> int:
    """The key in a goal's TurnTables table of a driver at ``node`` who came from ``prev`` (-1: entrance)."""
    return node * (len(net.node_x) + 1) + prev + 1


def cruise_turns(
    net: Network, node: int, prev: int, point: int
) -> tuple[float, list[tuple[int, int]], list[tuple[int, int]]]:
    """What an unguided driver standing at ``node`` may do, looking around the middle of face ``point``.

    (distance from the junction to that point, every turn but the U-turn unless the street ends, the
    turns that bring it nearest to the point). A driver farther than a fraction of its accepted distance
    takes one of the nearest turns, else any turn; ties at random. Depends on the network only: cached.
    """
    table = net.cruises.table(point)
    key = turn_state(net, node, prev)
    found = table.get(key)
    if found is not None:
        return found
    options = [o for o in net.adj[node] if o[0] != prev] or net.adj[node]
    node_x, node_y = net.node_x, net.node_y
    dx, dy = net.seg_mid_x[point], net.seg_mid_y[point]
    best: list[tuple[int, int]] = []
    best_d = math.inf
    for option in options:
        d = _hypot(node_x[option[0]] - dx, node_y[option[0]] - dy)
        if d < best_d - 1e-6:
            best, best_d = [option], d
        elif d <= best_d + 1e-6:
            best.append(option)
    return net.cruises.add(table, key, (_hypot(node_x[node] - dx, node_y[node] - dy), options, best))


def nearest_bay(net: Network, goal: int, face: int) -> float:
    """How far the nearest bay of ``face`` lies from the middle of face ``goal`` (inf: no bays), measured
    as Engine._enter measures a bay's distance from a destination; cached per network (``net.bay_reach``).
    """
    table = net.bay_reach.table(goal)
    found = table.get(face)
    if found is None:
        dx, dy = net.seg_mid_x[goal], net.seg_mid_y[goal]
        bay_x, bay_y = net.bay_x, net.bay_y
        found = min(
            (_hypot(bay_x[bay] - dx, bay_y[bay] - dy) for bay in net.seg_bays[face]), default=math.inf
        )
        net.bay_reach.add(table, face, found)
    return found


def goal_of_node(net: Network, node: int) -> int:
    """The goal id of a junction (a garage) for ``route_turns``; goals below n_segments are faces."""
    return net.n_segments + node


def route_turns(net: Network, node: int, prev: int, goal: int) -> list[tuple[int, int]]:
    """The candidate (next node, face) of a driver at ``node`` heading for ``goal``; one is taken at random.

    ``goal`` is a face (onto it if it starts here, else towards its nearer end) or, from n_segments on, a
    junction (``goal_of_node``). The turns that bring the driver closest in blocks, never a U-turn unless
    the street ends: on a full street grid, always stepping to a neighbour nearest in block distance is a
    shortest path. They depend only on (goal, node, prev): cached per network (``net.routes``).
    """
    table = net.routes.table(goal)
    key = turn_state(net, node, prev)
    found = table.get(key)
    if found is None:
        found = net.routes.add(table, key, _best_turns(net, node, prev, goal))
    return found


def _best_turns(net: Network, node: int, prev: int, goal: int) -> list[tuple[int, int]]:
    if goal < net.n_segments:
        a, b = net.seg_a[goal], net.seg_b[goal]
        if node == a:
            return [(b, goal)]
        if node == b:
            return [(a, goal)]
    else:
        a = b = goal - net.n_segments
    options = [o for o in net.adj[node] if o[0] != prev] or net.adj[node]
    if len(options) == 1:
        return options
    node_x, node_y = net.node_x, net.node_y
    ax, ay, bx, by = node_x[a], node_y[a], node_x[b], node_y[b]
    best: list[tuple[int, int]] = []
    best_d = math.inf
    for option in options:
        x, y = node_x[option[0]], node_y[option[0]]
        d = min(abs(x - ax) + abs(y - ay), abs(x - bx) + abs(y - by))
        if d < best_d - 1e-6:
            best, best_d = [option], d
        elif d <= best_d + 1e-6:
            best.append(option)
    return best


class GuidanceServer:
    """The system's view of the bays and the recommendations it has handed out.

    ``view`` holds sensor readings as the system knows them: each reading reaches it ``latency_s``
    after the sensor saw the change. A bay is offered when the view shows it free and no other guided
    driver holds it. ``seg_avail`` counts offerable bays per face so that full faces are skipped.
    """

    def __init__(self, net: Network, latency_s: float, radius_m: float) -> None:
        self.net = net
        self.latency_s = latency_s
        self.radius_m = radius_m
        self.view = bytearray(net.n_bays)
        # free bays per zone as the sensors report them (what the signs show)
        self.zone_free = [0] * net.n_zones
        for zone in net.bay_zone:
            self.zone_free[zone] += 1
        self.reserved = [NO_BAY] * net.n_bays
        self.held_at = [0.0] * net.n_bays
        self.seg_avail = [len(bays) for bays in net.seg_bays]
        self.pending: deque[tuple[float, int, int]] = deque()
        self._nearby: dict[int, tuple[array[float], array[int]]] = {}
        ax = np.array([net.node_x[a] for a in net.seg_a])
        ay = np.array([net.node_y[a] for a in net.seg_a])
        bx = np.array([net.node_x[b] for b in net.seg_b])
        by = np.array([net.node_y[b] for b in net.seg_b])
        self._ends = (ax, ay, bx, by)
        # how far a face's bays lie from its centre line: distance to the line minus this is a lower bound
        seg = np.array(net.bay_seg)
        beside = point_segment_distance(
            np.array(net.bay_x), np.array(net.bay_y), ax[seg], ay[seg], bx[seg], by[seg]
        )
        self._offset = np.zeros(net.n_segments)
        np.maximum.at(self._offset, seg, beside)
        # faces bucketed by the cell of their middle, so a destination looks only at the cells around it
        mid_x, mid_y = (ax + bx) / 2, (ay + by) / 2
        self._cell = max(radius_m, 1.0)
        longest = float(np.hypot(bx - ax, by - ay).max()) if net.n_segments else 0.0
        self._reach = math.ceil((radius_m + longest / 2 + float(self._offset.max(initial=0.0))) / self._cell)
        cells: dict[tuple[int, int], list[int]] = {}
        for face in range(net.n_segments):
            if net.seg_bays[face]:
                key = (int(mid_x[face] // self._cell), int(mid_y[face] // self._cell))
                cells.setdefault(key, []).append(face)
        self._cells = {key: np.array(faces) for key, faces in cells.items()}

    def reading(self, t: float, bay: int, occupied: int) -> None:
        """A sensor reading changed at ``t``; the system learns of it ``latency_s`` later."""
        if self.latency_s <= 0:
            self._apply(bay, occupied)
            return
        self.pending.append((t, bay, occupied))
        self.catch_up(t)

    def catch_up(self, t: float) -> None:
        pending, horizon = self.pending, t - self.latency_s
        while pending and pending[0][0] <= horizon:
            _, bay, occupied = pending.popleft()
            self._apply(bay, occupied)

    def _apply(self, bay: int, occupied: int) -> None:
        if self.view[bay] != occupied:
            self.zone_free[self.net.bay_zone[bay]] += -1 if occupied else 1
        self.view[bay] = occupied
        holder = self.reserved[bay]
        if holder == HELD:
            self.reserved[bay] = NO_BAY
            if not occupied:
                self.seg_avail[self.net.bay_seg[bay]] += 1
        elif holder == NO_BAY:
            self.seg_avail[self.net.bay_seg[bay]] += -1 if occupied else 1

    def set_latency(self, t: float, latency_s: float) -> None:
        self.latency_s = latency_s
        self.catch_up(t)
        if latency_s <= 0:
            while self.pending:
                _, bay, occupied = self.pending.popleft()
                self._apply(bay, occupied)

    def reserve(self, bay: int, driver: int) -> None:
        self.reserved[bay] = driver
        if not self.view[bay]:
            self.seg_avail[self.net.bay_seg[bay]] -= 1

    def release(self, bay: int) -> None:
        if self.reserved[bay] >= 0:
            self.reserved[bay] = NO_BAY
            if not self.view[bay]:
                self.seg_avail[self.net.bay_seg[bay]] += 1

    def hold(self, bay: int, t: float) -> None:
        """Keep a recommended bay off offer until its next reading (or until a car leaves it).

        Used when the guided driver parks on it and when the driver finds it taken (a miss).
        """
        if self.reserved[bay] >= 0:
            if self.view[bay]:
                self.reserved[bay] = NO_BAY
            else:
                self.reserved[bay] = HELD
                self.held_at[bay] = t

    def forget(self, bay: int, since: float) -> None:
        """A miss report expires: offer the bay again unless something else holds it now."""
        if self.reserved[bay] == HELD and self.held_at[bay] == since:
            self.reserved[bay] = NO_BAY
            if not self.view[bay]:
                self.seg_avail[self.net.bay_seg[bay]] += 1

    def unhold(self, bay: int) -> None:
        """The car on a held bay has left (its reading may never have changed: a missed detection)."""
        if self.reserved[bay] == HELD:
            self.reserved[bay] = NO_BAY
            if not self.view[bay]:
                self.seg_avail[self.net.bay_seg[bay]] += 1

    def nearest(self, t: float, driver: Driver) -> int:
        """Recommend and reserve the offerable bay nearest to the driver's destination (or NO_BAY)."""
        self.catch_up(t)
        nearby = self._nearby.get(driver.dest)
        if nearby is None:
            nearby = self._faces_near(driver.dx, driver.dy)
            self._nearby[driver.dest] = nearby
        seg_avail, seg_bays, view, reserved = self.seg_avail, self.net.seg_bays, self.view, self.reserved
        bay_x, bay_y, dx, dy = self.net.bay_x, self.net.bay_y, driver.dx, driver.dy
        best, best_d = NO_BAY, self.radius_m + 1e-9
        for lower_bound, s in zip(*nearby, strict=True):
            if lower_bound > best_d:
                break
            if seg_avail[s] <= 0:
                continue
            for bay in seg_bays[s]:
                if not view[bay] and reserved[bay] == NO_BAY:
                    d = _hypot(bay_x[bay] - dx, bay_y[bay] - dy)
                    if d < best_d:
                        best, best_d = bay, d
        if best != NO_BAY:
            self.reserve(best, driver.id)
        return best

    def _faces_near(self, x: float, y: float) -> tuple[array[float], array[int]]:
        """Faces whose bays may lie within the radius, nearest first, with a lower bound of the distance."""
        cx, cy, reach = int(x // self._cell), int(y // self._cell), self._reach
        found = [
            self._cells[key]
            for i in range(cx - reach, cx + reach + 1)
            for j in range(cy - reach, cy + reach + 1)
            if (key := (i, j)) in self._cells
        ]
        if not found:
            return array("d"), array("l")
        faces = np.sort(np.concatenate(found))
        ends = tuple(e[faces] for e in self._ends)
        lower = np.maximum(point_segment_distance(x, y, *ends) - self._offset[faces], 0.0)
        keep = np.flatnonzero(lower <= self.radius_m)
        order = keep[np.argsort(lower[keep], kind="stable")]
        return array("d", lower[order].tolist()), array("l", faces[order].tolist())
