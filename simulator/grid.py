"""The space of the model: a street network of block faces, the bays along them, and where people go.

Three ways to get a network from a site, tried in order:

1. the site describes a street grid (``site.grid`` = nodes, block_m, origin) and every bay names its
   block face in ``segment`` ("h-i-j" runs east from node (i, j), "v-i-j" north); the town-centre
   site and the synthetic grids are built this way;
2. the site has street lines: each line piece between two vertices is a block face, pieces that share
   a vertex meet at a junction, and each bay belongs to the nearest piece (the showroom's single aisle);
3. neither: a grid of ``space.fallback_block_m`` is laid over the bays, each on its nearest face.

Positions are metres east and north of a reference point (equirectangular, exact enough for a town).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from parking.registry import Bay, Site, SiteFileError, load_registry
from simulator.scenario import GridSite, Scenario, ScenarioError, Space

M_PER_DEG_LAT = 111_320.0
T = TypeVar("T")
_BAY_SETBACK_M = 5.0  # bays sit this far to the side of the street centre line (as in scripts/make_sites.py)


@dataclass(frozen=True, slots=True)
class Projection:
    lon0: float
    lat0: float

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * M_PER_DEG_LAT * math.cos(math.radians(self.lat0)), (
            lat - self.lat0
        ) * M_PER_DEG_LAT

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon = self.lon0 + x / (M_PER_DEG_LAT * math.cos(math.radians(self.lat0)))
        return round(lon, 7), round(self.lat0 + y / M_PER_DEG_LAT, 7)


class TurnTables(Generic[T]):
    """Per goal, a small table of what drivers at a junction may do, filled as they drive.

    One table per goal rather than one for all: a driver looks up its own goal's table at every
    junction, and a small table stays in the processor's cache (one large dict of the city's turns
    cost about a microsecond a lookup, mostly cache misses). Filled by simulator.search; emptied when
    it holds ``limit`` entries in all, so that memory stays bounded on very large grids.
    """

    __slots__ = ("entries", "limit", "tables")

    def __init__(self, limit: int = 1_000_000) -> None:
        # indexed by goal (goals are small integers, below the faces plus the junctions): a list index
        # costs less than a dict lookup at every junction; None: no table yet
        self.tables: list[dict[int, T] | None] = []
        self.entries = 0
        self.limit = limit

    def table(self, goal: int) -> dict[int, T]:
        tables = self.tables
        if goal < len(tables):
            found = tables[goal]
            if found is not None:
                return found
        else:
            tables.extend([None] * (goal + 1 - len(tables)))
        found = tables[goal] = {}
        return found

    def add(self, table: dict[int, T], key: int, value: T) -> T:
        if self.entries >= self.limit:
            for each in self.tables:
                if each is not None:
                    each.clear()
            self.entries = 0
        table[key] = value
        self.entries += 1
        return value


Turns = list[tuple[int, int]]  # the (next node, face) a driver may take at a junction


@dataclass(frozen=True, slots=True)
class Network:
    """Plain lists for the simulation's hot path, indexed by node, segment (block face) and bay."""

    site_id: str
    bay_ids: tuple[str, ...]
    bay_x: list[float]
    bay_y: list[float]
    bay_seg: list[int]
    bay_along: list[float]  # metres from the segment's first node
    node_x: list[float]
    node_y: list[float]
    adj: list[list[tuple[int, int]]]  # node -> [(neighbour node, segment)]
    seg_a: list[int]
    seg_b: list[int]
    seg_len: list[float]
    seg_bays: list[list[int]]  # ordered from the first node
    seg_weight: list[float]  # probability that a driver's destination is on this face
    core: list[bool]  # bay lies in the search area around an attractor
    centre: tuple[float, float]  # the main attractor
    layout: str
    projection: Projection  # metres of this network <-> longitude, latitude
    bay_zone: list[int]  # index into zone_names
    zone_names: tuple[str, ...]
    # Filled by simulator.search as drivers route, shared by every engine on this network, keyed by
    # simulator.search.turn_state (an integer: hashing a tuple cost more than the rest of a step).
    # Per goal (a face, or n_segments + a junction): the turns towards it.
    routes: TurnTables[Turns] = field(default_factory=TurnTables, compare=False, repr=False)
    # Per face: (distance to its middle, every turn, the turns nearer to it) of a driver cruising there.
    cruises: TurnTables[tuple[float, Turns, Turns]] = field(
        default_factory=TurnTables, compare=False, repr=False
    )
    # Per goal face, keyed by face: how far the face's nearest bay lies from the goal's middle
    # (simulator.search.nearest_bay), filled as drivers come near their goals. Per goal for the same
    # reason as the turns: one flat dict of (goal, face) missed the cache at nearly every lookup.
    bay_reach: TurnTables[float] = field(default_factory=TurnTables, compare=False, repr=False)
    # the middle of each face (the destination point of a driver going there), for the hot path
    seg_mid_x: list[float] = field(init=False, compare=False, repr=False)
    seg_mid_y: list[float] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        nx, ny = self.node_x, self.node_y
        pairs = list(zip(self.seg_a, self.seg_b, strict=True))
        object.__setattr__(self, "seg_mid_x", [(nx[a] + nx[b]) / 2 for a, b in pairs])
        object.__setattr__(self, "seg_mid_y", [(ny[a] + ny[b]) / 2 for a, b in pairs])

    @property
    def n_zones(self) -> int:
        return len(self.zone_names)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Longitude and latitude (WGS84, 7 decimals) of a point in network metres."""
        return self.projection.to_lonlat(x, y)

    def nearest_node(self, x: float, y: float) -> int:
        return min(
            range(len(self.node_x)), key=lambda n: (self.node_x[n] - x) ** 2 + (self.node_y[n] - y) ** 2
        )

    @property
    def n_bays(self) -> int:
        return len(self.bay_ids)

    @property
    def n_segments(self) -> int:
        return len(self.seg_a)

    def seg_mid(self, s: int) -> tuple[float, float]:
        return self.seg_mid_x[s], self.seg_mid_y[s]

    def core_bays(self) -> int:
        return sum(self.core)


def resolve_site(scenario: Scenario, sites_dir: Path, scenario_path: Path | str = "scenario") -> Site:
    """The site a scenario runs on: from the registry, or a synthetic grid built here."""
    spec = scenario.site
    if isinstance(spec, GridSite):
        return grid_site(spec)
    registry = load_registry(sites_dir)
    site = registry.site(spec.id)
    if site is None:
        known = ", ".join(sorted(registry.sites)) or "none"
        raise ScenarioError(scenario_path, "site.id", f"no site {spec.id!r} in {sites_dir} (known: {known})")
    return site


def grid_site(spec: GridSite) -> Site:
    """A synthetic town: ``nodes`` x ``nodes`` junctions, ``bays_per_face`` bays on each face (both sides)."""
    projection = Projection(*spec.origin)
    per_side = (spec.bays_per_face + 1) // 2
    block = spec.block_m
    half = (spec.nodes - 1) * block / 2
    bays: dict[str, Bay] = {}
    number = 0
    for axis, i, j in _grid_faces(spec.nodes):
        x0, y0 = i * block, j * block
        dx, dy = (1.0, 0.0) if axis == "h" else (0.0, 1.0)
        district = f"{int(x0 // 500)}-{int(y0 // 500)}"
        for k in range(spec.bays_per_face):
            side = -1 if k < per_side else 1
            slot = k % per_side
            along = block * (slot + 0.5) / per_side
            x = x0 + dx * along - dy * side * _BAY_SETBACK_M
            y = y0 + dy * along + dx * side * _BAY_SETBACK_M
            number += 1
            lon, lat = projection.to_lonlat(x, y)
            bay_id = f"{spec.bay_prefix}-{number:06d}"
            bays[bay_id] = Bay(
                site=spec.id,
                id=bay_id,
                zone=f"D{district}",
                geometry={"type": "Point", "coordinates": [lon, lat]},
                lon=lon,
                lat=lat,
                properties={"segment": f"{axis}-{i}-{j}", "side": "left" if side < 0 else "right"},
            )
    meta: dict[str, Any] = {
        "description": f"Synthetic {spec.nodes}x{spec.nodes} street grid of {block:g} m blocks (simulator).",
        "destination": list(projection.to_lonlat(half, half)),
        "grid": {"nodes": spec.nodes, "block_m": block, "origin": list(spec.origin)},
    }
    return Site(spec.id, spec.name, bays, (), projection.to_lonlat(half, half), None, meta)


def _grid_faces(nodes: int) -> list[tuple[str, int, int]]:
    faces = [("h", i, j) for j in range(nodes) for i in range(nodes - 1)]
    faces += [("v", i, j) for i in range(nodes) for j in range(nodes - 1)]
    return faces


def build_network(site: Site, space: Space) -> Network:
    bays = list(site.bays.values())
    if not bays:
        raise SiteFileError(site.source or Path(site.id), "features", "the site has no bays")
    destination = _lonlat(site.properties.get("destination")) or site.center
    grid = site.properties.get("grid")
    if isinstance(grid, dict) and all(_face_name(b) is not None for b in bays):
        origin = _lonlat(grid.get("origin")) or destination
        projection = Projection(origin[0], destination[1])
        builder: _StreetGraph = _FaceGrid(
            int(grid["nodes"]), float(grid["block_m"]), projection.to_xy(*origin)
        )
        layout = "grid"
    else:
        projection = Projection(*destination)
        points = [projection.to_xy(b.lon, b.lat) for b in bays]
        if site.streets:
            lines = [[projection.to_xy(*p) for p in street.coordinates] for street in site.streets]
            builder = _nearest_face(_StreetGraph.from_lines(lines), points)
            layout = "streets"
        else:
            builder = _nearest_face(_StreetGraph.overlay(points, space.fallback_block_m), points)
            layout = "overlay"
    xy = [projection.to_xy(b.lon, b.lat) for b in bays]
    centre = projection.to_xy(*destination)
    return builder.network(site.id, bays, xy, centre, space, layout, projection)


def _lonlat(value: object) -> tuple[float, float] | None:
    if (
        isinstance(value, list | tuple)
        and len(value) >= 2
        and all(isinstance(v, int | float) for v in value[:2])
    ):
        return float(value[0]), float(value[1])
    return None


def _face_name(bay: Bay) -> tuple[str, int, int] | None:
    name = bay.properties.get("segment")
    if not isinstance(name, str):
        return None
    parts = name.split("-")
    if len(parts) != 3 or parts[0] not in ("h", "v") or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    return parts[0], int(parts[1]), int(parts[2])


class _StreetGraph:
    """Nodes and faces in metres, before the bays are put on them."""

    def __init__(self) -> None:
        self.node_x: list[float] = []
        self.node_y: list[float] = []
        self.seg_a: list[int] = []
        self.seg_b: list[int] = []
        self._nodes: dict[tuple[int, int], int] = {}
        self._segs: dict[tuple[int, int], int] = {}
        self.bay_seg: list[int] = []

    def node(self, x: float, y: float) -> int:
        key = (round(x * 2), round(y * 2))  # vertices closer than ~0.5 m are one junction
        if key not in self._nodes:
            self._nodes[key] = len(self.node_x)
            self.node_x.append(x)
            self.node_y.append(y)
        return self._nodes[key]

    def segment(self, a: int, b: int) -> int:
        if a == b:
            return -1
        key = (min(a, b), max(a, b))
        if key not in self._segs:
            self._segs[key] = len(self.seg_a)
            self.seg_a.append(key[0])
            self.seg_b.append(key[1])
        return self._segs[key]

    @classmethod
    def from_lines(cls, lines: Sequence[Sequence[tuple[float, float]]]) -> _StreetGraph:
        graph = cls()
        for line in lines:
            ids = [graph.node(x, y) for x, y in line]
            for a, b in itertools.pairwise(ids):
                graph.segment(a, b)
        return graph

    @classmethod
    def overlay(cls, points: Sequence[tuple[float, float]], block_m: float) -> _StreetGraph:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, y0 = min(xs), min(ys)
        nx = max(2, round((max(xs) - x0) / block_m) + 1)
        ny = max(2, round((max(ys) - y0) / block_m) + 1)
        step_x = max((max(xs) - x0) / (nx - 1), 1.0)
        step_y = max((max(ys) - y0) / (ny - 1), 1.0)
        graph = cls()
        ids = [[graph.node(x0 + i * step_x, y0 + j * step_y) for j in range(ny)] for i in range(nx)]
        for i in range(nx):
            for j in range(ny):
                if i + 1 < nx:
                    graph.segment(ids[i][j], ids[i + 1][j])
                if j + 1 < ny:
                    graph.segment(ids[i][j], ids[i][j + 1])
        return graph

    def network(
        self,
        site_id: str,
        bays: list[Bay],
        xy: list[tuple[float, float]],
        centre: tuple[float, float],
        space: Space,
        layout: str,
        projection: Projection,
    ) -> Network:
        n_nodes, n_segs = len(self.node_x), len(self.seg_a)
        seg_len = [
            max(math.hypot(self.node_x[b] - self.node_x[a], self.node_y[b] - self.node_y[a]), 1.0)
            for a, b in zip(self.seg_a, self.seg_b, strict=True)
        ]
        adj: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
        for s, (a, b) in enumerate(zip(self.seg_a, self.seg_b, strict=True)):
            adj[a].append((b, s))
            adj[b].append((a, s))
        along: list[float] = []
        for (x, y), s in zip(xy, self.bay_seg, strict=True):
            a, b = self.seg_a[s], self.seg_b[s]
            ux, uy = (
                (self.node_x[b] - self.node_x[a]) / seg_len[s],
                (self.node_y[b] - self.node_y[a]) / seg_len[s],
            )
            along.append(min(max((x - self.node_x[a]) * ux + (y - self.node_y[a]) * uy, 0.0), seg_len[s]))
        seg_bays: list[list[int]] = [[] for _ in range(n_segs)]
        for bay, s in enumerate(self.bay_seg):
            seg_bays[s].append(bay)
        for members in seg_bays:
            members.sort(key=lambda bay: (along[bay], bay))
        mid = np.array(
            [
                ((self.node_x[a] + self.node_x[b]) / 2, (self.node_y[a] + self.node_y[b]) / 2)
                for a, b in zip(self.seg_a, self.seg_b, strict=True)
            ]
        ).reshape(-1, 2)
        weights = attractiveness(mid, centre, space)
        bay_xy = np.array(xy).reshape(-1, 2)
        core = _in_search_area(bay_xy, centre, space)
        return Network(
            site_id=site_id,
            bay_ids=tuple(b.id for b in bays),
            bay_x=[p[0] for p in xy],
            bay_y=[p[1] for p in xy],
            bay_seg=list(self.bay_seg),
            bay_along=along,
            node_x=list(self.node_x),
            node_y=list(self.node_y),
            adj=adj,
            seg_a=list(self.seg_a),
            seg_b=list(self.seg_b),
            seg_len=seg_len,
            seg_bays=seg_bays,
            seg_weight=weights.tolist(),
            core=core.tolist(),
            centre=centre,
            layout=layout,
            projection=projection,
            **_zones(bays, xy),
        )


class _FaceGrid(_StreetGraph):
    """The grid a site file describes, with bays on the faces their ``segment`` names."""

    def __init__(self, nodes: int, block_m: float, origin_xy: tuple[float, float]) -> None:
        super().__init__()
        self.nodes = nodes
        ids = [
            [self.node(origin_xy[0] + i * block_m, origin_xy[1] + j * block_m) for j in range(nodes)]
            for i in range(nodes)
        ]
        self._ids = ids
        for axis, i, j in _grid_faces(nodes):
            a = ids[i][j]
            b = ids[i + 1][j] if axis == "h" else ids[i][j + 1]
            self.segment(a, b)

    def network(
        self,
        site_id: str,
        bays: list[Bay],
        xy: list[tuple[float, float]],
        centre: tuple[float, float],
        space: Space,
        layout: str,
        projection: Projection,
    ) -> Network:
        self.bay_seg = []
        for bay in bays:
            face = _face_name(bay)
            assert face is not None
            axis, i, j = face
            if not (0 <= i < self.nodes and 0 <= j < self.nodes) or (axis == "h" and i + 1 >= self.nodes):
                raise SiteFileError(
                    Path(site_id), f"bay {bay.id!r}.properties.segment", "outside the site's grid"
                )
            if axis == "v" and j + 1 >= self.nodes:
                raise SiteFileError(
                    Path(site_id), f"bay {bay.id!r}.properties.segment", "outside the site's grid"
                )
            a = self._ids[i][j]
            b = self._ids[i + 1][j] if axis == "h" else self._ids[i][j + 1]
            self.bay_seg.append(self.segment(a, b))
        return super().network(site_id, bays, xy, centre, space, layout, projection)


def _zones(bays: list[Bay], xy: list[tuple[float, float]]) -> dict[str, Any]:
    """Each bay's zone from the site's ``zone`` property; a bay without one joins its nearest zoned bay."""
    names = sorted({b.zone for b in bays if b.zone})
    if not names:
        return {"bay_zone": [0] * len(bays), "zone_names": ("Zentrum",)}
    index = {name: i for i, name in enumerate(names)}
    zoned = [i for i, b in enumerate(bays) if b.zone]
    points = np.array([xy[i] for i in zoned]).reshape(-1, 2)
    bay_zone = []
    for i, bay in enumerate(bays):
        if bay.zone:
            bay_zone.append(index[bay.zone])
        else:
            nearest = zoned[int(np.argmin(np.hypot(points[:, 0] - xy[i][0], points[:, 1] - xy[i][1])))]
            bay_zone.append(index[str(bays[nearest].zone)])
    return {"bay_zone": bay_zone, "zone_names": tuple(names)}


def _nearest_face(graph: _StreetGraph, points: list[tuple[float, float]]) -> _StreetGraph:
    ax = np.array([graph.node_x[a] for a in graph.seg_a])
    ay = np.array([graph.node_y[a] for a in graph.seg_a])
    bx = np.array([graph.node_x[b] for b in graph.seg_b])
    by = np.array([graph.node_y[b] for b in graph.seg_b])
    graph.bay_seg = [int(np.argmin(point_segment_distance(x, y, ax, ay, bx, by))) for x, y in points]
    return graph


def point_segment_distance(
    x: float | NDArray[np.float64],
    y: float | NDArray[np.float64],
    ax: NDArray[np.float64],
    ay: NDArray[np.float64],
    bx: NDArray[np.float64],
    by: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Distance from points to line segments, element-wise."""
    dx, dy = bx - ax, by - ay
    length2 = np.maximum(dx * dx + dy * dy, 1e-9)
    u = np.clip(((x - ax) * dx + (y - ay) * dy) / length2, 0.0, 1.0)
    return np.asarray(np.hypot(ax + u * dx - x, ay + u * dy - y))


