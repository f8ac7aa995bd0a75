"""Responses shaped like the history endpoints the kiosk codes against (occupancy, heatmap), for pages
whose real endpoints have no data yet (a fresh database).

Routing a request through Playwright answers it inside the browser: nothing reaches the network.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

OCCUPANCY = "**/api/v1/sites/*/occupancy*"
HEATMAP = "**/api/v1/sites/*/heatmap*"
# URL parts of the endpoints above, for telling their expected failures from real console errors.
CONTRACT_PATHS = ("/occupancy", "/heatmap")
BAYS = {"showroom": 16, "town-centre": 720}  # every bay reported in the fake history


def occupancy(site: str, now: datetime | None = None, thin: int = 0) -> dict[str, Any]:
    """24 hours in 15-minute points; in the first ``thin`` of them only 3 bays reported."""
    now = now or datetime.now(UTC)
    points = []
    for i in range(96, 0, -1):
        t = now - timedelta(minutes=15 * i)
        points.append(
            {
                "time": t.isoformat().replace("+00:00", "Z"),
                "occupancy": 0.55 + 0.35 * math.sin(i / 12) if i % 40 else None,
                "reporting": 3 if 96 - i < thin else BAYS[site],
            }
        )
    return {"site": site, "zone": None, "every": "15m", "source": "influxdb", "points": points}


def heatmap(site: str) -> dict[str, Any]:
    values: list[list[float | None]] = []
    for day in range(7):
        row: list[float | None] = []
        for hour in range(24):
            peak = math.exp(-(((hour - 11) / 3.5) ** 2)) * (0.6 if day >= 5 else 1.0)
            row.append(None if day == 6 and hour < 6 else round(min(1.0, 0.15 + 0.8 * peak), 3))
        values.append(row)
    weekdays = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"]
    return {
        "site": site,
        "zone": None,
        "weeks": 4,
        "weekdays": weekdays,
        "hours": list(range(24)),
        "values": values,
    }


def _site_of(url: str) -> str:
    parts = url.split("/api/v1/sites/", 1)
    if len(parts) == 2:
        return parts[1].split("/", 1)[0]
    return url.split("site=", 1)[1].split("&", 1)[0] if "site=" in url else "town-centre"


def serve_contract_data(page: Page, thin: int = 0) -> None:
    """Answer occupancy and heatmap requests with contract-shaped data (``thin``: see ``occupancy``)."""

    def fulfil(route: Route) -> None:
        url = route.request.url
        site = _site_of(url)
        body = occupancy(site, thin=thin) if "/occupancy" in url else heatmap(site)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    for pattern in (OCCUPANCY, HEATMAP):
        page.route(pattern, fulfil)


def serve_contract_failures(page: Page) -> None:
    """Occupancy answers 503 (store down), the heatmap 404 (not built yet)."""

    def fail(route: Route) -> None:
        status = 404 if "/heatmap" in route.request.url else 503
        route.fulfill(status=status, content_type="application/json", body=json.dumps({"detail": "not here"}))

    for pattern in (OCCUPANCY, HEATMAP):
        page.route(pattern, fail)
