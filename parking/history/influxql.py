"""Every InfluxQL statement Parklotse sends, built in one place. Pure text, no I/O.

Schema (docs/history.md): ``bay_status`` (tags site, bay; integer field ``occupied``),
``sensor_health`` (battery and radio), and the rollups ``site_occupancy_5m`` / ``site_occupancy_1h``
(tags site and, for a zone's rows, zone). Names and strings are quoted with ``influxql_string``; bay
names in a regex are checked against the name pattern and escaped first. Integer time literals are
nanoseconds. Statements are joined with ``; `` when one request should answer several.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from parking.events import is_valid_name
from parking.history.windows import (
    DAY_NS,
    FINE_ROLLUP_NS,
    ROLLUP_NS,
    SAMPLE_NS,
    SEED_LOOKBACK_NS,
    SEED_WINDOW_NS,
    bucket_offset,
)
from parking.lineprotocol import BAY_STATUS, SENSOR_HEALTH, influxql_string
from parking.registry import Site
from parking.simulated import MARKER

ROLLUP_MEASUREMENT = "site_occupancy_1h"  # the hourly rollup; it also carries the reading counts
FINE_ROLLUP_MEASUREMENT = "site_occupancy_5m"
ROLLUPS = {ROLLUP_NS: ROLLUP_MEASUREMENT, FINE_ROLLUP_NS: FINE_ROLLUP_MEASUREMENT}


def bay_regex(bays: Iterable[str]) -> str:
    """``/^(?:A01|A02)$/`` for a tag condition; every name is checked and escaped."""
    names = sorted(set(bays))
    if not names:
        raise ValueError("a bay regex needs at least one bay")
    parts = []
    for name in names:
        if not is_valid_name(name):
            raise ValueError(f"{name!r} is not a valid bay name")
        parts.append(re.sub(r"([\\.+*?()|\[\]{}^$/])", r"\\\1", name))
    return "/^(?:" + "|".join(parts) + ")$/"


@dataclass(frozen=True, slots=True)
class Scope:
    """A set of bays of one site: all of them, or the listed ones, or all but the listed ones.

    ``known`` are the registry's bays in the scope: those still without a seed after the last day
    are looked up further back.
    """

    site: str
    bays: tuple[str, ...] | None = None
    exclude: bool = False
    known: tuple[str, ...] = ()

    def condition(self) -> str:
        cond = f'"site" = {influxql_string(self.site)}'
        if self.bays is not None:
            if not self.bays:
                # An empty zone matches nothing; an excluded empty list matches everything.
                return cond if self.exclude else f"{cond} AND \"bay\" = ''"
            cond += f' AND "bay" {"!~" if self.exclude else "=~"} {bay_regex(self.bays)}'
        return cond

    def covers(self, bay: str) -> bool:
        if self.bays is None:
            return True
        return (bay in self.bays) != self.exclude

    def only(self, bays: Iterable[str]) -> Scope:
        return Scope(self.site, tuple(sorted(bays)), known=self.known)


def zone_scope(site: Site, zone: str | None) -> Scope | None:
    """The registry's bays of a zone (None if the site has no such zone), or the whole site."""
    if zone is None:
        return Scope(site.id, known=tuple(sorted(site.bays)))
    bays = tuple(sorted(b.id for b in site.bays.values() if b.zone == zone))
    return Scope(site.id, bays, known=bays) if bays else None


def time_condition(start_ns: int, end_ns: int) -> str:
    """Integer time literals are nanoseconds in InfluxQL."""
    return f"time >= {start_ns} AND time < {end_ns}"


def seed_statement(scope: Scope, start_ns: int, from_ns: int) -> str:
    return (
        f"SELECT last(occupied) AS seed FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(from_ns, start_ns)} GROUP BY bay"
    )


def first_statement(scope: Scope, start_ns: int, end_ns: int) -> str:
    return (
        f"SELECT first(occupied) AS first FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(start_ns, end_ns)} GROUP BY bay"
    )


def changes_statement(scope: Scope, start_ns: int, end_ns: int, step_ns: int = SAMPLE_NS) -> str:
    """Per minute over all bays of the scope: net change (arrivals - departures) and changes."""
    tc = time_condition(start_ns, end_ns)
    return (
        f"SELECT sum(d) AS net, count(d) AS changes FROM (SELECT difference(occupied) AS d "
        f"FROM {BAY_STATUS} WHERE {scope.condition()} AND {tc} GROUP BY bay) "
        f"WHERE d <> 0 AND {tc} GROUP BY time({step_ns}ns) fill(none)"
    )


def readings_statement(scope: Scope, start_ns: int, end_ns: int) -> str:
    return (
        f"SELECT count(occupied) AS readings FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(start_ns, end_ns)} GROUP BY time({ROLLUP_NS}ns) fill(none)"
    )


def last_statement(scope: Scope, start_ns: int, end_ns: int) -> str:
    return (
        f"SELECT last(occupied) AS last FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(start_ns, end_ns)} GROUP BY bay"
    )


