"""InfluxQL over the bay schema (``bay_status``: tags site, bay; integer field occupied)."""

from __future__ import annotations

from parking.events import BayStatus
from parking.lineprotocol import BAY_STATUS, influxql_string
from parking.state import BayState
from parking.store import InfluxStore


async def latest_states(store: InfluxStore, site: str) -> list[BayState]:
    """Each bay's last stored occupancy; ``since`` is the time of that point (a lower bound)."""
    series = await store.query(
        f"SELECT last(occupied) FROM {BAY_STATUS} WHERE site = {influxql_string(site)} GROUP BY bay",
        epoch="ns",
    )
    states = []
    for s in series:
        for time_ns, occupied in s.values:
            status = BayStatus.OCCUPIED if occupied else BayStatus.FREE
            states.append(BayState(site, s.tags["bay"], status, int(time_ns), int(time_ns)))
    return states


async def count_points(store: InfluxStore, site: str | None = None) -> int:
    where = f" WHERE site = {influxql_string(site)}" if site else ""
    series = await store.query(f"SELECT count(occupied) FROM {BAY_STATUS}{where}")
    return int(series[0].values[0][1]) if series and series[0].values else 0
