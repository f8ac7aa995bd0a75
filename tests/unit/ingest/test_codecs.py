"""Byte codecs of parking sensors, checked against the worked examples of the sensor research
(and the vendors' published example frames) and against the layouts' limits."""

from __future__ import annotations

import base64

import pytest

from ingest.codecs import CODECS, CodecResult, nwave_previous_state_duration
from ingest.rejections import DecodeError, Reason
from parking.events import DroppedField, SensorHealth
from parking.registry import KNOWN_CODECS


def decode(codec: str, f_port: int | None, hex_frame: str, **options: object) -> CodecResult:
    return CODECS[codec](f_port, bytes.fromhex(hex_frame.replace(" ", "")), options)


def rejection(codec: str, f_port: int | None, hex_frame: str, **options: object) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(codec, f_port, hex_frame, **options)
    return caught.value


def test_the_codec_table_matches_the_codecs_a_site_file_may_name() -> None:
    assert set(CODECS) == KNOWN_CODECS


@pytest.mark.parametrize("codec", sorted(KNOWN_CODECS))
def test_every_codec_refuses_an_empty_frame(codec: str) -> None:
    with pytest.raises(DecodeError) as caught:
        CODECS[codec](1, b"", {})
    assert caught.value.reason is Reason.BAD_FRAME


# --- Bosch PLS ---------------------------------------------------------------------------------


def test_bosch_parking_status_example_01_is_occupied() -> None:
    assert CODECS["bosch-pls"](1, base64.b64decode("AQ=="), {}) == CodecResult(True)


def test_bosch_parking_status_reads_bit_0_only() -> None:
    assert decode("bosch-pls", 1, "fe").occupied is False


def test_bosch_heartbeat_example_01ff_is_occupied_at_minus_1_degree() -> None:
    assert decode("bosch-pls", 2, "01 ff") == CodecResult(True, SensorHealth(temperature_c=-1.0))


def test_bosch_startup_example_reports_the_status_in_byte_16() -> None:
    frame = "24 03 00 00 75 03 00 00 00 00 00 00 00 1d 02 03 01"
    assert decode("bosch-pls", 3, frame) == CodecResult(True)


@pytest.mark.parametrize("f_port", [4, 5, 6])
def test_bosch_info_usage_and_debug_frames_carry_no_occupancy(f_port: int) -> None:
    assert decode("bosch-pls", f_port, "0102030405060708090a") == CodecResult(None)


def test_bosch_status_frame_of_two_bytes_is_refused_with_its_length() -> None:
    error = rejection("bosch-pls", 1, "01 00")
    assert error.reason is Reason.BAD_FRAME
    assert "must be 1 bytes, got 2" in error.detail


def test_bosch_unknown_fport_is_refused_naming_the_port() -> None:
    error = rejection("bosch-pls", 15, "01")
    assert error.reason is Reason.BAD_FRAME
    assert "fPort 15" in error.detail


def test_bosch_frame_without_fport_is_refused() -> None:
    assert "fPort is missing" in rejection("bosch-pls", None, "01").detail


def test_bosch_heartbeat_temperature_of_minus_128_is_dropped_and_the_status_kept() -> None:
    result = decode("bosch-pls", 2, "01 80")
    assert (result.occupied, result.health) == (True, SensorHealth())
    assert [(d.field, d.reason) for d in result.dropped] == [("temperature_c", "out_of_range")]
    assert "temperature = -128" in result.dropped[0].detail


# --- Nwave NPS405 / NPS310 ---------------------------------------------------------------------


def test_nwave_status_example_95_is_occupied() -> None:
    assert CODECS["nwave-nps405"](1, base64.b64decode("lQ=="), {}) == CodecResult(True)


def test_nwave_status_example_95_had_a_previous_state_of_74() -> None:
    assert nwave_previous_state_duration(0x95) == 74


@pytest.mark.parametrize(
    ("code", "duration"),
    [(0, 0), (89, 89), (90, 90), (104, 160), (119, 235), (120, 240), (126, 600), (127, None)],
)
def test_nwave_previous_state_duration_decompresses_each_range(code: int, duration: int | None) -> None:
    assert nwave_previous_state_duration(code << 1) == duration


def test_nwave_heartbeat_example_gives_battery_volts_and_temperature() -> None:
    result = decode("nwave-nps405", 2, "00 d3 d8 00 59 0b")
    assert result == CodecResult(False, SensorHealth(battery_v=3.344, temperature_c=-10.0))


def test_nwave_startup_example_is_free() -> None:
    assert decode("nwave-nps405", 3, "02 04 09 02 00") == CodecResult(False)


