"""Uplinks from LoRaWAN network servers (The Things Stack v3, ChirpStack v4 and v3) → BayReadings.

Pure functions of (topic, payload, registry, receive time). The device is looked up in the site
registry; its FRMPayload is decoded with the bay's byte codec, or, for a device without one,
the network server's own decoded ``occupied`` is used. The event time is the envelope's own
(kept to the nanosecond); the receive time only stands in when the envelope gives none. Radio
figures (RSSI, SNR) are health figures: one that is unreadable or implausible is dropped
(``BayReading.dropped``), never a reason to refuse the uplink.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ingest.codecs import CODECS, CodecResult
from ingest.health import HealthCheck, shown
from ingest.native import parse_json_object
from ingest.rejections import DecodeError, Reason
from parking.events import BayReading, DroppedField
from parking.registry import DeviceBinding, Registry
from parking.timestamps import TimestampError, parse_rfc3339

TTS_SOURCE = "tts"
CHIRPSTACK_SOURCE = "chirpstack"

# The application part is "{application}@{tenant}", or just "{application}" on TTS Open Source.
_TTS_TOPIC = re.compile(r"v3/[^/]+/devices/(?P<device>[^/]+)/(?P<event>.+)")
_CHIRPSTACK_TOPIC = re.compile(r"application/[^/]+/device/(?P<dev_eui>[^/]+)/event/(?P<event>.+)")
_HEX_EUI = re.compile(r"[0-9A-Fa-f]{16}")
_MAX_F_PORT = 255


@dataclass(frozen=True, slots=True)
class _Uplink:
    """The parts of an uplink that every network server has, still undecoded."""

    f_port: int | None
    data: object  # base64 text, decoded only when the device has a byte codec
    data_field: str
    decoded: Mapping[str, Any] | None  # what the network server's own payload formatter made of it
    decoded_field: str
    time_ns: int | None
    rssi: float | None
    snr: float | None
    radio_dropped: tuple[DroppedField, ...] = ()


# --- entry points --------------------------------------------------------------------------------


def parse_tts_uplink(topic: str, payload: bytes, registry: Registry, received_ns: int) -> list[BayReading]:
    """An uplink on ``v3/{application}[@{tenant}]/devices/{device}/up``."""
    device_id = _tts_topic_device(topic)
    document = parse_json_object(payload)
    ids = _optional_object(document.get("end_device_ids"), "end_device_ids") or {}
    binding = _tts_binding(registry, device_id, ids)
    uplink = _tts_uplink(document)
    return [_reading(binding, uplink, received_ns, TTS_SOURCE)]


def parse_chirpstack_uplink(
    topic: str, payload: bytes, registry: Registry, received_ns: int
) -> list[BayReading]:
    """An uplink on ``application/{application}/device/{dev_eui}/event/up`` (ChirpStack v4 or v3)."""
    topic_eui = _chirpstack_topic_dev_eui(topic)
    document = parse_json_object(payload)
    if "deviceInfo" in document:
        body_eui, uplink = _chirpstack_v4(document)
    elif "devEUI" in document or "applicationID" in document:
        body_eui, uplink = _chirpstack_v3(document)
    else:
        raise DecodeError(
            Reason.BAD_SCHEMA, "payload has neither deviceInfo (ChirpStack v4) nor devEUI (ChirpStack v3)"
        )
    if body_eui is not None and body_eui != topic_eui:
        raise DecodeError(
            Reason.BAD_SCHEMA, f"topic names device {topic_eui!r} but the payload names device {body_eui!r}"
        )
    binding = registry.by_dev_eui(topic_eui)
    if binding is None:
        raise DecodeError(Reason.UNKNOWN_DEVICE, f"dev_eui {topic_eui!r} is not bound to a bay in any site")
    return [_reading(binding, uplink, received_ns, CHIRPSTACK_SOURCE)]


# --- common to every network server -----------------------------------------------------------------


def _reading(binding: DeviceBinding, uplink: _Uplink, received_ns: int, source: str) -> BayReading:
    result = _occupancy(binding, uplink)
    health = replace(result.health, rssi=uplink.rssi, snr=uplink.snr)
    time_ns = received_ns if uplink.time_ns is None else uplink.time_ns
    dropped = result.dropped + uplink.radio_dropped
    return BayReading(binding.bay.site, binding.bay.id, result.occupied, time_ns, health, source, dropped)


def _occupancy(binding: DeviceBinding, uplink: _Uplink) -> CodecResult:
    if binding.codec is None:
        return CodecResult(_decoded_occupied(uplink.decoded, uplink.decoded_field))
    codec = CODECS.get(binding.codec)
    if codec is None:
        raise DecodeError(
            Reason.NO_DECODER, f"codec {binding.codec!r} of bay {binding.bay.id!r} is not implemented"
        )
    # FPort 0 (which proto3 JSON leaves out) carries MAC commands only, and an absent payload is an
    # empty one: neither says anything about the bay.
    if not uplink.f_port:
        return CodecResult(None)
    data = _base64(uplink.data, uplink.data_field)
    if not data:
        return CodecResult(None)
    result = codec(uplink.f_port, data, binding.codec_options)
    if not result.dropped:
        return result
    # The frame beside each dropped figure, so it can be checked against the vendor's decoder.
    where = f" (fPort {uplink.f_port}, frame {data.hex(' ')})"
    return replace(result, dropped=tuple(replace(d, detail=d.detail + where) for d in result.dropped))


def _decoded_occupied(decoded: Mapping[str, Any] | None, field: str) -> bool | None:
    if decoded is None or decoded.get("occupied") is None:
        return None
    value = decoded["occupied"]
    # Simple payload formatters send 0/1, as simple sensors do on the native topic.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise DecodeError(Reason.BAD_SCHEMA, f"{field}.occupied must be true or false, got {shown(value)}")


def _base64(value: object, field: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise DecodeError(Reason.BAD_SCHEMA, f"{field} must be a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(Reason.BAD_BASE64, f"{field} {shown(value)} is not base64: {exc}") from exc


def _optional_object(value: object, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DecodeError(Reason.BAD_SCHEMA, f"{field} must be an object, got {type(value).__name__}")
    return value


def _optional_str(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DecodeError(Reason.BAD_SCHEMA, f"{field} must be a string, got {type(value).__name__}")
    return value


def _f_port(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_F_PORT:
        raise DecodeError(
            Reason.BAD_SCHEMA, f"{field} must be an integer 0..{_MAX_F_PORT}, got {shown(value)}"
        )
    return value


def _entries(value: object, field: str) -> list[dict[str, Any]]:
    """Per-gateway metadata: a list of objects, absent when no gateway reported any."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(Reason.BAD_SCHEMA, f"{field} must be a list, got {type(value).__name__}")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise DecodeError(
                Reason.BAD_SCHEMA, f"{field}[{index}] must be an object, got {type(entry).__name__}"
            )
    return value


