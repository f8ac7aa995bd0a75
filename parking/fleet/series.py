"""One sensor's battery and message history, per hour, for the chart on the staff page "Sensoren".

Two InfluxQL queries over one bay (its ``sensor_health`` battery means, and how many status readings
it sent per hour, heartbeats included; built in ``parking.history.influxql``). Hours without a
message show 0 messages and no battery.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from parking.fleet.rules import HOUR_NS
from parking.history.influxql import bay_battery_series_query, bay_messages_series_query
from parking.store import InfluxStore, Series


@dataclass(frozen=True, slots=True)
class HourPoint:
    start_ns: int
    messages: int
    battery_v: float | None
    battery_pct: float | None


def _column(series: Iterable[Series], name: str) -> dict[int, float]:
    found: dict[int, float] = {}
    for s in series:
        if name not in s.columns:
            continue
        index = s.columns.index(name)
        for row in s.values:
            if row[index] is not None:
                found[int(row[0])] = float(row[index])
    return found


def hourly_points(
    battery: Iterable[Series], messages: Iterable[Series], start_ns: int, end_ns: int
) -> list[HourPoint]:
    """Every hour from ``start_ns`` (an hour boundary) to ``end_ns``, oldest first. Pure."""
    battery = list(battery)
    volts, percent = _column(battery, "v"), _column(battery, "pct")
    counts = _column(messages, "n")
    return [
        HourPoint(t, int(counts.get(t, 0)), volts.get(t), percent.get(t))
        for t in range(start_ns, end_ns, HOUR_NS)
    ]


async def read_hourly(store: InfluxStore, site: str, bay: str, now_ns: int, days: int) -> list[HourPoint]:
    start = now_ns - now_ns % HOUR_NS - days * 24 * HOUR_NS + HOUR_NS
    battery = await store.query(bay_battery_series_query(site, bay, start, now_ns), epoch="ns")
    messages = await store.query(bay_messages_series_query(site, bay, start, now_ns), epoch="ns")
    return hourly_points(battery, messages, start, now_ns)
