"""Plotly figures as plain dicts (pure functions of a site and its bay states).

The kiosk page draws the map from :func:`bay_map` once and then restyles it from the live stream, so
the figure carries, beside Plotly's ``data``/``layout``/``config``, what the page needs for that:
``status_style`` (colour, marker shape, fill and fill pattern of each status), ``bay_trace`` (index
of the marker trace, whose points are the bays in ``customdata`` order), ``fill_traces`` (one
polygon trace per status) and ``polygons`` (each polygon bay's outline).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from parking.events import BayStatus
from parking.registry import Bay, Site
from parking.state import BayState

FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
BACKGROUND = "#eef0ea"
STREET_COLOUR = "#c9ccc4"
# Metres per degree of latitude; a degree of longitude is this times cos(latitude).
M_PER_DEG = 111_320.0
# The map is laid out for a panel about this many pixels across its longer side (1920×1080 kiosk).
MAP_PX = 1_000.0


@dataclass(frozen=True, slots=True)
class StatusStyle:
    """How one status looks: told apart by marker shape and fill pattern as well as colour."""

    colour: str
    symbol: str
    fill: str
    pattern: str  # Plotly fill pattern shape: "" solid, "/" stripes, "." dots, "x" cross-hatch


# Okabe-Ito colours (safe for colour-blind viewers). Free is a filled circle on a plain fill, occupied a
# filled X on stripes, unknown a hollow grey diamond on dots, closed a black bar on cross-hatch.
STATUS_STYLE: dict[BayStatus, StatusStyle] = {
    BayStatus.FREE: StatusStyle("#009E73", "circle", "rgba(0,158,115,0.30)", ""),
    BayStatus.OCCUPIED: StatusStyle("#D55E00", "x", "rgba(213,94,0,0.40)", "/"),
    BayStatus.UNKNOWN: StatusStyle("#8C8C8C", "diamond-open", "rgba(140,140,140,0.22)", "."),
    BayStatus.CLOSED: StatusStyle("#000000", "line-ew-open", "rgba(0,0,0,0.25)", "x"),
}
STATUS_ORDER = (BayStatus.FREE, BayStatus.OCCUPIED, BayStatus.UNKNOWN, BayStatus.CLOSED)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, metres per degree of latitude) at a latitude."""
    return M_PER_DEG * max(0.1, math.cos(math.radians(lat))), M_PER_DEG


def extent_m(site: Site) -> float:
    """The longer side of the box around the site's bays and streets, in metres (at least 10 m)."""
    xs = [b.lon for b in site.bays.values()] + [p[0] for s in site.streets for p in s.coordinates]
    ys = [b.lat for b in site.bays.values()] + [p[1] for s in site.streets for p in s.coordinates]
    mx, my = metres_per_degree(site.center[1])
    return max(10.0, (max(xs) - min(xs)) * mx, (max(ys) - min(ys)) * my)


