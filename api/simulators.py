"""The running simulators as the API sees them: their last retained status, and KPIs in API form."""

from __future__ import annotations

import json
from typing import Any

from parking import topics

# The studies the model is calibrated on (shared/research/parking-search.md §1c, §4, §7).
CALIBRATION_SOURCES = (
    {
        "label": "start2park (Frankfurt UAS, GPS-Messung)",
        "url": "https://start2park.fluxguide.com/website/2022/11/02/zwischenergebnisse",
    },
    {
        "label": "Destatis 2017: 179 g CO₂/km Pkw-Flotte",
        "url": "https://m.faz.net/aktuell/wirtschaft/der-co2-ausstoss-von-autos-waechst-15910393.amp.html",
    },
    {
        "label": "Köln-Nippes Parkpilot (Testfahrten)",
        "url": "https://ksta.de/koeln/nippes/parkpilot-in-koeln-nippes-wie-hat-sich-die-auslastung-der-stellplaetze-entwickelt-287105",
    },
)


def parse_status(topic: str, payload: bytes) -> tuple[str, dict[str, Any]] | None:
    site = topics.split_simulator_status(topic)
    if site is None:
        return None
    try:
        status = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return (site, status) if isinstance(status, dict) else None


def kpi_view(site: str, status: dict[str, Any]) -> dict[str, Any]:
    """The kiosk's "with and without sensors" figures from a simulator status (pure)."""
    kpis = status.get("kpis") or {}
    today = kpis.get("today") or {}
    savings = today.get("savings") or {}
    now = kpis.get("now") or {}
    co2_g = savings.get("co2_g")
    return {
        "site": site,
        "model_estimate": True,
        "scenario": status.get("scenario"),
        "sim_time": kpis.get("sim_time"),
        "settings": kpis.get("settings"),
        "guided": today.get("guided"),
        "unguided": today.get("unguided"),
        "without_guidance": today.get("without_guidance"),
        "saved_today": {
            "search_min": savings.get("search_min"),
            "km": savings.get("search_km"),
            "co2_kg": co2_g / 1000.0 if isinstance(co2_g, int | float) else None,
            "method": savings.get("method"),
        },
        "searching_now": (now.get("searching") or {}),
        "occupancy": now.get("occupancy"),
        "sources": list(CALIBRATION_SOURCES),
        "factors": kpis.get("factors") or {},
    }


class SimulatorBook:
    """Latest status per simulated site, fed by the live feed (single-threaded in the event loop)."""

    def __init__(self) -> None:
        self.status: dict[str, dict[str, Any]] = {}

    def update(self, site: str, status: dict[str, Any]) -> None:
        self.status[site] = status

    def pick(self, site: str | None) -> tuple[str, dict[str, Any]] | None:
        if site is not None:
            found = self.status.get(site)
            return (site, found) if found is not None else None
        if not self.status:
            return None
        first = sorted(self.status)[0]
        return first, self.status[first]
