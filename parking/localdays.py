"""Days and weeks of a local calendar (e.g. Europe/Berlin) as intervals of UTC time.

A municipality counts a day from local midnight to local midnight: 23 hours in spring, 25 in
autumn. History answers built on hourly sums can be regrouped into such days, as long as the time
zone's midnights fall on whole UTC hours (true for every zone Parklotse is likely to meet; India's
+05:30 is refused with a clear message).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parking.history.sums import Bucket
from parking.history.windows import (
    DAY_NS,
    HOUR_NS,
    MAX_RANGE_NS,
    RAW_MAX_RANGE_NS,
    HistoryError,
    format_duration,
    parse_every,
    resolve_range,
)

_EPOCH = date(1970, 1, 1)
_FIRST_MONDAY = 4  # 1970-01-05: weeks start on Monday, as in the UTC grid (history.bucket_offset)
_NS = 1_000_000_000


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; HistoryError if there is none of that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HistoryError(f"tz={name!r} is not a known IANA time zone, e.g. Europe/Berlin or UTC") from exc


def _midnight_ns(day: date, zone: ZoneInfo) -> int:
    local = datetime(day.year, day.month, day.day, tzinfo=zone)
    return round(local.astimezone(UTC).timestamp()) * _NS


def day_boundaries(start_ns: int, end_ns: int, days: int, zone: ZoneInfo) -> list[int]:
    """Local midnights (as UTC ns) that cut ``[start, end)`` into intervals of ``days`` local days.

    The first is at or before ``start`` and the last at or after ``end``. Intervals are aligned like
    the UTC grid: day numbers since 1970-01-01 in multiples of ``days``, 7-day intervals from Monday.
    """
    if days < 1:
        raise HistoryError(f"intervals of local days need at least one day, got {days}")
    offset = _FIRST_MONDAY % days if days % 7 == 0 else 0
    first = datetime.fromtimestamp(start_ns // _NS, tz=zone).date()
    number = (first - _EPOCH).days
    day = _EPOCH + timedelta(days=number - (number - offset) % days)
    bounds = [_midnight_ns(day, zone)]
    while bounds[-1] < end_ns:
        day += timedelta(days=days)
        bounds.append(_midnight_ns(day, zone))
    for bound in bounds:
        if bound % HOUR_NS:
            raise HistoryError(
                f"tz={zone.key} starts its days at a fraction of a UTC hour; local days are only "
                "available for time zones whose offset from UTC is whole hours"
            )
    return bounds


def regroup(hourly: Mapping[int, Bucket], bounds: list[int]) -> dict[int, Bucket]:
    """Hourly sums added up into the intervals between ``bounds`` (keyed by interval start)."""
    grouped: dict[int, Bucket] = {}
    for hour, bucket in sorted(hourly.items()):
        index = bisect_right(bounds, hour) - 1
        if 0 <= index < len(bounds) - 1:
            start = bounds[index]
            before = grouped.get(start)
            grouped[start] = (
                Bucket(start, bucket.occupied, bucket.samples, bucket.reporting, bucket.arrivals)
                if before is None
                else before + bucket
            )
    return grouped


def local_days(
    start_ns: int | None,
    end_ns: int | None,
    every: str | None,
    now_ns: int,
    zone: ZoneInfo,
    *,
    default_span_ns: int,
    source: str = "auto",
) -> tuple[list[int], int]:
    """The interval boundaries of a request in local days, and the interval length in days.

    ``every`` must be whole days (default 1d). Raises HistoryError naming the broken rule.
    """
    start, end = resolve_range(
        start_ns, end_ns, now_ns, default_span_ns=default_span_ns, max_span_ns=MAX_RANGE_NS
    )
    every_ns = parse_every(every or "1d")
    if every_ns % DAY_NS:
        raise HistoryError(
            f"tz={zone.key} sets where local days begin, so every must be whole days (1d to 7d), got "
            f"{format_duration(every_ns)}; without tz, intervals are aligned to UTC"
        )
    bounds = day_boundaries(start, end, every_ns // DAY_NS, zone)
    if source == "raw" and bounds[-1] - bounds[0] > RAW_MAX_RANGE_NS:
        raise HistoryError("source=raw reads raw readings and is limited to ranges of 7 days")
    return bounds, every_ns // DAY_NS