def test_nwave_tag_registration_example_is_occupied() -> None:
    assert decode("nwave-nps405", 10, "d1 20 1f 34 56 78") == CodecResult(True)


def test_nwave_heartbeat_shorter_than_three_bytes_is_refused() -> None:
    error = rejection("nwave-nps405", 2, "00 d3")
    assert error.reason is Reason.BAD_FRAME
    assert "at least 3 bytes, got 2" in error.detail


def test_nwave_nps310_status_example_01_is_occupied() -> None:
    assert decode("nwave-nps310", 1, "01") == CodecResult(True)


def test_nwave_nps310_heartbeat_example_is_free() -> None:
    assert decode("nwave-nps310", 2, "00") == CodecResult(False)


def test_nwave_nps310_startup_example_is_free() -> None:
    assert decode("nwave-nps310", 3, "01 0d 00 02 00") == CodecResult(False)


def test_nwave_nps310_has_no_tag_frame() -> None:
    assert "fPort 10" in rejection("nwave-nps310", 10, "01").detail


# --- Dingtek DO201 -----------------------------------------------------------------------------

# The vendor's telemetry example with the parking alarm set and a temperature of 20 °C (0x14).
DINGTEK_OCCUPIED = "80 0031 02 17 06b4 10 00 0161 0010 fff6 fff0 14 2d 0001 00 81"


def test_dingtek_telemetry_with_parking_alarm_is_occupied() -> None:
    result = decode("dingtek-do201", 3, DINGTEK_OCCUPIED)
    assert result == CodecResult(True, SensorHealth(battery_v=3.53, temperature_c=20.0))


def test_dingtek_telemetry_without_parking_alarm_is_free() -> None:
    assert decode("dingtek-do201", 3, DINGTEK_OCCUPIED.replace(" 10 00 ", " 00 00 ")).occupied is False


def test_dingtek_parameter_frame_example_carries_no_occupancy() -> None:
    frame = "80 00 31 03 10 01 01 18 1e 3c 00 3c 14 00 00 81"
    assert decode("dingtek-do201", 3, frame) == CodecResult(None)


# The vendor's own telemetry example (do201-codec.yaml in TheThingsNetwork/lorawan-devices),
# byte for byte. Its decoder gives alarmPark false, volt 3.53 and temperature -117 (0x8b as int8).
DINGTEK_VENDOR_TELEMETRY = "80 00 31 02 17 06 B4 00 00 01 61 00 10 FF F6 FF F0 8B 2D 00 01 00 81"


def test_dingtek_vendor_example_is_free_with_its_battery_and_its_temperature_of_minus_117_dropped() -> None:
    result = decode("dingtek-do201", 3, DINGTEK_VENDOR_TELEMETRY)
    assert result == CodecResult(
        False,
        SensorHealth(battery_v=3.53),
        (
            DroppedField(
                "dingtek-do201",
                "temperature_c",
                "out_of_range",
                "dingtek-do201 temperature = -117 is outside -60..100",
            ),
        ),
    )


def test_dingtek_frame_on_another_port_is_refused() -> None:
    assert "fPort 3 only, got fPort 2" in rejection("dingtek-do201", 2, DINGTEK_OCCUPIED).detail


def test_dingtek_frame_without_0x80_header_is_refused() -> None:
    assert "start with 0x80" in rejection("dingtek-do201", 3, "81" + DINGTEK_OCCUPIED[2:]).detail


def test_dingtek_frame_whose_length_byte_disagrees_is_refused() -> None:
    error = rejection("dingtek-do201", 3, DINGTEK_OCCUPIED[:-3])
    assert error.reason is Reason.BAD_FRAME
    assert "length byte says 23 bytes, but the frame has 22" in error.detail


def test_dingtek_unknown_frame_type_is_refused() -> None:
    frame = DINGTEK_OCCUPIED.replace("0031 02 17", "0031 07 17")
    assert "frame type 0x07 is unknown" in rejection("dingtek-do201", 3, frame).detail


def test_dingtek_parking_alarm_nibble_other_than_0_or_1_is_refused() -> None:
    frame = DINGTEK_OCCUPIED.replace(" 10 00 ", " 20 00 ")
    assert "must be 0 or 1, got 2" in rejection("dingtek-do201", 3, frame).detail


def test_dingtek_battery_voltage_of_655_volts_is_dropped_and_the_rest_kept() -> None:
    result = decode("dingtek-do201", 3, DINGTEK_OCCUPIED.replace(" 0161 ", " ffff "))
    assert (result.occupied, result.health) == (True, SensorHealth(temperature_c=20.0))
    [dropped] = result.dropped
    assert (dropped.field, dropped.reason) == ("battery_v", "out_of_range")
    assert "battery voltage = 655.35" in dropped.detail