def core_query(
    scope: Scope,
    start_ns: int,
    end_ns: int,
    *,
    seeds: bool = True,
    readings: bool = False,
    lasts: bool = False,
) -> str:
    """Seeds from the last day, first readings and per-minute changes in one request.

    ``readings`` adds the count of readings per hour, ``lasts`` each bay's last reading in the
    range (the seeds of the range that follows).
    """
    statements = [seed_statement(scope, start_ns, start_ns - SEED_WINDOW_NS)] if seeds else []
    statements += [first_statement(scope, start_ns, end_ns), changes_statement(scope, start_ns, end_ns)]
    if readings:
        statements.append(readings_statement(scope, start_ns, end_ns))
    if lasts:
        statements.append(last_statement(scope, start_ns, end_ns))
    return "; ".join(statements)


def deep_seed_query(scope: Scope, start_ns: int, missing: Iterable[str]) -> str:
    """Seeds for bays without a reading in the last day, up to SEED_LOOKBACK_NS back."""
    return seed_statement(scope.only(missing), start_ns - SEED_WINDOW_NS, start_ns - SEED_LOOKBACK_NS)


def transitions_query(scope: Scope, start_ns: int, end_ns: int, *, limit: int | None = None) -> str:
    """Each bay's first reading and its changes (difference != 0), per bay, in time order."""
    tc = time_condition(start_ns, end_ns)
    tail = f" LIMIT {limit}" if limit is not None else ""
    return (
        f"{first_statement(scope, start_ns, end_ns)}; "
        f"SELECT d FROM (SELECT difference(occupied) AS d FROM {BAY_STATUS} "
        f"WHERE {scope.condition()} AND {tc} GROUP BY bay) WHERE d <> 0 AND {tc} GROUP BY bay{tail}"
    )


def timeline_query(scope: Scope, start_ns: int, end_ns: int, limit: int) -> str:
    """A bay's seed (up to SEED_LOOKBACK_NS back), its first reading and up to ``limit`` changes."""
    return (
        f"{seed_statement(scope, start_ns, start_ns - SEED_LOOKBACK_NS)}; "
        f"{transitions_query(scope, start_ns, end_ns, limit=limit)}"
    )


ROLLUP_AGGREGATES = {
    "occupied": "sum(occupied) AS occupied",
    "samples": "sum(samples) AS samples",
    "reporting": "max(reporting) AS reporting",
    "arrivals": "sum(arrivals) AS arrivals",
}
OCCUPANCY_FIELDS = ("occupied", "samples", "reporting")
TURNOVER_FIELDS = ("arrivals",)


def rollup_query(
    site: str,
    zone: str | None,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    *,
    step_ns: int = ROLLUP_NS,
    fields: Sequence[str] = tuple(ROLLUP_AGGREGATES),
) -> str:
    """Sums of a rollup per interval; rows without a zone tag are the whole site.

    Only the ``fields`` asked for are read: each is a column of its own in InfluxDB.
    """
    offset = bucket_offset(every_ns)
    group = f"time({every_ns}ns, {offset}ns)" if offset else f"time({every_ns}ns)"
    select = ", ".join(ROLLUP_AGGREGATES[f] for f in fields)
    zone_literal = influxql_string(zone or "")
    return (
        f'SELECT {select} FROM {ROLLUPS[step_ns]} WHERE "site" = {influxql_string(site)} '
        f'AND "zone" = {zone_literal} AND {time_condition(start_ns, end_ns)} '
        f"GROUP BY {group} fill(none)"
    )


def rollup_readings_query(site: str, start_ns: int, end_ns: int) -> str:
    return (
        f'SELECT readings FROM {ROLLUP_MEASUREMENT} WHERE "site" = {influxql_string(site)} '
        f"AND \"zone\" = '' AND {time_condition(start_ns, end_ns)}"
    )


def rollup_last_query(site: str, zone: str | None = None, *, step_ns: int = ROLLUP_NS) -> str:
    return (
        f'SELECT last(samples) FROM {ROLLUPS[step_ns]} WHERE "site" = {influxql_string(site)} '
        f'AND "zone" = {influxql_string(zone or "")}'
    )


def csv_page_query(scope: Scope, start_ns: int, end_ns: int, limit: int) -> str:
    """Raw readings in time order (all bays merged), one page."""
    return (
        f"SELECT occupied, bay FROM {BAY_STATUS} WHERE {scope.condition()} "
        f"AND {time_condition(start_ns, end_ns)} LIMIT {limit}"
    )


def bay_tags_query(site: str) -> str:
    """The bays InfluxDB holds for a site (the registry may not know all of them)."""
    return f'SHOW TAG VALUES FROM {BAY_STATUS} WITH KEY = "bay" WHERE "site" = {influxql_string(site)}'


def site_first_reading_query(site: str) -> str:
    return f'SELECT first(occupied) FROM {BAY_STATUS} WHERE "site" = {influxql_string(site)}'


