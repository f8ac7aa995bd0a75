"""Each history answer, put together from the planner and the readers (dicts shaped as ``models``).

The route handlers in ``api/routes/history.py`` only turn parameters into these calls. Errors:
``HistoryError`` (a request out of bounds, 422), ``RollupNotReady`` (503), the store's errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from parking.events import ns_to_rfc3339
from parking.history.influxql import OCCUPANCY_FIELDS, TURNOVER_FIELDS, Scope, marker_query
from parking.history.planner import interval_buckets, intervals
from parking.history.readers import read_timeline, read_visits
from parking.history.rollups import RollupKeeper
from parking.history.sums import HEATMAP_TZ, WEEKDAYS, heatmap_values, occupancy_points, turnover_points
from parking.history.visits import DWELL_LOOKAHEAD_NS, dwell_summary, status_name, timeline_changes
from parking.history.windows import (
    DAY_NS,
    DWELL_MAX_RANGE_NS,
    HOUR_NS,
    MAX_RANGE_NS,
    WEEK_NS,
    HistoryError,
    Window,
    floor_to,
    parse_every,
    resolve_range,
)
from parking.simulated import (
    local_date,
    local_hours,
    local_midnight_ns,
    parse_markers,
    reference_day,
)
from parking.simulator_messages import SimulatorStatus
from parking.store import InfluxStore

Asked = tuple[int | None, int | None, str | None]  # start, end, every as the request gave them


async def occupancy(
    store: InfluxStore,
    keeper: RollupKeeper,
    scope: Scope,
    zone: str | None,
    asked: Asked,
    tz: str,
    source: str,
) -> dict[str, Any]:
    found = await intervals(
        store, keeper, scope, zone, asked, tz, source, OCCUPANCY_FIELDS, default_span_ns=DAY_NS
    )
    return {**found.head(scope.site, zone), "points": occupancy_points(found.starts, found.buckets)}


async def turnover(
    store: InfluxStore,
    keeper: RollupKeeper,
    scope: Scope,
    zone: str | None,
    asked: Asked,
    tz: str,
    source: str,
) -> dict[str, Any]:
    found = await intervals(
        store, keeper, scope, zone, asked, tz, source, TURNOVER_FIELDS, default_span_ns=WEEK_NS
    )
    bays = len(scope.known)
    points = turnover_points(found.starts, found.buckets, bays)
    return {
        **found.head(scope.site, zone),
        "bays": bays,
        "total_arrivals": sum(p["arrivals"] for p in points),
        "points": points,
    }


async def heatmap(
    store: InfluxStore, keeper: RollupKeeper, scope: Scope, zone: str | None, weeks: int, end: int | None
) -> dict[str, Any]:
    """The ``weeks`` weeks before the last full hour (or before ``end``, at most now)."""
    now = time.time_ns()
    end_ns = floor_to(now if end is None else min(end, now), HOUR_NS)
    if end_ns - weeks * WEEK_NS < 0:
        raise HistoryError(f"end={ns_to_rfc3339(end_ns)} leaves no {weeks} weeks after 1970")
    window = Window(end_ns - weeks * WEEK_NS, end_ns, HOUR_NS)
    buckets, used = await interval_buckets(
        store, keeper, scope, zone, window, end_ns, "auto", OCCUPANCY_FIELDS
    )
    return {
        "site": scope.site,
        "zone": zone,
        "weeks": weeks,
        "tz": HEATMAP_TZ,
        "start": ns_to_rfc3339(window.start_ns),
        "end": ns_to_rfc3339(window.end_ns),
        "source": used,
        "weekdays": list(WEEKDAYS),
        "hours": list(range(24)),
        "values": heatmap_values(buckets.values()),
    }


def _status_clock(status: SimulatorStatus | None) -> datetime | None:
    """The running simulator's clock (None without a simulator or with an unreadable clock)."""
    if status is None:
        return None
    try:
        return datetime.fromisoformat(status.sim_time)
    except ValueError:
        return None