def bay_spacing_m(site: Site) -> float:
    """Median distance from a bay to its nearest neighbour, in metres (the room a marker has)."""
    bays = list(site.bays.values())
    if len(bays) < 2:
        return extent_m(site)
    mx, my = metres_per_degree(site.center[1])
    points = [(b.lon * mx, b.lat * my) for b in bays]
    # A grid of cells as large as the typical spacing keeps this near-linear for thousands of bays.
    cell = max(1.0, extent_m(site) / math.sqrt(len(points)))
    grid: dict[tuple[int, int], list[int]] = {}
    for i, (x, y) in enumerate(points):
        grid.setdefault((int(x // cell), int(y // cell)), []).append(i)
    nearest: list[float] = []
    for i, (x, y) in enumerate(points):
        cx, cy = int(x // cell), int(y // cell)
        best = math.inf
        for ring in range(0, 4):
            for gx in range(cx - ring, cx + ring + 1):
                for gy in range(cy - ring, cy + ring + 1):
                    if max(abs(gx - cx), abs(gy - cy)) != ring:
                        continue
                    for j in grid.get((gx, gy), ()):
                        if j != i:
                            best = min(best, math.hypot(points[j][0] - x, points[j][1] - y))
            if best <= ring * cell:
                break
        if math.isfinite(best):
            nearest.append(best)
    if not nearest:
        return extent_m(site)
    nearest.sort()
    return max(0.5, nearest[len(nearest) // 2])


def marker_size(site: Site, in_polygons: bool = False) -> int:
    """Marker diameter in pixels: as large as the bays' spacing allows on the kiosk map, within limits.

    A marker alone is the bay and may fill most of its room; inside a polygon it leaves the outline
    and the fill pattern visible around it.
    """
    room = bay_spacing_m(site) * MAP_PX / extent_m(site)
    if in_polygons:
        return int(min(72, max(6, 0.5 * room)))
    return int(min(48, max(6, 0.7 * room)))


def street_width(site: Site) -> float:
    """Street line width in pixels: about 5 m of carriageway, within limits."""
    return min(300.0, max(4.0, 5.0 * MAP_PX / extent_m(site)))


def _ring(bay: Bay) -> tuple[list[float], list[float]] | None:
    if bay.geometry.get("type") != "Polygon":
        return None
    ring = bay.geometry["coordinates"][0]
    return [float(p[0]) for p in ring], [float(p[1]) for p in ring]


def status_rings(
    polygons: Mapping[str, tuple[list[float], list[float]]], statuses: Mapping[str, BayStatus]
) -> dict[BayStatus, tuple[list[float | None], list[float | None]]]:
    """The polygon outlines of each status, joined with gaps (what one fill trace per status draws)."""
    out: dict[BayStatus, tuple[list[float | None], list[float | None]]] = {s: ([], []) for s in STATUS_ORDER}
    for bay_id, (xs, ys) in polygons.items():
        x, y = out[statuses.get(bay_id, BayStatus.UNKNOWN)]
        if x:
            x.append(None)
            y.append(None)
        x.extend(xs)
        y.extend(ys)
    return out


def bay_map(site: Site, states: Iterable[BayState]) -> dict[str, Any]:
    """Streets as wide grey lines, polygon bays filled by status, and one marker per bay on top.

    The marker trace (``bay_trace``, the last one) has its points in the order of ``site.bays`` with
    the bay ids in ``customdata``, so the page can restyle a single bay by index when it changes.
    """
    by_bay = {s.bay: s.status for s in states}
    statuses = {bay_id: by_bay.get(bay_id, BayStatus.UNKNOWN) for bay_id in site.bays}
    traces: list[dict[str, Any]] = []
    width = street_width(site)
    for street in site.streets:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": street.name or "street",
                "hoverinfo": "skip",
                "showlegend": False,
                "x": [p[0] for p in street.coordinates],
                "y": [p[1] for p in street.coordinates],
                "line": {"color": STREET_COLOUR, "width": width},
            }
        )
    polygons = {bay.id: ring for bay in site.bays.values() if (ring := _ring(bay)) is not None}
    fill_traces: dict[str, int] = {}
    if polygons:
        rings = status_rings(polygons, statuses)
        for status in STATUS_ORDER:
            style = STATUS_STYLE[status]
            fill_traces[status.value] = len(traces)
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"bays {status.value}",
                    "x": rings[status][0],
                    "y": rings[status][1],
                    "fill": "toself",
                    "fillcolor": style.fill,
                    "fillpattern": {
                        "shape": style.pattern,
                        "fgcolor": style.colour,
                        "bgcolor": style.fill,
                        "size": 14,
                        "solidity": 0.25,
                    },
                    "hoverinfo": "skip",
                    "showlegend": False,
                    "line": {"color": "#3a3a3a", "width": 3},
                }
            )
    size = marker_size(site, in_polygons=bool(polygons))
    bay_trace = len(traces)
    traces.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "bays",
            "x": [b.lon for b in site.bays.values()],
            "y": [b.lat for b in site.bays.values()],
            "customdata": list(site.bays),
            "text": [f"{b.id} · {b.zone}" for b in site.bays.values()],
            "hovertemplate": "%{text}<extra></extra>",
            "showlegend": False,
            "marker": {
                "size": size,
                "color": [STATUS_STYLE[statuses[b]].colour for b in site.bays],
                "symbol": [STATUS_STYLE[statuses[b]].symbol for b in site.bays],
                "line": {"width": max(1.5, size / 8), "color": "#1d1d1b"},
            },
        }
    )
    lat = site.center[1]
    return {
        "data": traces,
        "layout": {
            "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
            "xaxis": {"visible": False, "fixedrange": True},
            # Keep metres square: one degree of longitude is shorter than one of latitude up here.
            "yaxis": {
                "visible": False,
                "fixedrange": True,
                "scaleanchor": "x",
                "scaleratio": 1 / max(0.1, math.cos(math.radians(lat))),
            },
            "font": {"family": FONT},
            "plot_bgcolor": BACKGROUND,
            "paper_bgcolor": BACKGROUND,
            "dragmode": False,
            "hovermode": False,
            "showlegend": False,
        },
        "config": {"displayModeBar": False, "staticPlot": True, "responsive": True},
        "status_style": {
            s.value: {"color": st.colour, "symbol": st.symbol, "fill": st.fill, "pattern": st.pattern}
            for s, st in STATUS_STYLE.items()
        },
        "bay_trace": bay_trace,
        "fill_traces": fill_traces,
        "polygons": {bay_id: {"x": xs, "y": ys} for bay_id, (xs, ys) in polygons.items()},
    }


def twin_geometry(site: Site) -> dict[str, Any]:
    """Streets and bay positions for the kiosk's twin view, which draws them on a canvas itself.

    Bays are in site order (the order ``VehiclePositions.bays`` and its occupancy strings follow);
    ``m_per_deg`` lets the page draw metres square. Compact lists, not GeoJSON: a town's 720 bays are
    three arrays.
    """
    bays = list(site.bays.values())
    xs = [b.lon for b in bays] + [p[0] for s in site.streets for p in s.coordinates]
    ys = [b.lat for b in bays] + [p[1] for s in site.streets for p in s.coordinates]
    mx, my = metres_per_degree(site.center[1])
    return {
        "site": site.id,
        "name": site.name,
        "bbox": [min(xs), min(ys), max(xs), max(ys)],
        "m_per_deg": [mx, my],
        "bay_spacing_m": bay_spacing_m(site),
        "streets": [[list(p) for p in street.coordinates] for street in site.streets],
        "bays": [b.id for b in bays],
        "zones": [b.zone for b in bays],
        "lon": [b.lon for b in bays],
        "lat": [b.lat for b in bays],
    }
