"""Byte codecs of LoRaWAN parking sensors: FRMPayload bytes → occupancy and sensor health.

Written from the byte layouts in the project's sensor research (vendor manuals and the example
frames of The Things Network Device Repository), not from vendor decoder code. Every codec is
pure and raises nothing but ``DecodeError``, and only for the frame as a whole: ``BAD_FRAME`` for
a frame that does not fit the layout. A health figure no working sensor reports (a temperature of
-117 °C) is decoded as the vendor's decoder does, then left out of the health point and listed in
``CodecResult.dropped``: it never costs the frame's occupancy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ingest.health import HealthCheck
from ingest.rejections import DecodeError, Reason
from parking.events import DroppedField, SensorHealth


@dataclass(frozen=True, slots=True)
class CodecResult:
    """``occupied`` is None for frames that carry no occupancy (device info, parameters, debug);
    ``dropped`` lists the health figures of the frame that were not fit to keep."""

    occupied: bool | None
    health: SensorHealth = field(default_factory=SensorHealth)
    dropped: tuple[DroppedField, ...] = ()


Codec: TypeAlias = Callable[[int | None, bytes, Mapping[str, Any]], CodecResult]
Frame: TypeAlias = Callable[[bytes], CodecResult]


def _with_health(occupied: bool | None, health: SensorHealth, check: HealthCheck) -> CodecResult:
    return CodecResult(occupied, health, tuple(check.dropped))


def _require_length(codec: str, frame: str, data: bytes, low: int, high: int | None) -> None:
    if low <= len(data) and (high is None or len(data) <= high):
        return
    if high == low:
        expected = f"{low} bytes"
    elif high is None:
        expected = f"at least {low} bytes"
    else:
        expected = f"{low} to {high} bytes"
    raise DecodeError(Reason.BAD_FRAME, f"{codec} {frame} frame must be {expected}, got {len(data)}")


def _require_data(codec: str, data: bytes) -> None:
    # The envelopes never hand an absent payload to a codec, so an empty frame here is a broken one.
    if not data:
        raise DecodeError(Reason.BAD_FRAME, f"{codec} frame is empty")


def _route(codec: str, frames: Mapping[int, Frame], f_port: int | None, data: bytes) -> CodecResult:
    """Sensors that tell their frame types apart by FPort."""
    _require_data(codec, data)
    known = ", ".join(str(port) for port in sorted(frames))
    if f_port is None:
        raise DecodeError(Reason.BAD_FRAME, f"{codec} frames are routed by fPort, but fPort is missing")
    frame = frames.get(f_port)
    if frame is None:
        raise DecodeError(Reason.BAD_FRAME, f"{codec} sends no frame on fPort {f_port} (known: {known})")
    return frame(data)


def _int8(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _bit0(byte: int) -> bool:
    return bool(byte & 0x01)


# --- Bosch Parking Lot Sensor (TPS110), firmware 0.29 ------------------------------------------

_BOSCH = "bosch-pls"


def _bosch_status(data: bytes) -> CodecResult:
    _require_length(_BOSCH, "parking status (fPort 1)", data, 1, 1)
    return CodecResult(_bit0(data[0]))


def _bosch_heartbeat(data: bytes) -> CodecResult:
    _require_length(_BOSCH, "heartbeat (fPort 2)", data, 2, 2)
    check = HealthCheck(_BOSCH)
    temperature = check.value("temperature_c", _int8(data[1]), f"{_BOSCH} heartbeat temperature")
    return _with_health(_bit0(data[0]), SensorHealth(temperature_c=temperature), check)


def _bosch_startup(data: bytes) -> CodecResult:
    # Bytes 0-15 are debug codes, firmware version and reset cause; byte 16 repeats the status.
    _require_length(_BOSCH, "start-up (fPort 3)", data, 17, 17)
    return CodecResult(_bit0(data[16]))


def _bosch_without_status(data: bytes) -> CodecResult:
    # Device info, usage and debug frames are diagnostics for Bosch support, nothing to store.
    return CodecResult(None)


_BOSCH_FRAMES: dict[int, Frame] = {
    1: _bosch_status,
    2: _bosch_heartbeat,
    3: _bosch_startup,
    4: _bosch_without_status,
    5: _bosch_without_status,
    6: _bosch_without_status,
}


def bosch_pls(f_port: int | None, data: bytes, options: Mapping[str, Any]) -> CodecResult:
    return _route(_BOSCH, _BOSCH_FRAMES, f_port, data)


# --- Nwave NPS405 and NPS310 ------------------------------------------------------------------
# Occupancy is bit 0 of byte 0. One published Nwave decoder reads bit 7, but the vendor's
# documentation and its own example frames agree on bit 0.

_NWAVE_405 = "nwave-nps405"
_NWAVE_310 = "nwave-nps310"


def nwave_previous_state_duration(status_byte: int) -> int | None:
    """How long the previous state lasted, from the 7-bit compressed code in bits 7..1 of a status byte.

    The code is exact below 90 and coarser above; None means the duration overflowed the code.
    """
    code = status_byte >> 1
    if code < 90:
        return code
    if code < 120:
        return 90 + (code - 90) * 5
    if code < 127:
        return 240 + (code - 120) * 60
    return None


def _nwave_status(codec: str) -> Frame:
    def frame(data: bytes) -> CodecResult:
        _require_length(codec, "parking status (fPort 1)", data, 1, 1)
        return CodecResult(_bit0(data[0]))

    return frame


def _nwave_startup(codec: str) -> Frame:
    def frame(data: bytes) -> CodecResult:
        # Bytes 0-2 firmware version, byte 3 reset cause, byte 4 the current status.
        _require_length(codec, "start-up (fPort 3)", data, 5, None)
        return CodecResult(_bit0(data[4]))

    return frame


def _nps405_heartbeat(data: bytes) -> CodecResult:
    # The layout names three bytes; Nwave's own example heartbeat has six, so later bytes are allowed.
    _require_length(_NWAVE_405, "heartbeat (fPort 2)", data, 3, None)
    check = HealthCheck(_NWAVE_405)
    battery_v = check.value("battery_v", (2500 + 4 * data[1]) / 1000, f"{_NWAVE_405} battery voltage")
    temperature = check.value("temperature_c", _int8(data[2]) / 2 + 10, f"{_NWAVE_405} heartbeat temperature")
    health = SensorHealth(battery_v=battery_v, temperature_c=temperature)
    return _with_health(_bit0(data[0]), health, check)


def _nps405_tag(data: bytes) -> CodecResult:
    # A driver's SDI tag: byte 0 is a status byte, the rest identifies the tag (not a bay fact).
    _require_length(_NWAVE_405, "SDI tag (fPort 10)", data, 1, None)
    return CodecResult(_bit0(data[0]))


def _nps310_heartbeat(data: bytes) -> CodecResult:
    # Only byte 0 of the NPS310 heartbeat is documented; nothing else is read from it.
    _require_length(_NWAVE_310, "heartbeat (fPort 2)", data, 1, None)
    return CodecResult(_bit0(data[0]))


_NPS405_FRAMES: dict[int, Frame] = {
    1: _nwave_status(_NWAVE_405),
    2: _nps405_heartbeat,
    3: _nwave_startup(_NWAVE_405),
    10: _nps405_tag,
}
_NPS310_FRAMES: dict[int, Frame] = {
    1: _nwave_status(_NWAVE_310),
    2: _nps310_heartbeat,
    3: _nwave_startup(_NWAVE_310),
}


def nwave_nps405(f_port: int | None, data: bytes, options: Mapping[str, Any]) -> CodecResult:
    return _route(_NWAVE_405, _NPS405_FRAMES, f_port, data)


def nwave_nps310(f_port: int | None, data: bytes, options: Mapping[str, Any]) -> CodecResult:
    return _route(_NWAVE_310, _NPS310_FRAMES, f_port, data)


# --- CNDingtek DO201 ---------------------------------------------------------------------------
# 0x80 | device type (2) | frame type | total length | body | 0x81, all on fPort 3.

_DINGTEK = "dingtek-do201"
_DINGTEK_PORT = 3
_DINGTEK_HEAD = 0x80
_DINGTEK_TAIL = 0x81
_DINGTEK_TELEMETRY = 0x02
_DINGTEK_PARAMETERS = 0x03
_DINGTEK_LENGTHS = {_DINGTEK_TELEMETRY: 23, _DINGTEK_PARAMETERS: 16}


def _dingtek_telemetry(data: bytes) -> CodecResult:
    park_alarm = data[7] >> 4
    if park_alarm not in (0, 1):
        raise DecodeError(
            Reason.BAD_FRAME,
            f"{_DINGTEK} parking alarm (high nibble of byte 7) must be 0 or 1, got {park_alarm}",
        )
    # As the vendor's decoder: volts in hundredths (u16), temperature a signed byte in °C.
    check = HealthCheck(_DINGTEK)
    health = SensorHealth(
        battery_v=check.value(
            "battery_v", int.from_bytes(data[9:11], "big") / 100, f"{_DINGTEK} battery voltage"
        ),
        temperature_c=check.value("temperature_c", _int8(data[17]), f"{_DINGTEK} temperature"),
    )
    return _with_health(bool(park_alarm), health, check)


def dingtek_do201(f_port: int | None, data: bytes, options: Mapping[str, Any]) -> CodecResult:
    _require_data(_DINGTEK, data)
    if f_port != _DINGTEK_PORT:
        raise DecodeError(
            Reason.BAD_FRAME, f"{_DINGTEK} sends on fPort {_DINGTEK_PORT} only, got fPort {f_port}"
        )
    _require_length(_DINGTEK, "header", data, 5, None)
    if data[0] != _DINGTEK_HEAD:
        raise DecodeError(Reason.BAD_FRAME, f"{_DINGTEK} frame must start with 0x80, got 0x{data[0]:02x}")
    if data[4] != len(data):
        raise DecodeError(
            Reason.BAD_FRAME, f"{_DINGTEK} length byte says {data[4]} bytes, but the frame has {len(data)}"
        )
    if data[-1] != _DINGTEK_TAIL:
        raise DecodeError(Reason.BAD_FRAME, f"{_DINGTEK} frame must end with 0x81, got 0x{data[-1]:02x}")
    frame_type = data[3]
    expected = _DINGTEK_LENGTHS.get(frame_type)
    if expected is None:
        raise DecodeError(
            Reason.BAD_FRAME,
            f"{_DINGTEK} frame type 0x{frame_type:02x} is unknown (0x02 telemetry, 0x03 parameters)",
        )
    if len(data) != expected:
        raise DecodeError(
            Reason.BAD_FRAME,
            f"{_DINGTEK} frame type 0x{frame_type:02x} must be {expected} bytes, got {len(data)}",
        )
    if frame_type == _DINGTEK_PARAMETERS:
        return CodecResult(None)
    return _dingtek_telemetry(data)


# --- Libelium Plug & Sense! Smart Parking --------------------------------------------------------
# Byte 0 of every frame: bit 7 slot occupied, bit 6 battery low, bits 3..0 frame type.
# Firmware v1 frames are 12 bytes, firmware v2 frames 11 bytes; the status bit is in all of them.

_LIBELIUM = "libelium-parking"
_LIBELIUM_LENGTHS = (11, 12)
_LIBELIUM_LAST_FRAME_TYPE = 5  # 0 info, 1 keep-alive, 2 daily, 3 error, 4/5 start; 6-15 reserved


def libelium_parking(f_port: int | None, data: bytes, options: Mapping[str, Any]) -> CodecResult:
    _require_data(_LIBELIUM, data)
    if len(data) not in _LIBELIUM_LENGTHS:
        raise DecodeError(
            Reason.BAD_FRAME,
            f"{_LIBELIUM} frame must be 11 bytes (firmware v2) or 12 bytes (firmware v1), got {len(data)}",
        )
    frame_type = data[0] & 0x0F
    if frame_type > _LIBELIUM_LAST_FRAME_TYPE:
        raise DecodeError(Reason.BAD_FRAME, f"{_LIBELIUM} frame type {frame_type} is reserved")
    return CodecResult(bool(data[0] & 0x80))


# --- Milesight EM400-MUD -------------------------------------------------------------------------
# Channel/type/value records, values little-endian. The sensor measures a distance; occupancy is
# inferred from its distance threshold alarm or, without one, from a site-configured distance.

_MILESIGHT = "milesight-em400-mud"
_BATTERY = (0x01, 0x75)
_TEMPERATURE = (0x03, 0x67)
_DISTANCE = (0x04, 0x82)
_POSITION = (0x05, 0x00)
_TEMPERATURE_ALARM = (0x83, 0x67)
_DISTANCE_ALARM = (0x84, 0x82)
_DEVICE_INFO = 0xFF
_MILESIGHT_SIZES: dict[tuple[int, int], int] = {
    _BATTERY: 1,
    _TEMPERATURE: 2,
    _DISTANCE: 2,
    _POSITION: 1,
    _TEMPERATURE_ALARM: 3,
    _DISTANCE_ALARM: 3,
    # Device information, sent once after joining: protocol, hardware and software version,
    # power-on, device class, serial number.
    (_DEVICE_INFO, 0x01): 1,
    (_DEVICE_INFO, 0x09): 2,
    (_DEVICE_INFO, 0x0A): 2,
    (_DEVICE_INFO, 0x0B): 1,
    (_DEVICE_INFO, 0x0F): 1,
    (_DEVICE_INFO, 0x16): 8,
}


def _milesight_records(data: bytes) -> dict[tuple[int, int], bytes]:
    records: dict[tuple[int, int], bytes] = {}
    index = 0
    while index < len(data):
        if index + 2 > len(data):
            raise DecodeError(Reason.BAD_FRAME, f"{_MILESIGHT} record at byte {index} has no type byte")
        channel, kind = data[index], data[index + 1]
        record = f"{_MILESIGHT} channel 0x{channel:02x} type 0x{kind:02x} at byte {index}"
        size = _MILESIGHT_SIZES.get((channel, kind))
        if size is None:
            raise DecodeError(Reason.BAD_FRAME, f"{record} is unknown")
        value = data[index + 2 : index + 2 + size]
        if len(value) != size:
            raise DecodeError(Reason.BAD_FRAME, f"{record} needs {size} value bytes, got {len(value)}")
        records[(channel, kind)] = value
        index += 2 + size
    return records


def _occupied_below_mm(options: Mapping[str, Any]) -> float | None:
    value = options.get("occupied_below_mm")
    if value is None:
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (is_number and math.isfinite(value) and value > 0):
        # A site-file mistake: no frame of this device can be decoded until it is fixed.
        raise DecodeError(
            Reason.NO_DECODER,
            f"codec_options.occupied_below_mm of {_MILESIGHT} must be a positive number of millimetres, "
            f"got {value!r}",
        )
    return float(value)


def _milesight_occupied(records: Mapping[tuple[int, int], bytes], threshold_mm: float | None) -> bool | None:
    alarm = records.get(_DISTANCE_ALARM)
    if alarm is not None:
        if alarm[2] not in (0, 1):
            raise DecodeError(
                Reason.BAD_FRAME, f"{_MILESIGHT} distance alarm status must be 0 or 1, got {alarm[2]}"
            )
        return alarm[2] == 1
    distance = records.get(_DISTANCE)
    if distance is None or threshold_mm is None:
        return None
    return int.from_bytes(distance, "little") < threshold_mm


def _milesight_health(records: Mapping[tuple[int, int], bytes], check: HealthCheck) -> SensorHealth:
    battery_pct = None
    temperature_c = None
    if (battery := records.get(_BATTERY)) is not None:
        battery_pct = check.value("battery_pct", battery[0], f"{_MILESIGHT} battery level")
    temperature = records.get(_TEMPERATURE_ALARM) or records.get(_TEMPERATURE)
    if temperature is not None:
        raw = int.from_bytes(temperature[:2], "little", signed=True)
        temperature_c = check.value("temperature_c", raw / 10, f"{_MILESIGHT} temperature")
    return SensorHealth(battery_pct=battery_pct, temperature_c=temperature_c)


def milesight_em400_mud(f_port: int | None, data: bytes, options: Mapping[str, Any]) -> CodecResult:
    _require_data(_MILESIGHT, data)
    threshold_mm = _occupied_below_mm(options)
    records = _milesight_records(data)
    check = HealthCheck(_MILESIGHT)
    health = _milesight_health(records, check)
    return _with_health(_milesight_occupied(records, threshold_mm), health, check)


CODECS: dict[str, Codec] = {
    _BOSCH: bosch_pls,
    _NWAVE_405: nwave_nps405,
    _NWAVE_310: nwave_nps310,
    _DINGTEK: dingtek_do201,
    _LIBELIUM: libelium_parking,
    _MILESIGHT: milesight_em400_mud,
}