def attractor_points(centre: tuple[float, float], space: Space) -> list[tuple[float, float, float, float]]:
    """(x, y, sigma, weight) of every attractor, placed relative to the site's destination."""
    return [(centre[0] + a.east_m, centre[1] + a.north_m, a.sigma_m, a.weight) for a in space.attractors]


def attractiveness(
    points: NDArray[np.float64], centre: tuple[float, float], space: Space
) -> NDArray[np.float64]:
    """Destination probability per face: a background level plus a Gaussian around each attractor."""
    weight = np.full(len(points), space.background_weight)
    for x, y, sigma, w in attractor_points(centre, space):
        d2 = (points[:, 0] - x) ** 2 + (points[:, 1] - y) ** 2
        weight += w * np.exp(-d2 / (2 * sigma * sigma))
    total = weight.sum()
    if total <= 0:
        return np.full(len(points), 1.0 / max(len(points), 1))
    return np.asarray(weight / total)


def _in_search_area(
    points: NDArray[np.float64], centre: tuple[float, float], space: Space
) -> NDArray[np.bool_]:
    inside = np.zeros(len(points), dtype=bool)
    for x, y, _sigma, _w in attractor_points(centre, space):
        inside |= np.hypot(points[:, 0] - x, points[:, 1] - y) <= space.search_area_radius_m
    if not inside.any():  # a tiny site (the showroom table) is all search area
        inside[:] = True
    return inside
