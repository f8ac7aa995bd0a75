"""What a sensor tells us about one bay, in one normalized shape for every source."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache

NAME_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_NAME_RE = re.compile(NAME_PATTERN)


def is_valid_name(value: str) -> bool:
    """Site and bay identifiers are restricted so they are safe as MQTT topic levels and InfluxDB tags."""
    return _NAME_RE.fullmatch(value) is not None


class BayStatus(StrEnum):
    """Status values follow FIWARE ParkingSpot."""

    FREE = "free"
    OCCUPIED = "occupied"
    CLOSED = "closed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """Radio and battery figures that arrive beside an occupancy reading (all optional)."""

    battery_v: float | None = None
    battery_pct: float | None = None
    rssi: float | None = None
    snr: float | None = None
    temperature_c: float | None = None

    def is_empty(self) -> bool:
        return all(
            v is None for v in (self.battery_v, self.battery_pct, self.rssi, self.snr, self.temperature_c)
        )

    def fields(self) -> dict[str, float]:
        values = {
            "battery_v": self.battery_v,
            "battery_pct": self.battery_pct,
            "rssi": self.rssi,
            "snr": self.snr,
            "temperature_c": self.temperature_c,
        }
        return {k: float(v) for k, v in values.items() if v is not None}


@dataclass(frozen=True, slots=True)
class DroppedField:
    """A health figure left out of a reading because it was implausible or unreadable.

    ``codec`` is the decoder that read it, ``field`` a ``SensorHealth`` name, ``reason`` a
    rejection reason slug (``out_of_range``, ``bad_schema``) and ``detail`` the value and where.
    """

    codec: str
    field: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class BayReading:
    """One observation of one bay.

    ``occupied`` is None for frames that carry only sensor health (a heartbeat without status,
    a parameter frame). ``time_ns`` is the sensor's or network server's event time in nanoseconds
    since the epoch, so two real events never collide the way second-truncated timestamps do.
    ``dropped`` lists the health figures that came with it but were not fit to keep.
    """

    site: str
    bay: str
    occupied: bool | None
    time_ns: int
    health: SensorHealth = SensorHealth()
    source: str = "native"
    dropped: tuple[DroppedField, ...] = ()

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.time_ns / 1e9, tz=UTC)

    @property
    def status(self) -> BayStatus:
        if self.occupied is None:
            return BayStatus.UNKNOWN
        return BayStatus.OCCUPIED if self.occupied else BayStatus.FREE


def ns_to_rfc3339(time_ns: int) -> str:
    """RFC 3339 UTC with millisecond precision, the form used on every outgoing topic and API field."""
    seconds, rest = divmod(time_ns, 1_000_000_000)
    return f"{_second_stamp(seconds)}.{rest // 1_000_000:03d}Z"


@lru_cache(maxsize=4096)
def _second_stamp(seconds: int) -> str:
    # Readings arrive in bursts within the same seconds; formatting each second once is enough.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def datetime_to_ns(value: datetime) -> int:
    """Exact conversion (no float rounding) of an aware datetime to epoch nanoseconds."""
    if value.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
