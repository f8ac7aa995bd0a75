"""Reads over the bay schema that are not history: each bay's last reading, the count of readings."""

from __future__ import annotations

from parking.events import BayStatus
from parking.history.influxql import count_query, latest_states_query
from parking.state import BayState
from parking.store import InfluxStore


async def latest_states(store: InfluxStore, site: str) -> list[BayState]:
    """Each bay's last stored occupancy; ``since`` is the time of that point (a lower bound)."""
    series = await store.query(latest_states_query(site), epoch="ns")
    states = []
    for s in series:
        for time_ns, occupied in s.values:
            status = BayStatus.OCCUPIED if occupied else BayStatus.FREE
            states.append(BayState(site, s.tags["bay"], status, int(time_ns), int(time_ns)))
    return states


async def count_points(store: InfluxStore, site: str | None = None) -> int:
    series = await store.query(count_query(site))
    return int(series[0].values[0][1]) if series and series[0].values else 0