async def simulated_day(
    store: InfluxStore,
    keeper: RollupKeeper,
    scope: Scope,
    status: SimulatorStatus | None,
    every: str,
    day_type: Callable[[date], str],
) -> dict[str, Any]:
    """The simulator's clock and the latest whole simulated day of today's kind (``day_type``)."""
    site = scope.site
    zone = ZoneInfo(HEATMAP_TZ)
    records, _ = parse_markers(await store.query(marker_query(site), epoch="ns"), site)
    clock = _status_clock(status)
    simulated = bool(records) or status is not None
    head: dict[str, Any] = {
        "site": site,
        "simulated": simulated,
        "timeline": "simulated" if simulated else "wall",
        "tz": HEATMAP_TZ,
        "every": every,
        "sim_time": clock.isoformat() if clock else None,
        "day_label": status.day_label if status is not None else None,
        "model_estimate": simulated,
    }
    if not simulated:
        return {**head, "day_type": None, "reference": None, "backfill": None, "heatmap_end": None}
    wanted = clock.date() if clock else local_date(time.time_ns(), zone)
    day = reference_day(records, wanted, zone, day_type)
    reference = None
    if day is not None:
        a, b = local_midnight_ns(day, zone), local_midnight_ns(day + timedelta(days=1), zone)
        window = Window(a, b, parse_every(every))
        buckets, used = await interval_buckets(
            store, keeper, scope, None, window, b, "auto", OCCUPANCY_FIELDS
        )
        starts = window.starts()
        points = [
            {**p, "hour": local_hours(t, zone)}
            for t, p in zip(starts, occupancy_points(starts, buckets), strict=True)
        ]
        reference = {
            "date": day.isoformat(),
            "day_type": day_type(day),
            "start": ns_to_rfc3339(a),
            "end": ns_to_rfc3339(b),
            "source": used,
            "points": points,
        }
    latest = records[-1] if records else None
    return {
        **head,
        "day_type": day_type(wanted),
        "reference": reference,
        "backfill": None
        if latest is None
        else {
            "start": ns_to_rfc3339(latest.start_ns),
            "end": ns_to_rfc3339(latest.end_ns),
            "readings": latest.readings,
            "scenario": latest.scenario,
            "seed": latest.seed,
        },
        "heatmap_end": ns_to_rfc3339(floor_to(latest.end_ns, HOUR_NS)) if latest else None,
    }


async def timeline(
    store: InfluxStore, site: str, bay: str, zone: str, start: int | None, end: int | None, limit: int
) -> dict[str, Any]:
    """A bay's changes in a range (default the last day), its status at start, paged by ``limit``."""
    a, b = resolve_range(start, end, time.time_ns(), default_span_ns=DAY_NS, max_span_ns=MAX_RANGE_NS)
    seed, first, diffs = await read_timeline(store, site, bay, a, b, limit + 1)
    changes, next_ns = timeline_changes(seed, first, diffs, limit)
    return {
        "site": site,
        "bay": bay,
        "zone": zone,
        "start": ns_to_rfc3339(a),
        "end": ns_to_rfc3339(b),
        "initial": {
            "status": status_name(seed[1] if seed else None),
            "since": ns_to_rfc3339(seed[0]) if seed else None,
        },
        "changes": changes,
        "truncated": next_ns is not None,
        "next": ns_to_rfc3339(next_ns) if next_ns is not None else None,
    }


async def dwell(
    store: InfluxStore, scope: Scope, zone: str | None, start: int | None, end: int | None
) -> dict[str, Any]:
    """Visits arriving in the range (default the last 7 days, at most 31), departures up to a day after."""
    now = time.time_ns()
    a, b = resolve_range(start, end, now, default_span_ns=WEEK_NS, max_span_ns=DWELL_MAX_RANGE_NS)
    tracker = await read_visits(store, scope, a, b, min(b + DWELL_LOOKAHEAD_NS, max(now, b)))
    return {
        "site": scope.site,
        "zone": zone,
        "start": ns_to_rfc3339(a),
        "end": ns_to_rfc3339(b),
        **dwell_summary(tracker.durations_ns, tracker.open_visits),
    }


def export_range(start: int | None, end: int | None) -> tuple[int, int]:
    """The CSV export's range: default the last 24 hours, at most 400 days."""
    return resolve_range(start, end, time.time_ns(), default_span_ns=DAY_NS, max_span_ns=MAX_RANGE_NS)


async def rebuild(keeper: RollupKeeper, site: str, start: int | None, end: int | None) -> dict[str, Any]:
    """Recompute the rollups of a range (default: all history up to now)."""
    if start is not None and end is not None and end <= start:
        raise HistoryError(f"end ({ns_to_rfc3339(end)}) must be after start ({ns_to_rfc3339(start)})")
    begin, until, hours = await keeper.rebuild(site, start, end)
    watermark = keeper.watermark(site)
    return {
        "site": site,
        "start": ns_to_rfc3339(begin) if begin is not None else None,
        "end": ns_to_rfc3339(until) if begin is not None else None,
        "hours": hours,
        "watermark": ns_to_rfc3339(watermark) if watermark is not None else None,
    }