# --- Libelium Smart Parking ------------------------------------------------------------------------


def test_libelium_manual_example_start_frame_is_free() -> None:
    assert decode("libelium-parking", 2, "0400003f34b909173f600fc2") == CodecResult(False)


def test_libelium_bit_7_means_occupied_in_an_eleven_byte_frame() -> None:
    assert decode("libelium-parking", 2, "80" + "00" * 10) == CodecResult(True)


def test_libelium_battery_low_bit_does_not_change_the_status() -> None:
    assert decode("libelium-parking", 2, "41" + "00" * 10).occupied is False


def test_libelium_frame_of_ten_bytes_is_refused() -> None:
    assert "got 10" in rejection("libelium-parking", 2, "80" + "00" * 9).detail


def test_libelium_reserved_frame_type_is_refused() -> None:
    assert "frame type 6 is reserved" in rejection("libelium-parking", 2, "86" + "00" * 10).detail


# --- Milesight EM400-MUD -------------------------------------------------------------------------------

MILESIGHT_EXAMPLE = "01755c 03670101 04824408 050001"  # battery 92 %, 25.7 °C, 2116 mm, tilted


def test_milesight_example_gives_battery_and_temperature_but_no_occupancy_without_threshold() -> None:
    result = decode("milesight-em400-mud", 85, MILESIGHT_EXAMPLE)
    assert result == CodecResult(None, SensorHealth(battery_pct=92.0, temperature_c=25.7))


def test_milesight_distance_below_the_configured_threshold_is_occupied() -> None:
    assert decode("milesight-em400-mud", 85, MILESIGHT_EXAMPLE, occupied_below_mm=3000).occupied is True


def test_milesight_distance_at_or_above_the_threshold_is_free() -> None:
    assert decode("milesight-em400-mud", 85, MILESIGHT_EXAMPLE, occupied_below_mm=2116).occupied is False


def test_milesight_distance_alarm_decides_over_the_threshold() -> None:
    # Manual example: 1843 mm with the threshold alarm raised.
    result = decode("milesight-em400-mud", 85, "8482330701", occupied_below_mm=1000)
    assert result.occupied is True


def test_milesight_released_distance_alarm_is_free() -> None:
    assert decode("milesight-em400-mud", 85, "8482330700").occupied is False


def test_milesight_temperature_alarm_record_gives_the_temperature() -> None:
    assert decode("milesight-em400-mud", 85, "8367220101").health == SensorHealth(temperature_c=29.0)


def test_milesight_device_information_frame_carries_no_occupancy() -> None:
    frame = "ff0bff ff0101 ff166329c42503920003 ff090100 ff0a0101 ff0f00"
    assert decode("milesight-em400-mud", 85, frame) == CodecResult(None)


def test_milesight_unknown_channel_is_refused_naming_channel_and_offset() -> None:
    error = rejection("milesight-em400-mud", 85, "01755c 0999aa")
    assert error.reason is Reason.BAD_FRAME
    assert "channel 0x09 type 0x99 at byte 3 is unknown" in error.detail


def test_milesight_truncated_record_is_refused() -> None:
    assert "needs 2 value bytes, got 1" in rejection("milesight-em400-mud", 85, "036701").detail


def test_milesight_battery_level_above_100_percent_is_dropped_and_the_occupancy_kept() -> None:
    result = decode("milesight-em400-mud", 85, "017565 8482330701")
    assert (result.occupied, result.health) == (True, SensorHealth())
    [dropped] = result.dropped
    assert (dropped.codec, dropped.field, dropped.reason) == (
        "milesight-em400-mud",
        "battery_pct",
        "out_of_range",
    )
    assert "battery level = 101" in dropped.detail


def test_milesight_temperature_of_minus_3276_degrees_is_dropped_and_the_battery_kept() -> None:
    result = decode("milesight-em400-mud", 85, "01755c 03670180")
    assert result.health == SensorHealth(battery_pct=92.0)
    assert [(d.field, d.reason) for d in result.dropped] == [("temperature_c", "out_of_range")]


def test_milesight_distance_alarm_status_other_than_0_or_1_is_refused() -> None:
    assert "alarm status must be 0 or 1, got 2" in rejection("milesight-em400-mud", 85, "8482330702").detail


@pytest.mark.parametrize("threshold", [0, -5, "3000", True, float("nan")])
def test_milesight_threshold_that_is_not_a_positive_number_is_a_configuration_error(
    threshold: object,
) -> None:
    error = rejection("milesight-em400-mud", 85, MILESIGHT_EXAMPLE, occupied_below_mm=threshold)
    assert error.reason is Reason.NO_DECODER
    assert "codec_options.occupied_below_mm" in error.detail