def _time_ns(value: object, field: str) -> int:
    if not isinstance(value, str):
        raise DecodeError(Reason.BAD_TIMESTAMP, f"{field} must be an RFC 3339 string, got {shown(value)}")
    try:
        return parse_rfc3339(value)
    except (TimestampError, ValueError, OverflowError) as exc:
        raise DecodeError(Reason.BAD_TIMESTAMP, f"{field}: {exc}") from exc


def _first_time(candidates: Sequence[tuple[object, str]]) -> int | None:
    """The first of several envelope times that is present; a present but broken one is an error."""
    for value, field in candidates:
        if value is not None:
            return _time_ns(value, field)
    return None


def _gateway_time(entries: list[dict[str, Any]], keys: Sequence[str], field: str) -> int | None:
    """The median of the gateways' times, so that one gateway with an unset clock cannot decide."""
    times = []
    for index, entry in enumerate(entries):
        key = next((k for k in keys if entry.get(k) is not None), None)
        if key is not None:
            times.append(_time_ns(entry[key], f"{field}[{index}].{key}"))
    if not times:
        return None
    return sorted(times)[(len(times) - 1) // 2]


def _best_radio(
    value: object, field: str, snr_key: str, snr_if_absent: float | None, source: str
) -> tuple[float | None, float | None, tuple[DroppedField, ...]]:
    """RSSI and SNR of the gateway that heard the device best (highest plausible RSSI).

    Read leniently: a gateway entry or figure that cannot be used is dropped, with why, and the
    others still count.
    """
    check = HealthCheck(source)
    if value is None:
        return None, None, ()
    if not isinstance(value, list):
        check.drop("rssi", Reason.BAD_SCHEMA, f"{field} must be a list, got {type(value).__name__}")
        return None, None, tuple(check.dropped)
    best: tuple[float, dict[str, Any], str] | None = None
    for index, entry in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(entry, dict):
            check.drop("rssi", Reason.BAD_SCHEMA, f"{where} must be an object, got {type(entry).__name__}")
            continue
        rssi = check.value("rssi", entry.get("rssi"), f"{where}.rssi")
        if rssi is not None and (best is None or rssi > best[0]):
            best = (rssi, entry, where)
    if best is None:
        return None, None, tuple(check.dropped)
    rssi, entry, where = best
    raw_snr = entry.get(snr_key)
    snr = snr_if_absent if raw_snr is None else check.value("snr", raw_snr, f"{where}.{snr_key}")
    return rssi, snr, tuple(check.dropped)


def _require_uplink(topic: str, event: str) -> None:
    if event != "up":
        raise DecodeError(
            Reason.BAD_TOPIC, f"topic {topic!r} carries {event!r} events; only uplinks ('up') are decoded"
        )


# --- The Things Stack v3 ------------------------------------------------------------------------------


def _tts_topic_device(topic: str) -> str:
    match = _TTS_TOPIC.fullmatch(topic)
    if match is None:
        raise DecodeError(
            Reason.BAD_TOPIC, f"topic {topic!r} is not v3/{{application}}[@{{tenant}}]/devices/{{device}}/up"
        )
    _require_uplink(topic, match["event"])
    return match["device"]


def _tts_binding(registry: Registry, device_id: str, ids: Mapping[str, Any]) -> DeviceBinding:
    body_id = _optional_str(ids.get("device_id"), "end_device_ids.device_id")
    if body_id is not None and body_id != device_id:
        raise DecodeError(
            Reason.BAD_SCHEMA,
            f"topic names device {device_id!r} but end_device_ids.device_id is {shown(body_id)}",
        )
    binding = registry.by_device_id(device_id)
    dev_eui = _optional_str(ids.get("dev_eui"), "end_device_ids.dev_eui")
    if binding is None and dev_eui:
        binding = registry.by_dev_eui(dev_eui)
    if binding is None:
        raise DecodeError(
            Reason.UNKNOWN_DEVICE,
            f"device {device_id!r} (dev_eui {shown(dev_eui)}) is not bound to a bay in any site",
        )
    return binding


def _tts_uplink(document: Mapping[str, Any]) -> _Uplink:
    message = _optional_object(document.get("uplink_message"), "uplink_message")
    if message is None:
        raise DecodeError(Reason.BAD_SCHEMA, "payload has no uplink_message object")
    gateways = message.get("rx_metadata")
    time_ns = _first_time(
        [
            (document.get("received_at"), "received_at"),
            (message.get("received_at"), "uplink_message.received_at"),
        ]
    )
    if time_ns is None:
        entries = _entries(gateways, "uplink_message.rx_metadata")
        time_ns = _gateway_time(entries, ("time",), "uplink_message.rx_metadata")
    # TTS leaves out zero values; a gateway that reports an RSSI but no SNR measured an SNR of 0.
    rssi, snr, dropped = _best_radio(gateways, "uplink_message.rx_metadata", "snr", 0.0, TTS_SOURCE)
    return _Uplink(
        f_port=_f_port(message.get("f_port"), "uplink_message.f_port"),
        data=message.get("frm_payload"),
        data_field="uplink_message.frm_payload",
        decoded=_optional_object(message.get("decoded_payload"), "uplink_message.decoded_payload"),
        decoded_field="uplink_message.decoded_payload",
        time_ns=time_ns,
        rssi=rssi,
        snr=snr,
        radio_dropped=dropped,
    )


# --- ChirpStack -----------------------------------------------------------------------------------------


def _chirpstack_topic_dev_eui(topic: str) -> str:
    match = _CHIRPSTACK_TOPIC.fullmatch(topic)
    if match is None:
        raise DecodeError(
            Reason.BAD_TOPIC,
            f"topic {topic!r} is not application/{{application}}/device/{{dev_eui}}/event/up",
        )
    _require_uplink(topic, match["event"])
    dev_eui = match["dev_eui"]
    if _HEX_EUI.fullmatch(dev_eui) is None:
        raise DecodeError(Reason.BAD_TOPIC, f"dev_eui {dev_eui!r} in topic {topic!r} is not 16 hex digits")
    return dev_eui.lower()


def _hex_eui(value: object, field: str) -> str | None:
    text = _optional_str(value, field)
    if text is None:
        return None
    if _HEX_EUI.fullmatch(text) is None:
        raise DecodeError(Reason.BAD_SCHEMA, f"{field} {shown(text)} is not 16 hex digits")
    return text.lower()


def _chirpstack_v4(document: Mapping[str, Any]) -> tuple[str | None, _Uplink]:
    info = _optional_object(document.get("deviceInfo"), "deviceInfo") or {}
    time_ns = _first_time([(document.get("time"), "time")])
    if time_ns is None:
        gateways = _entries(document.get("rxInfo"), "rxInfo")
        # rxInfo[].time was renamed gwTime; nsTime (when the network server got it) is the last resort.
        time_ns = _gateway_time(gateways, ("gwTime", "time"), "rxInfo")
        if time_ns is None:
            time_ns = _gateway_time(gateways, ("nsTime",), "rxInfo")
    # proto3 JSON leaves out zero values, as TTS does.
    rssi, snr, dropped = _best_radio(document.get("rxInfo"), "rxInfo", "snr", 0.0, CHIRPSTACK_SOURCE)
    uplink = _Uplink(
        f_port=_f_port(document.get("fPort"), "fPort"),
        data=document.get("data"),
        data_field="data",
        decoded=_optional_object(document.get("object"), "object"),
        decoded_field="object",
        time_ns=time_ns,
        rssi=rssi,
        snr=snr,
        radio_dropped=dropped,
    )
    return _hex_eui(info.get("devEui"), "deviceInfo.devEui"), uplink


def _is_protobuf_json(document: Mapping[str, Any]) -> bool:
    """ChirpStack v3 has two JSON marshalers; the protobuf one base64-encodes EUIs and nests a JSON string."""
    dev_eui = document.get("devEUI")
    return "objectJSON" in document or (isinstance(dev_eui, str) and _HEX_EUI.fullmatch(dev_eui) is None)


def _base64_eui(value: object, field: str) -> str | None:
    raw = _base64(_optional_str(value, field), field)
    if not raw:
        return None
    if len(raw) != 8:
        raise DecodeError(Reason.BAD_SCHEMA, f"{field} must be base64 of 8 bytes, got {len(raw)} bytes")
    return raw.hex()


def _object_json(value: object, field: str) -> dict[str, Any] | None:
    text = _optional_str(value, field)
    if not text:
        return None
    try:
        # surrogatepass: a lone surrogate from the outer JSON becomes invalid UTF-8, i.e. malformed JSON.
        return parse_json_object(text.encode("utf-8", "surrogatepass"))
    except DecodeError as exc:
        raise DecodeError(exc.reason, f"{field}: {exc.detail}") from exc


def _chirpstack_v3(document: Mapping[str, Any]) -> tuple[str | None, _Uplink]:
    gateways = _entries(document.get("rxInfo"), "rxInfo")
    time_ns = _gateway_time(gateways, ("time",), "rxInfo")
    if _is_protobuf_json(document):
        dev_eui = _base64_eui(document.get("devEUI"), "devEUI")
        decoded = _object_json(document.get("objectJSON"), "objectJSON")
        decoded_field = "objectJSON"
        if time_ns is None:
            time_ns = _first_time([(document.get("publishedAt"), "publishedAt")])
    else:
        dev_eui = _hex_eui(document.get("devEUI"), "devEUI")
        decoded = _optional_object(document.get("object"), "object")
        decoded_field = "object"
    # Whether these marshalers leave out a zero SNR is not documented, so an absent one stays unknown.
    rssi, snr, dropped = _best_radio(document.get("rxInfo"), "rxInfo", "loRaSNR", None, CHIRPSTACK_SOURCE)
    uplink = _Uplink(
        f_port=_f_port(document.get("fPort"), "fPort"),
        data=document.get("data"),
        data_field="data",
        decoded=decoded,
        decoded_field=decoded_field,
        time_ns=time_ns,
        rssi=rssi,
        snr=snr,
        radio_dropped=dropped,
    )
    return dev_eui, uplink
