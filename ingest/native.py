"""The native topic ``parking/{site}/{bay}/status`` used by the simulator and simple sensors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ingest.health import HEALTH_RANGES, HealthCheck
from ingest.rejections import DecodeError, Reason
from parking.events import DroppedField, SensorHealth, is_valid_name
from parking.timestamps import TimestampError, parse_any

NATIVE_SOURCE = "native"
KNOWN_KEYS = frozenset({"occupied", "ts", *HEALTH_RANGES})
_HEALTH_KEYS = frozenset(HEALTH_RANGES)
_NO_HEALTH = SensorHealth()


@dataclass(frozen=True, slots=True)
class NativeStatus:
    """A native status payload: ``time_ns`` is None when it carries no ``ts``."""

    occupied: bool
    time_ns: int | None
    health: SensorHealth
    dropped: tuple[DroppedField, ...] = ()


def parse_json_object(payload: bytes) -> dict[str, Any]:
    try:
        # What json.loads(bytes) would do for an object in UTF-8 (its first two bytes tell the
        # encoding), without its detection on every message.
        if payload[:1] == b"{" and payload[1:2] != b"\x00":
            document = json.loads(payload.decode("utf-8", "surrogatepass"))
        else:
            document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(Reason.MALFORMED_JSON, f"payload is not JSON: {exc}") from exc
    except ValueError as exc:  # e.g. an integer literal longer than Python's 4,300-digit limit
        raise DecodeError(Reason.MALFORMED_JSON, f"payload is not usable JSON: {exc}") from exc
    except RecursionError as exc:
        raise DecodeError(Reason.MALFORMED_JSON, "payload JSON is nested too deeply") from exc
    if not isinstance(document, dict):
        raise DecodeError(Reason.BAD_SCHEMA, f"payload must be a JSON object, got {type(document).__name__}")
    return document


def split_native_topic(topic: str) -> tuple[str, str]:
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "parking" or parts[3] != "status":
        raise DecodeError(Reason.BAD_TOPIC, f"topic {topic!r} is not parking/{{site}}/{{bay}}/status")
    site, bay = parts[1], parts[2]
    if not (is_valid_name(site) and is_valid_name(bay)):
        raise DecodeError(Reason.BAD_TOPIC, f"site and bay in {topic!r} must match [A-Za-z0-9_-]{{1,64}}")
    return site, bay


def parse_occupied(value: object) -> bool:
    # Simple sensors send 0/1; both forms mean the same.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise DecodeError(Reason.BAD_SCHEMA, f"'occupied' must be true or false, got {value!r}")


def parse_health(document: dict[str, Any], check: HealthCheck) -> SensorHealth:
    values = {key: check.value(key, document.get(key), repr(key)) for key in HEALTH_RANGES}
    return SensorHealth(**{key: value for key, value in values.items() if value is not None})


def parse_native(payload: bytes) -> NativeStatus:
    """A native status payload; a health figure that is not fit to keep is dropped, not refused."""
    document = parse_json_object(payload)
    if "occupied" not in document:
        raise DecodeError(Reason.BAD_SCHEMA, "payload has no 'occupied' field")
    occupied = parse_occupied(document["occupied"])
    time_ns = None
    ts = document.get("ts")
    if ts is not None:
        try:
            time_ns = parse_any(ts)
        except TimestampError as exc:
            raise DecodeError(Reason.BAD_TIMESTAMP, str(exc)) from exc
    if _HEALTH_KEYS.isdisjoint(document):  # the common shape: occupancy and time only
        return NativeStatus(occupied, time_ns, _NO_HEALTH)
    check = HealthCheck(NATIVE_SOURCE)
    health = parse_health(document, check)
    return NativeStatus(occupied, time_ns, health, tuple(check.dropped))
