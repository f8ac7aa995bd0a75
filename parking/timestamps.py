"""Event times from sensors and network servers, to exact epoch nanoseconds."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from parking.events import datetime_to_ns

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))"
)
# Epoch numbers are told apart by size: seconds until 2286, milliseconds, then nanoseconds.
_MS_LIMIT = 10**11
_NS_LIMIT = 10**15


class TimestampError(ValueError):
    pass


def parse_rfc3339(value: str) -> int:
    """RFC 3339 / ISO 8601 with a zone, any number of fractional digits (kept to nanoseconds)."""
    match = _RFC3339.fullmatch(value.strip())
    if not match:
        raise TimestampError(f"timestamp {value[:64]!r} is not RFC 3339 (e.g. 2026-11-21T10:00:00.000Z)")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if not zulu and (int(off_h) > 23 or int(off_m) > 59):
        raise TimestampError(f"timestamp {value[:64]!r} has a zone offset beyond ±23:59")
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    try:
        return (
            _second_ns(year, month, day, hour, minute, second, None if zulu else sign + off_h + off_m) + nanos
        )
    except ValueError as exc:
        raise TimestampError(f"timestamp {value[:64]!r} is not a real date or time: {exc}") from exc
    except OverflowError as exc:  # an offset that pushes year 1 or 9999 past the calendar's end
        raise TimestampError(f"timestamp {value[:64]!r} is out of range") from exc


@lru_cache(maxsize=4096)
def _second_ns(
    year: str, month: str, day: str, hour: str, minute: str, second: str, offset: str | None
) -> int:
    """The epoch nanoseconds of one second; cached, since a stream of readings shares its seconds."""
    base = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    if offset is not None:
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        base = base - delta if offset[0] == "+" else base + delta
    return datetime_to_ns(base)


def parse_epoch(value: int | float) -> int:
    """Epoch seconds, milliseconds or nanoseconds, told apart by magnitude."""
    try:
        finite = not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an integer beyond float's range
        finite = False
    if not finite or value < 0:
        raise TimestampError(f"epoch timestamp {str(value)[:32]} is not a positive number")
    if value < _MS_LIMIT:
        return round(value * 1_000_000_000)
    if value < _NS_LIMIT:
        return round(value * 1_000_000)
    return int(value)


def parse_any(value: object) -> int:
    if isinstance(value, str):
        return parse_rfc3339(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_epoch(value)
    raise TimestampError(f"timestamp {value!r} must be an RFC 3339 string or epoch milliseconds")
