"""The native topic parking/{site}/{bay}/status: what is accepted and why the rest is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.decode import DecodeLimits, decode
from ingest.rejections import Reason, Rejection
from parking.registry import Registry, load_registry
from parking.settings import DEFAULT_SITES_DIR
from parking.timestamps import parse_rfc3339

NOW = 1_795_255_200_000_000_000  # 2026-11-21T10:00:00Z


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(DEFAULT_SITES_DIR)


def test_a_reading_keeps_nanoseconds_of_its_timestamp(registry: Registry) -> None:
    payload = b'{"occupied": true, "ts": "2026-11-21T09:59:59.123456789Z", "battery_v": 3.61, "rssi": -95}'
    [reading] = decode("parking/showroom/A01/status", payload, registry, NOW)  # type: ignore[misc]
    assert reading.occupied is True and reading.time_ns == NOW - 1_000_000_000 + 123_456_789
    assert reading.health.battery_v == 3.61 and reading.health.rssi == -95


def test_epoch_milliseconds_and_zero_or_one_are_accepted(registry: Registry) -> None:
    [reading] = decode("parking/showroom/A01/status", b'{"occupied": 0, "ts": 1795255199500}', registry, NOW)  # type: ignore[misc]
    assert reading.occupied is False and reading.time_ns == NOW - 500_000_000


def test_without_a_timestamp_the_receive_time_is_used(registry: Registry) -> None:
    [reading] = decode("parking/showroom/A01/status", b'{"occupied": true}', registry, NOW)  # type: ignore[misc]
    assert reading.time_ns == NOW


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "detail"),
    [
        ("parking/showroom/Z99/status", b'{"occupied": true}', Reason.UNKNOWN_BAY, "'Z99'"),
        ("parking/nowhere/A01/status", b'{"occupied": true}', Reason.UNKNOWN_BAY, "unknown site"),
        ("parking/showroom/A01/status", b"{not json", Reason.MALFORMED_JSON, "not JSON"),
        ("parking/showroom/A01/status", b"[1, 2]", Reason.BAD_SCHEMA, "JSON object"),
        ("parking/showroom/A01/status", b'{"occupied": "yes"}', Reason.BAD_SCHEMA, "'occupied'"),
        ("parking/showroom/A01/status", b'{"free": true}', Reason.BAD_SCHEMA, "no 'occupied'"),
        (
            "parking/showroom/A01/status",
            b'{"occupied": true, "ts": "yesterday"}',
            Reason.BAD_TIMESTAMP,
            "RFC 3339",
        ),
        (
            "parking/showroom/A01/status",
            b'{"occupied": true, "ts": "2027-01-01T00:00:00Z"}',
            Reason.FUTURE_TIMESTAMP,
            "ahead",
        ),
        ("parking/showroom/A01/status", b'{"occupied": true, "ts": 0}', Reason.BAD_TIMESTAMP, "2000"),
        (
            "parking/showroom/A01/status",
            b'{"occupied": true, "ts": "1970-01-01T00:00:00Z"}',
            Reason.BAD_TIMESTAMP,
            "before the year 2000",
        ),
        (
            "parking/showroom/A01/status",
            b'{"occupied": true, "ts": "9999-12-31T23:59:59-23:59"}',
            Reason.BAD_TIMESTAMP,
            "out of range",
        ),
        (
            "parking/showroom/A01/status",
            b'{"occupied": true, "ts": "0001-01-01T00:00:00+00:01"}',
            Reason.BAD_TIMESTAMP,
            "out of range",
        ),
        (
            "parking/showroom/A01/status",
            b'{"occupied": true, "ts": "2026-11-21T10:00:00+24:00"}',
            Reason.BAD_TIMESTAMP,
            "offset",
        ),
        (
            "parking/showroom/A01/status",
            b'{"occupied": true, "ts": 1' + b"0" * 400 + b"}",
            Reason.BAD_TIMESTAMP,
            "epoch",
        ),
        ("parking/showroom/A01/status", b"\xff\xfe", Reason.MALFORMED_JSON, "not JSON"),
        ("parking/a/b/c/status", b'{"occupied": true}', Reason.BAD_TOPIC, "parking/{site}/{bay}/status"),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    registry: Registry, topic: str, payload: bytes, reason: Reason, detail: str
) -> None:
    result = decode(topic, payload, registry, NOW)
    assert isinstance(result, Rejection)
    assert result.reason is reason and detail in result.detail


def test_an_implausible_health_figure_is_dropped_and_the_occupancy_stored(registry: Registry) -> None:
    payload = b'{"occupied": true, "battery_v": 99, "rssi": -80}'
    [reading] = decode("parking/showroom/A01/status", payload, registry, NOW)  # type: ignore[misc]
    assert (reading.occupied, reading.health.battery_v, reading.health.rssi) == (True, None, -80.0)
    [dropped] = reading.dropped
    assert (dropped.codec, dropped.field, dropped.reason) == ("native", "battery_v", "out_of_range")
    assert dropped.detail == "'battery_v' = 99 is outside 0..20"


@pytest.mark.parametrize("value", ['"3.6"', "true", "[3.6]", "NaN", "1e999"])
def test_a_health_figure_that_is_not_a_finite_number_is_dropped_and_the_occupancy_stored(
    registry: Registry, value: str
) -> None:
    payload = b'{"occupied": false, "snr": ' + value.encode() + b"}"
    [reading] = decode("parking/showroom/A01/status", payload, registry, NOW)  # type: ignore[misc]
    assert (reading.occupied, reading.health.snr) == (False, None)
    assert [(d.field, d.reason) for d in reading.dropped] in (
        [("snr", "bad_schema")],
        [("snr", "out_of_range")],
    )


def test_oversize_payloads_are_refused_before_parsing(registry: Registry) -> None:
    payload = json.dumps({"occupied": True, "pad": "x" * 1000}).encode()
    result = decode(
        "parking/showroom/A01/status", payload, registry, NOW, DecodeLimits(max_payload_bytes=512)
    )
    assert isinstance(result, Rejection) and result.reason is Reason.OVERSIZE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T10:00:00Z", NOW),
        ("2026-11-21T11:00:00+01:00", NOW),
        ("2026-11-21T10:00:00.5Z", NOW + 500_000_000),
        ("2026-11-21T10:00:00.123456789123Z", NOW + 123_456_789),
    ],
)
def test_rfc3339_is_parsed_exactly(text: str, expected: int) -> None:
    assert parse_rfc3339(text) == expected


def test_the_shipped_sites_are_found(registry: Registry) -> None:
    assert Path(DEFAULT_SITES_DIR).is_dir() and "showroom" in registry.sites
