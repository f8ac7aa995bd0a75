"""``decode(topic, payload) -> readings | Rejection``: the pure heart of the ingester."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.lorawan import parse_chirpstack_uplink, parse_tts_uplink
from ingest.native import NATIVE_SOURCE, parse_native, split_native_topic
from ingest.rejections import DecodeError, Reason, Rejection
from parking import topics
from parking.events import BayReading
from parking.registry import Registry

# Timestamps before this are certainly a sensor without a clock (1970) or garbage.
EARLIEST_NS = 946_684_800 * 1_000_000_000  # 2000-01-01


def _first_level(topic_filter: str) -> str:
    return topic_filter.split("/", 1)[0] + "/"


# Which decoder a topic needs, by the first level of the filters parking/topics.py subscribes to.
_NATIVE = _first_level(topics.NATIVE_FILTER)
_TTS = tuple(_first_level(f) for f in topics.TTS_FILTERS)
_CHIRPSTACK = _first_level(topics.CHIRPSTACK_FILTER)


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    max_payload_bytes: int = 65_536
    max_future_ns: int = 300 * 1_000_000_000


def decode(
    topic: str, payload: bytes, registry: Registry, received_ns: int, limits: DecodeLimits = DecodeLimits()
) -> list[BayReading] | Rejection:
    """Readings of one MQTT message, or why it was refused. Never raises on any input."""
    try:
        if len(payload) > limits.max_payload_bytes:
            raise DecodeError(
                Reason.OVERSIZE,
                f"payload of {len(payload)} bytes exceeds the limit of {limits.max_payload_bytes}",
            )
        readings = _dispatch(topic, payload, registry, received_ns)
        for reading in readings:
            _check_time(reading.time_ns, received_ns, limits)
        return readings
    except DecodeError as exc:
        return Rejection(exc.reason, exc.detail)
    except Exception as exc:  # a decoder bug must not take the ingester down; keep the message instead
        return Rejection(Reason.BAD_SCHEMA, f"decoder failed on this payload: {type(exc).__name__}: {exc}")


def _dispatch(topic: str, payload: bytes, registry: Registry, received_ns: int) -> list[BayReading]:
    if topic.startswith(_NATIVE):
        site, bay = split_native_topic(topic)
        if registry.bay(site, bay) is None:
            known = "unknown site" if registry.site(site) is None else f"not in site {site!r}"
            raise DecodeError(Reason.UNKNOWN_BAY, f"bay {bay!r} of site {site!r} is {known}")
        status = parse_native(payload)
        # Only an absent ts means "now"; ts 0 is a sensor without a clock, refused by _check_time.
        time_ns = received_ns if status.time_ns is None else status.time_ns
        return [BayReading(site, bay, status.occupied, time_ns, status.health, NATIVE_SOURCE, status.dropped)]
    if topic.startswith(_TTS):
        return parse_tts_uplink(topic, payload, registry, received_ns)
    if topic.startswith(_CHIRPSTACK):
        return parse_chirpstack_uplink(topic, payload, registry, received_ns)
    raise DecodeError(Reason.BAD_TOPIC, f"no decoder for topic {topic!r}")


def _check_time(time_ns: int, received_ns: int, limits: DecodeLimits) -> None:
    if time_ns > received_ns + limits.max_future_ns:
        ahead = (time_ns - received_ns) / 1e9
        raise DecodeError(Reason.FUTURE_TIMESTAMP, f"event time is {ahead:.0f} s ahead of the receive time")
    if time_ns < EARLIEST_NS:
        raise DecodeError(Reason.BAD_TIMESTAMP, "event time is before the year 2000 (sensor clock not set?)")