def marker_query(site: str) -> str:
    """Every backfill record of a site (a handful of rows), plus the site's last reading of any source."""
    where = f'"site" = {influxql_string(site)}'
    return (
        f"SELECT start_ns, end_ns, readings, seed, scenario FROM {MARKER} WHERE {where}; "
        f"SELECT last(occupied) FROM {BAY_STATUS} WHERE {where}"
    )


# ---------------------------------------------------------------- current state and counts


def latest_states_query(site: str) -> str:
    """Each bay's last stored reading."""
    return f"SELECT last(occupied) FROM {BAY_STATUS} WHERE site = {influxql_string(site)} GROUP BY bay"


def count_query(site: str | None = None) -> str:
    where = f" WHERE site = {influxql_string(site)}" if site else ""
    return f"SELECT count(occupied) FROM {BAY_STATUS}{where}"


# ---------------------------------------------------------------- sensor fleet health


def _fleet_where(site: str, start_ns: int, end_ns: int | None = None) -> str:
    end = f" AND time < {end_ns}" if end_ns is not None else ""
    return f"site = {influxql_string(site)} AND time >= {start_ns}{end}"


def fleet_changes_query(site: str, start_ns: int) -> str:
    """Status changes per bay since ``start_ns`` (a change is a reading that differs from the one before)."""
    return (
        f"SELECT count(d) AS changes FROM (SELECT difference(occupied) AS d FROM {BAY_STATUS} "
        f"WHERE {_fleet_where(site, start_ns)} GROUP BY bay) WHERE d != 0 GROUP BY bay"
    )


def fleet_change_times_query(site: str, start_ns: int, end_ns: int) -> str:
    """Each status change per bay from ``start_ns`` to ``end_ns``, with its time (rows of ``d``)."""
    return (
        f"SELECT d FROM (SELECT difference(occupied) AS d FROM {BAY_STATUS} "
        f"WHERE {_fleet_where(site, start_ns, end_ns)} GROUP BY bay) WHERE d != 0 GROUP BY bay"
    )


def fleet_last_change_query(site: str, start_ns: int) -> str:
    return (
        f"SELECT last(d) AS d FROM (SELECT difference(occupied) AS d FROM {BAY_STATUS} "
        f"WHERE {_fleet_where(site, start_ns)} GROUP BY bay) WHERE d != 0 GROUP BY bay"
    )


def fleet_first_reading_query(site: str, start_ns: int) -> str:
    return (
        f"SELECT first(occupied) AS first FROM {BAY_STATUS} WHERE {_fleet_where(site, start_ns)} GROUP BY bay"
    )


def fleet_radio_query(site: str, start_ns: int) -> str:
    return (
        f"SELECT median(rssi) AS rssi, median(snr) AS snr, count(rssi) AS n FROM {SENSOR_HEALTH} "
        f"WHERE {_fleet_where(site, start_ns)} GROUP BY bay"
    )


def fleet_battery_query(site: str, start_ns: int, end_ns: int) -> str:
    """Daily means per bay over whole UTC days."""
    return (
        f"SELECT mean(battery_v) AS v, mean(battery_pct) AS pct FROM {SENSOR_HEALTH} "
        f"WHERE {_fleet_where(site, start_ns, end_ns)} GROUP BY time(1d), bay fill(none)"
    )


def fleet_reporting_query(site: str, start_ns: int, end_ns: int) -> str:
    """Bays with at least one reading per day, days ending at ``end_ns``."""
    group = f"time(1d, {end_ns % DAY_NS}ns)"
    return (
        f"SELECT count(n) AS bays FROM (SELECT count(occupied) AS n FROM {BAY_STATUS} "
        f"WHERE {_fleet_where(site, start_ns, end_ns)} GROUP BY {group}, bay) WHERE n > 0 "
        f"AND time >= {start_ns} AND time < {end_ns} GROUP BY {group}"
    )


def _bay_where(site: str, bay: str, start_ns: int, end_ns: int) -> str:
    return (
        f"site = {influxql_string(site)} AND bay = {influxql_string(bay)} "
        f"AND time >= {start_ns} AND time < {end_ns}"
    )


def bay_battery_series_query(site: str, bay: str, start_ns: int, end_ns: int) -> str:
    """One sensor's battery means per hour."""
    return (
        f"SELECT mean(battery_v) AS v, mean(battery_pct) AS pct FROM {SENSOR_HEALTH} "
        f"WHERE {_bay_where(site, bay, start_ns, end_ns)} GROUP BY time(1h) fill(none)"
    )


def bay_messages_series_query(site: str, bay: str, start_ns: int, end_ns: int) -> str:
    """How many status readings one sensor sent per hour (heartbeats included)."""
    return (
        f"SELECT count(occupied) AS n FROM {BAY_STATUS} "
        f"WHERE {_bay_where(site, bay, start_ns, end_ns)} GROUP BY time(1h) fill(none)"
    )
