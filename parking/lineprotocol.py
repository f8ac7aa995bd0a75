"""InfluxDB line protocol and InfluxQL literals, as pure functions."""

from __future__ import annotations

import math
from collections.abc import Mapping

from parking.events import BayReading

BAY_STATUS = "bay_status"
SENSOR_HEALTH = "sensor_health"

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\\": "\\\\"})


def escape_tag(value: str) -> str:
    """Tag keys and values escape commas, equals signs, spaces and backslashes."""
    if "\n" in value:
        raise ValueError("line protocol cannot carry a newline in a tag")
    return value.translate(_TAG_ESCAPES)


def escape_measurement(value: str) -> str:
    if "\n" in value:
        raise ValueError("line protocol cannot carry a newline in a measurement name")
    return value.translate(_MEASUREMENT_ESCAPES)


def format_field(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"line protocol cannot carry the float {value}")
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def point(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, bool | int | float | str],
    time_ns: int,
) -> str:
    if not fields:
        raise ValueError("a point needs at least one field")
    # Tags sorted by key is what InfluxDB would do itself; doing it here saves it the work.
    tag_part = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()))
    field_part = ",".join(f"{escape_tag(k)}={format_field(v)}" for k, v in fields.items())
    return f"{escape_measurement(measurement)}{tag_part} {field_part} {time_ns}"


def reading_lines(reading: BayReading) -> list[str]:
    """The points a reading becomes: occupancy (integer 0/1, so mean() is the rate) and health."""
    tags = {"site": reading.site, "bay": reading.bay}
    lines = []
    if reading.occupied is not None:
        lines.append(point(BAY_STATUS, tags, {"occupied": int(reading.occupied)}, reading.time_ns))
    health = reading.health.fields()
    if health:
        lines.append(point(SENSOR_HEALTH, tags, health, reading.time_ns))
    return lines


def influxql_string(value: str) -> str:
    """A single-quoted InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def influxql_identifier(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
