"""Simulated history in InfluxDB: how backfilled readings are marked, and the record of each backfill.

``parklotse demo`` writes weeks of the offline model's readings for each simulated site before the
page opens (``parklotse.backfill``). They are ordinary ``bay_status`` points, so every history query
reads them, with one extra tag, ``source=sim``: a query grouping by ``bay`` merges a bay's tagged
and untagged series in time order (checked against InfluxDB in the integration tests), and the
simulated history can be told apart or dropped (``DROP SERIES FROM bay_status WHERE source = 'sim'``).

Each backfill run also leaves one point in ``simulated_history`` (tag ``site``; fields ``start_ns``,
``end_ns``, ``readings``, ``seed``, ``scenario``): the cheap marker a second start checks, and what
the API reads to find the simulated days it can show. Pure functions only; no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from parking.lineprotocol import BAY_STATUS, escape_tag, point
from parking.store import Series

SOURCE_TAG = "source"
SIMULATED = "sim"
MARKER = "simulated_history"
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BackfillRecord:
    """One backfill run of a site: simulated readings cover ``[start_ns, end_ns)``."""

    site: str
    start_ns: int
    end_ns: int
    readings: int
    seed: int
    scenario: str


def reading_prefix(site: str, bay: str) -> str:
    """A simulated reading's line up to its value: ``bay_status`` like the ingester's, tagged ``source=sim``.

    Tags in key order (as InfluxDB sorts them); built once per bay, since a backfill writes
    hundreds of thousands of readings.
    """
    return f"{BAY_STATUS},bay={escape_tag(bay)},site={escape_tag(site)},{SOURCE_TAG}={SIMULATED} occupied="


def reading_line(prefix: str, occupied: bool, time_ns: int) -> str:
    return f"{prefix}{1 if occupied else 0}i {time_ns}"


def marker_line(record: BackfillRecord) -> str:
    fields: dict[str, int | str] = {
        "start_ns": record.start_ns,
        "end_ns": record.end_ns,
        "readings": record.readings,
        "seed": record.seed,
        "scenario": record.scenario,
    }
    return point(MARKER, {"site": record.site}, fields, record.end_ns)


def parse_markers(series: Iterable[Series], site: str) -> tuple[list[BackfillRecord], int | None]:
    """The records (oldest first) and the time of the site's last reading, from ``marker_query``."""
    records: list[BackfillRecord] = []
    last_ns: int | None = None
    for s in series:
        if s.name == MARKER:
            for row in s.rows():
                records.append(
                    BackfillRecord(
                        site,
                        int(row["start_ns"]),
                        int(row["end_ns"]),
                        int(row["readings"]),
                        int(row["seed"]),
                        str(row["scenario"]),
                    )
                )
        elif s.values:
            last_ns = int(s.values[0][0])
    records.sort(key=lambda r: r.start_ns)
    return records, last_ns


def covered_until(records: Iterable[BackfillRecord], last_reading_ns: int | None) -> int | None:
    """Up to when the site has history already: its last reading or the end of its last backfill."""
    ends = [r.end_ns for r in records]
    if last_reading_ns is not None:
        ends.append(last_reading_ns + 1)
    return max(ends) if ends else None


def local_midnight_ns(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).timestamp()) * _NS


def local_date(time_ns: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(time_ns // _NS, tz=zone).date()


def local_hours(time_ns: int, zone: ZoneInfo) -> float:
    """The local clock time of an instant in hours (10:15 is 10.25), for plotting a day."""
    moment = datetime.fromtimestamp(time_ns // _NS, tz=zone)
    return moment.hour + moment.minute / 60 + moment.second / 3600


def spans(records: Iterable[BackfillRecord]) -> list[tuple[int, int]]:
    """The records' ranges, those that touch merged (a top-up continues where the last run ended)."""
    merged: list[tuple[int, int]] = []
    for r in sorted(records, key=lambda r: r.start_ns):
        if merged and r.start_ns <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], r.end_ns))
        else:
            merged.append((r.start_ns, r.end_ns))
    return merged


def reference_day(
    records: Iterable[BackfillRecord], wanted: date, zone: ZoneInfo, kind: Callable[[date], str]
) -> date | None:
    """The latest whole local day of simulated history of the same kind as ``wanted`` (weekday,
    Saturday, Sunday), else the latest whole day of any kind; None without a whole day.
    """
    fallback: date | None = None
    best: date | None = None
    for start, end in spans(records):
        day = local_date(end, zone)
        while True:
            a, b = local_midnight_ns(day, zone), local_midnight_ns(day + timedelta(days=1), zone)
            if a < start:
                break
            if b <= end:
                if fallback is None or day > fallback:
                    fallback = day
                if kind(day) == kind(wanted) and (best is None or day > best):
                    best = day
                    break
            day -= timedelta(days=1)
    return best or fallback
