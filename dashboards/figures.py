"""Plotly figures as plain dicts (pure functions of a site and its bay states)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from parking.events import BayStatus
from parking.registry import Site
from parking.state import BayState

# Okabe-Ito colours (safe for colour-blind viewers), and a distinct marker shape for each status.
STATUS_STYLE: dict[BayStatus, tuple[str, str]] = {
    BayStatus.FREE: ("#009E73", "circle"),
    BayStatus.OCCUPIED: ("#D55E00", "square-x"),
    BayStatus.UNKNOWN: ("#999999", "diamond-open"),
    BayStatus.CLOSED: ("#000000", "x-thin-open"),
}


def marker_size(site: Site) -> int:
    return 22 if len(site.bays) <= 50 else 7 if len(site.bays) <= 2_000 else 4


def bay_map(site: Site, states: Iterable[BayState]) -> dict[str, Any]:
    """Streets as grey lines, bay outlines where bays are polygons, and one marker per bay.

    The bay trace is the last one; its points are in the order of ``site.bays`` so the page can
    restyle a single point by index when a bay changes.
    """
    by_bay = {s.bay: s.status for s in states}
    traces: list[dict[str, Any]] = []
    for street in site.streets:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "hoverinfo": "skip",
                "showlegend": False,
                "x": [p[0] for p in street.coordinates],
                "y": [p[1] for p in street.coordinates],
                "line": {"color": "#c8c8c8", "width": 10 if len(site.bays) <= 50 else 6},
            }
        )
    outline_x: list[float | None] = []
    outline_y: list[float | None] = []
    for bay in site.bays.values():
        if bay.geometry.get("type") == "Polygon":
            ring = bay.geometry["coordinates"][0]
            outline_x += [p[0] for p in ring] + [None]
            outline_y += [p[1] for p in ring] + [None]
    if outline_x:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": outline_x,
                "y": outline_y,
                "hoverinfo": "skip",
                "showlegend": False,
                "line": {"color": "#555555", "width": 2},
            }
        )
    statuses = [by_bay.get(bay_id, BayStatus.UNKNOWN) for bay_id in site.bays]
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
                "size": marker_size(site),
                "color": [STATUS_STYLE[s][0] for s in statuses],
                "symbol": [STATUS_STYLE[s][1] for s in statuses],
                "line": {"width": 1, "color": "#333333"},
            },
        }
    )
    lat = site.center[1]
    return {
        "data": traces,
        "layout": {
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "xaxis": {"visible": False, "fixedrange": True},
            # Keep metres square: one degree of longitude is shorter than one of latitude up here.
            "yaxis": {
                "visible": False,
                "fixedrange": True,
                "scaleanchor": "x",
                "scaleratio": 1 / max(0.1, math.cos(math.radians(lat))),
            },
            "plot_bgcolor": "#f4f1ea",
            "paper_bgcolor": "#f4f1ea",
            "dragmode": False,
        },
        "config": {"displayModeBar": False, "staticPlot": False, "responsive": True},
        "status_style": {s.value: {"color": c, "symbol": m} for s, (c, m) in STATUS_STYLE.items()},
    }
