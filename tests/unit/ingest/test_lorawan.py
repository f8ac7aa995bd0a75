"""Network-server envelopes (The Things Stack v3, ChirpStack v4 and v3), read from the documented
samples in the sensor research and from variations of them."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.decode import decode
from ingest.lorawan import parse_chirpstack_uplink, parse_tts_uplink
from ingest.rejections import DecodeError, Reason, Rejection
from parking.events import BayReading, SensorHealth
from parking.registry import Registry, parse_site

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
SITE = "lab"
# Well after every sample's event time, so a fallback to it is recognisable.
RECEIVED_NS = 1_800_000_000 * 10**9

TTS_TOPIC = "v3/parking-demo@ttn/devices/pls-bay-001/up"
TTS_DOCS_TOPIC = "v3/app1@tenant1/devices/dev1/up"
CS_V4_TOPIC = "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0101010101010101/event/up"
CS_V3_TOPIC = "application/123/device/0202020202020202/event/up"


def bay(bay_id: str, **properties: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [10.0, 54.0]},
        "properties": {"bay": bay_id, **properties},
    }


@pytest.fixture
def registry() -> Registry:
    """One site binding the devices that appear in the samples."""
    site = {
        "type": "FeatureCollection",
        "site": {"id": SITE, "name": "Sample devices"},
        "features": [
            # Bosch PLS known to TTS by device id and to ChirpStack by DevEUI.
            bay("A-01", device_id="pls-bay-001", dev_eui="0101010101010101", codec="bosch-pls"),
            # Devices without a byte codec: the network server's payload formatter decides.
            bay("A-02", device_id="dev1"),
            bay("A-03", dev_eui="0202020202020202"),
            # Found through end_device_ids.dev_eui when its TTS device id is not in the registry.
            bay("A-04", dev_eui="0004A30B001C0530", codec="bosch-pls"),
            # A Dingtek DO201, for its vendor's example frame in every envelope.
            bay("A-05", device_id="do201-bay-005", dev_eui="0505050505050505", codec="dingtek-do201"),
        ],
    }
    return Registry([parse_site(site, Path("lab.geojson"))])


def sample(name: str) -> dict[str, Any]:
    if not SAMPLES.is_dir():
        pytest.skip(f"the research samples folder {SAMPLES} is not available")
    document: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return document


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def ns(iso_seconds: str, nanoseconds: int) -> int:
    """Expected epoch nanoseconds, computed independently of the parser under test."""
    whole = datetime.fromisoformat(iso_seconds).replace(tzinfo=UTC)
    return int(whole.timestamp()) * 10**9 + nanoseconds


def tts(document: dict[str, Any], registry: Registry, topic: str = TTS_TOPIC) -> BayReading:
    [reading] = parse_tts_uplink(topic, encode(document), registry, RECEIVED_NS)
    return reading


def chirpstack(document: dict[str, Any], registry: Registry, topic: str = CS_V4_TOPIC) -> BayReading:
    [reading] = parse_chirpstack_uplink(topic, encode(document), registry, RECEIVED_NS)
    return reading


def tts_error(document: dict[str, Any], registry: Registry, topic: str = TTS_TOPIC) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        parse_tts_uplink(topic, encode(document), registry, RECEIVED_NS)
    return caught.value


def chirpstack_error(document: dict[str, Any], registry: Registry, topic: str = CS_V4_TOPIC) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        parse_chirpstack_uplink(topic, encode(document), registry, RECEIVED_NS)
    return caught.value


def bosch_tts() -> dict[str, Any]:
    return sample("ttn_v3_uplink_bosch_pls_DERIVED.json")


def bosch_v4() -> dict[str, Any]:
    return sample("chirpstack_v4_up_bosch_pls_DERIVED.json")


def v3_legacy() -> dict[str, Any]:
    return sample("chirpstack_v3_up_jsonv3.json")


def v3_protobuf(object_json: str = '{"occupied": true}') -> dict[str, Any]:
    """ChirpStack v3's protobuf-JSON marshaling of the legacy sample (no sample file exists for it)."""
    return {
        "applicationID": "123",
        "applicationName": "temperature-sensor",
        "deviceName": "garden-sensor",
        "devEUI": base64.b64encode(bytes.fromhex("0202020202020202")).decode(),
        "rxInfo": [
            {
                "gatewayID": base64.b64encode(bytes.fromhex("0303030303030303")).decode(),
                "time": "2016-11-25T16:24:37.295915988Z",
                "rssi": -57,
                "loRaSNR": 10,
                "uplinkID": "z9DM4KJ+TN+s2QlD7Ecs9A==",
            }
        ],
        "txInfo": {"frequency": 868100000, "loRaModulationInfo": {"bandwidth": 125, "spreadingFactor": 7}},
        "fCnt": 10,
        "fPort": 5,
        "data": "AQ==",
        "objectJSON": object_json,
    }


# --- The Things Stack v3 --------------------------------------------------------------------------------


def test_tts_bosch_uplink_becomes_an_occupied_reading_of_the_bound_bay(registry: Registry) -> None:
    reading = tts(bosch_tts(), registry)
    assert (reading.site, reading.bay, reading.occupied, reading.source) == (SITE, "A-01", True, "tts")


def test_tts_event_time_is_the_top_level_received_at_to_the_nanosecond(registry: Registry) -> None:
    assert tts(bosch_tts(), registry).time_ns == ns("2020-02-12T15:15:46", 14_773_143)


def test_tts_without_top_level_received_at_uses_the_uplink_received_at(registry: Registry) -> None:
    document = bosch_tts()
    del document["received_at"]
    assert tts(document, registry).time_ns == ns("2020-02-12T15:15:45", 789_585_559)


def test_tts_without_any_received_at_uses_the_gateway_time(registry: Registry) -> None:
    reading = tts(sample("ttn_v3_uplink_mqtt_page_verbatim.json"), registry, TTS_DOCS_TOPIC)
    assert reading.time_ns == ns("2019-01-29T13:02:34", 981_000_000)


def test_tts_gateway_time_is_the_median_so_one_wrong_clock_does_not_decide(registry: Registry) -> None:
    document = bosch_tts()
    del document["received_at"], document["uplink_message"]["received_at"]
    gateway = document["uplink_message"]["rx_metadata"][0]
    document["uplink_message"]["rx_metadata"] = [
        {**gateway, "time": "2001-01-01T00:00:00Z"},
        {**gateway, "time": "2020-02-12T15:15:45.787Z"},
        {**gateway, "time": "2020-02-12T15:15:45.788Z"},
    ]
    assert tts(document, registry).time_ns == ns("2020-02-12T15:15:45", 787_000_000)


def test_tts_without_any_time_uses_the_receive_time(registry: Registry) -> None:
    document = bosch_tts()
    del document["received_at"], document["uplink_message"]["received_at"]
    del document["uplink_message"]["rx_metadata"][0]["time"]
    assert tts(document, registry).time_ns == RECEIVED_NS


def test_tts_malformed_received_at_is_refused_naming_the_field(registry: Registry) -> None:
    document = bosch_tts()
    document["received_at"] = "yesterday"
    error = tts_error(document, registry)
    assert error.reason is Reason.BAD_TIMESTAMP
    assert error.detail.startswith("received_at")


def test_tts_rssi_and_snr_come_from_the_gateway_with_the_strongest_signal(registry: Registry) -> None:
    document = bosch_tts()
    gateway = document["uplink_message"]["rx_metadata"][0]
    document["uplink_message"]["rx_metadata"] = [
        {**gateway, "rssi": -110, "snr": -7.5},
        {**gateway, "rssi": -80, "snr": 3.25},
        {**gateway, "rssi": -95, "snr": 9},
    ]
    health = tts(document, registry).health
    assert (health.rssi, health.snr) == (-80.0, 3.25)


def test_tts_omitted_snr_of_a_gateway_is_zero(registry: Registry) -> None:
    document = bosch_tts()
    del document["uplink_message"]["rx_metadata"][0]["snr"]
    assert tts(document, registry).health.snr == 0.0


def test_tts_rssi_outside_the_physical_range_is_dropped_and_the_occupancy_kept(registry: Registry) -> None:
    document = bosch_tts()
    document["uplink_message"]["rx_metadata"][0]["rssi"] = -500
    reading = tts(document, registry)
    assert (reading.occupied, reading.health.rssi, reading.health.snr) == (True, None, None)
    [dropped] = reading.dropped
    assert (dropped.codec, dropped.field, dropped.reason) == ("tts", "rssi", "out_of_range")
    assert "uplink_message.rx_metadata[0].rssi = -500" in dropped.detail


def test_tts_implausible_rssi_of_one_gateway_leaves_the_others(registry: Registry) -> None:
    document = bosch_tts()
    gateway = document["uplink_message"]["rx_metadata"][0]
    document["uplink_message"]["rx_metadata"] = [{**gateway, "rssi": 500}, {**gateway, "rssi": -90, "snr": 2}]
    reading = tts(document, registry)
    assert (reading.health.rssi, reading.health.snr) == (-90.0, 2.0)
    assert [d.detail.split(" =")[0] for d in reading.dropped] == ["uplink_message.rx_metadata[0].rssi"]


@pytest.mark.parametrize(
    ("rx_metadata", "field", "reason", "detail"),
    [
        ("gateway", "rssi", "bad_schema", "uplink_message.rx_metadata must be a list"),
        (["gateway"], "rssi", "bad_schema", "uplink_message.rx_metadata[0] must be an object"),
        ([{"rssi": "strong"}], "rssi", "bad_schema", "uplink_message.rx_metadata[0].rssi must be a number"),
        (
            [{"rssi": -80, "snr": "NaN"}],
            "snr",
            "bad_schema",
            "uplink_message.rx_metadata[0].snr must be a number",
        ),
        ([{"rssi": -80, "snr": float("inf")}], "snr", "out_of_range", "snr = inf is outside -40..40"),
    ],
)
def test_tts_unreadable_radio_figures_are_dropped_with_why(
    registry: Registry, rx_metadata: object, field: str, reason: str, detail: str
) -> None:
    document = bosch_tts()
    document["uplink_message"]["rx_metadata"] = rx_metadata
    reading = tts(document, registry)
    assert reading.occupied is True
    [dropped] = reading.dropped
    assert (dropped.field, dropped.reason) == (field, reason)
    assert detail in dropped.detail


def test_tts_open_source_topic_without_tenant_is_accepted(registry: Registry) -> None:
    assert tts(bosch_tts(), registry, "v3/parking-demo/devices/pls-bay-001/up").bay == "A-01"


def test_tts_device_unknown_by_id_is_found_by_dev_eui(registry: Registry) -> None:
    document = bosch_tts()
    document["end_device_ids"]["device_id"] = "renamed-sensor"
    assert tts(document, registry, "v3/parking-demo@ttn/devices/renamed-sensor/up").bay == "A-04"


def test_tts_device_unknown_by_id_and_dev_eui_is_refused(registry: Registry) -> None:
    document = bosch_tts()
    document["end_device_ids"] = {"device_id": "stranger", "dev_eui": "FFFFFFFFFFFFFFFF"}
    error = tts_error(document, registry, "v3/parking-demo@ttn/devices/stranger/up")
    assert error.reason is Reason.UNKNOWN_DEVICE
    assert "'stranger'" in error.detail


def test_tts_payload_naming_another_device_than_the_topic_is_refused(registry: Registry) -> None:
    error = tts_error(bosch_tts(), registry, "v3/parking-demo@ttn/devices/dev1/up")
    assert error.reason is Reason.BAD_SCHEMA
    assert "'pls-bay-001'" in error.detail


def test_tts_frm_payload_that_is_not_base64_is_refused(registry: Registry) -> None:
    document = bosch_tts()
    document["uplink_message"]["frm_payload"] = "not base64!"
    error = tts_error(document, registry)
    assert error.reason is Reason.BAD_BASE64
    assert "uplink_message.frm_payload" in error.detail


def test_tts_frame_on_a_port_the_codec_does_not_know_is_refused(registry: Registry) -> None:
    document = bosch_tts()
    document["uplink_message"]["f_port"] = 15
    assert tts_error(document, registry).reason is Reason.BAD_FRAME


def test_tts_device_without_codec_takes_occupied_from_the_decoded_payload(registry: Registry) -> None:
    document = bosch_tts()
    document["end_device_ids"]["device_id"] = "dev1"
    assert tts(document, registry, TTS_DOCS_TOPIC).occupied is True


def test_tts_device_without_codec_and_decoded_occupied_has_no_occupancy(registry: Registry) -> None:
    reading = tts(sample("ttn_v3_uplink_normalized.json"), registry, TTS_DOCS_TOPIC)
    assert (reading.bay, reading.occupied) == ("A-02", None)


def test_tts_decoded_occupied_that_is_not_a_boolean_is_refused(registry: Registry) -> None:
    document = bosch_tts()
    document["end_device_ids"]["device_id"] = "dev1"
    document["uplink_message"]["decoded_payload"]["occupied"] = "yes"
    error = tts_error(document, registry, TTS_DOCS_TOPIC)
    assert error.reason is Reason.BAD_SCHEMA
    assert "uplink_message.decoded_payload.occupied" in error.detail


def test_tts_omitted_f_port_means_port_0_and_no_occupancy(registry: Registry) -> None:
    document = bosch_tts()
    del document["uplink_message"]["f_port"]
    assert tts(document, registry).occupied is None


def test_tts_omitted_frm_payload_gives_no_occupancy_but_keeps_the_radio_figures(registry: Registry) -> None:
    document = bosch_tts()
    del document["uplink_message"]["frm_payload"]
    reading = tts(document, registry)
    assert (reading.occupied, reading.health) == (None, SensorHealth(rssi=-35.0, snr=5.0))


def test_tts_payload_without_uplink_message_is_refused(registry: Registry) -> None:
    document = bosch_tts()
    del document["uplink_message"]
    assert tts_error(document, registry).reason is Reason.BAD_SCHEMA


@pytest.mark.parametrize(
    "topic",
    ["v3/parking-demo@ttn/devices/pls-bay-001/join", "v3/parking-demo@ttn/devices/pls-bay-001/down/ack"],
)
def test_tts_topics_other_than_uplinks_are_refused(registry: Registry, topic: str) -> None:
    assert tts_error(bosch_tts(), registry, topic).reason is Reason.BAD_TOPIC


def test_tts_payload_that_is_not_json_is_malformed(registry: Registry) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_tts_uplink(TTS_TOPIC, b"{not json", registry, RECEIVED_NS)
    assert caught.value.reason is Reason.MALFORMED_JSON


def test_tts_payload_that_is_a_json_list_is_a_schema_error(registry: Registry) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_tts_uplink(TTS_TOPIC, b"[]", registry, RECEIVED_NS)
    assert caught.value.reason is Reason.BAD_SCHEMA


# --- ChirpStack v4 ----------------------------------------------------------------------------------------


def test_chirpstack_v4_bosch_heartbeat_gives_status_temperature_and_radio(registry: Registry) -> None:
    reading = chirpstack(bosch_v4(), registry)
    assert (reading.bay, reading.occupied, reading.source) == ("A-01", True, "chirpstack")
    assert reading.health == SensorHealth(rssi=-36.0, snr=10.5, temperature_c=-1.0)


def test_chirpstack_v4_event_time_is_time_to_the_nanosecond(registry: Registry) -> None:
    assert chirpstack(bosch_v4(), registry).time_ns == ns("2022-07-18T09:34:15", 775_023_242)


def test_chirpstack_v4_docs_example_0xaa_on_port_1_is_a_free_bosch_bay(registry: Registry) -> None:
    assert chirpstack(sample("chirpstack_v4_up.json"), registry).occupied is False


def test_chirpstack_v4_without_time_uses_the_gateway_time(registry: Registry) -> None:
    document = bosch_v4()
    del document["time"]
    document["rxInfo"][0]["gwTime"] = "2022-07-18T09:34:15.000000001Z"
    document["rxInfo"][0]["nsTime"] = "2022-07-18T09:34:16Z"
    assert chirpstack(document, registry).time_ns == ns("2022-07-18T09:34:15", 1)


def test_chirpstack_v4_without_time_or_gateway_time_uses_the_network_server_time(registry: Registry) -> None:
    document = bosch_v4()
    del document["time"]
    document["rxInfo"][0]["nsTime"] = "2022-07-18T09:34:16.5Z"
    assert chirpstack(document, registry).time_ns == ns("2022-07-18T09:34:16", 500_000_000)


def test_chirpstack_v4_without_any_time_uses_the_receive_time(registry: Registry) -> None:
    document = bosch_v4()
    del document["time"]
    assert chirpstack(document, registry).time_ns == RECEIVED_NS


def test_chirpstack_v4_dev_eui_is_matched_case_insensitively(registry: Registry) -> None:
    document = bosch_v4()
    document["deviceInfo"]["devEui"] = "0004a30b001c0530"
    topic = CS_V4_TOPIC.replace("0101010101010101", "0004A30B001C0530")
    assert chirpstack(document, registry, topic).bay == "A-04"


def test_chirpstack_v4_unknown_dev_eui_is_refused(registry: Registry) -> None:
    document = bosch_v4()
    document["deviceInfo"]["devEui"] = "0909090909090909"
    error = chirpstack_error(document, registry, CS_V4_TOPIC.replace("0101010101010101", "0909090909090909"))
    assert error.reason is Reason.UNKNOWN_DEVICE
    assert "'0909090909090909'" in error.detail


def test_chirpstack_v4_payload_naming_another_device_than_the_topic_is_refused(registry: Registry) -> None:
    document = bosch_v4()
    document["deviceInfo"]["devEui"] = "0202020202020202"
    assert chirpstack_error(document, registry).reason is Reason.BAD_SCHEMA


def test_chirpstack_v4_topic_dev_eui_that_is_not_hex_is_refused(registry: Registry) -> None:
    topic = "application/17c82e96/device/pls-bay-001/event/up"
    assert chirpstack_error(bosch_v4(), registry, topic).reason is Reason.BAD_TOPIC


def test_chirpstack_v4_status_events_are_refused(registry: Registry) -> None:
    topic = CS_V4_TOPIC.replace("/event/up", "/event/status")
    assert chirpstack_error(bosch_v4(), registry, topic).reason is Reason.BAD_TOPIC


def test_chirpstack_v4_omitted_fport_means_no_occupancy(registry: Registry) -> None:
    document = bosch_v4()
    del document["fPort"]
    assert chirpstack(document, registry).occupied is None


def test_chirpstack_v4_device_without_codec_takes_occupied_from_object(registry: Registry) -> None:
    document = bosch_v4()
    document["deviceInfo"]["devEui"] = "0202020202020202"
    document["object"] = {"occupied": False}
    reading = chirpstack(document, registry, CS_V3_TOPIC)
    assert (reading.bay, reading.occupied) == ("A-03", False)


def test_chirpstack_payload_of_neither_version_is_refused(registry: Registry) -> None:
    error = chirpstack_error({"data": "AQ==", "fPort": 1}, registry)
    assert error.reason is Reason.BAD_SCHEMA
    assert "deviceInfo" in error.detail


# --- ChirpStack v3, legacy "JSON v3" -----------------------------------------------------------------------


def test_chirpstack_v3_docs_example_gives_radio_and_gateway_time_without_occupancy(
    registry: Registry,
) -> None:
    reading = chirpstack(v3_legacy(), registry, CS_V3_TOPIC)
    assert (reading.bay, reading.occupied, reading.source) == ("A-03", None, "chirpstack")
    assert reading.health == SensorHealth(rssi=-57.0, snr=10.0)
    assert reading.time_ns == ns("2016-11-25T16:24:37", 295_915_988)


def test_chirpstack_v3_legacy_object_occupied_is_used_without_codec(registry: Registry) -> None:
    document = v3_legacy()
    document["object"] = {"occupied": True}
    assert chirpstack(document, registry, CS_V3_TOPIC).occupied is True


def test_chirpstack_v3_docs_placeholder_data_is_refused_for_a_device_with_codec(registry: Registry) -> None:
    document = v3_legacy()
    document["devEUI"] = "0101010101010101"
    error = chirpstack_error(document, registry, CS_V4_TOPIC)
    assert error.reason is Reason.BAD_BASE64
    assert "data '...'" in error.detail


# --- ChirpStack v3, protobuf JSON ------------------------------------------------------------------------


def test_chirpstack_v3_protobuf_json_reads_base64_dev_eui_and_object_json(registry: Registry) -> None:
    reading = chirpstack(v3_protobuf(), registry, CS_V3_TOPIC)
    assert (reading.bay, reading.occupied) == ("A-03", True)
    assert reading.health == SensorHealth(rssi=-57.0, snr=10.0)


def test_chirpstack_v3_protobuf_json_without_gateway_time_uses_published_at(registry: Registry) -> None:
    document = v3_protobuf()
    del document["rxInfo"][0]["time"]
    document["publishedAt"] = "2016-11-25T16:24:37.5Z"
    assert chirpstack(document, registry, CS_V3_TOPIC).time_ns == ns("2016-11-25T16:24:37", 500_000_000)


def test_chirpstack_v3_protobuf_json_dev_eui_must_be_eight_bytes(registry: Registry) -> None:
    document = v3_protobuf()
    document["devEUI"] = base64.b64encode(b"\x02" * 6).decode()
    error = chirpstack_error(document, registry, CS_V3_TOPIC)
    assert error.reason is Reason.BAD_SCHEMA
    assert "8 bytes, got 6" in error.detail


def test_chirpstack_v3_protobuf_json_with_malformed_object_json_is_refused(registry: Registry) -> None:
    error = chirpstack_error(v3_protobuf('{"occupied": tru'), registry, CS_V3_TOPIC)
    assert error.reason is Reason.MALFORMED_JSON
    assert error.detail.startswith("objectJSON")


def test_chirpstack_v3_protobuf_json_with_empty_object_json_has_no_occupancy(registry: Registry) -> None:
    assert chirpstack(v3_protobuf(""), registry, CS_V3_TOPIC).occupied is None


def test_chirpstack_v3_protobuf_json_frame_is_decoded_by_the_bay_codec(registry: Registry) -> None:
    document = v3_protobuf()
    document.update(devEUI=base64.b64encode(bytes.fromhex("0101010101010101")).decode(), fPort=1, data="AA==")
    assert chirpstack(document, registry, CS_V4_TOPIC).occupied is False


# --- through decode() -----------------------------------------------------------------------------------


def test_decode_routes_tts_topics_to_the_tts_parser(registry: Registry) -> None:
    result = decode(TTS_TOPIC, encode(bosch_tts()), registry, RECEIVED_NS)
    assert isinstance(result, list)
    assert [r.source for r in result] == ["tts"]


def test_decode_routes_chirpstack_topics_to_the_chirpstack_parser(registry: Registry) -> None:
    result = decode(CS_V4_TOPIC, encode(bosch_v4()), registry, RECEIVED_NS)
    assert isinstance(result, list)
    assert [r.source for r in result] == ["chirpstack"]


def test_decode_turns_an_envelope_error_into_a_rejection(registry: Registry) -> None:
    document = copy.deepcopy(bosch_tts())
    document["uplink_message"]["frm_payload"] = "%%%"
    result = decode(TTS_TOPIC, encode(document), registry, RECEIVED_NS)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.BAD_BASE64


# --- the Dingtek DO201 vendor example in every envelope ---------------------------------------------------

# do201-codec.yaml in TheThingsNetwork/lorawan-devices: alarmPark false, temperature -117 (0x8b).
DO201_FRAME = bytes.fromhex("80 00 31 02 17 06 B4 00 00 01 61 00 10 FF F6 FF F0 8B 2D 00 01 00 81")
DO201_B64 = base64.b64encode(DO201_FRAME).decode()
DO201_EUI = "0505050505050505"


def do201_tts() -> dict[str, Any]:
    document = bosch_tts()
    document["end_device_ids"] = {"device_id": "do201-bay-005", "dev_eui": DO201_EUI}
    document["uplink_message"].update(f_port=3, frm_payload=DO201_B64)
    document["uplink_message"].pop("decoded_payload", None)
    return document


def do201_v4() -> dict[str, Any]:
    document = bosch_v4()
    document["deviceInfo"]["devEui"] = DO201_EUI
    document.update(fPort=3, data=DO201_B64)
    document.pop("object", None)
    return document


def do201_v3() -> dict[str, Any]:
    document = v3_legacy()
    document.update(devEUI=DO201_EUI, fPort=3, data=DO201_B64)
    return document


def _assert_do201_free_with_temperature_dropped(reading: BayReading) -> None:
    assert (reading.bay, reading.occupied) == ("A-05", False)
    assert reading.health.battery_v == 3.53 and reading.health.temperature_c is None
    [dropped] = reading.dropped
    assert (dropped.codec, dropped.field, dropped.reason) == (
        "dingtek-do201",
        "temperature_c",
        "out_of_range",
    )
    assert "temperature = -117" in dropped.detail and DO201_FRAME.hex(" ") in dropped.detail


def test_do201_vendor_example_in_a_tts_uplink_is_a_free_bay_with_its_temperature_dropped(
    registry: Registry,
) -> None:
    topic = "v3/parking-demo@ttn/devices/do201-bay-005/up"
    _assert_do201_free_with_temperature_dropped(tts(do201_tts(), registry, topic))


def test_do201_vendor_example_in_a_chirpstack_v4_uplink_is_a_free_bay_with_its_temperature_dropped(
    registry: Registry,
) -> None:
    topic = CS_V4_TOPIC.replace("0101010101010101", DO201_EUI)
    _assert_do201_free_with_temperature_dropped(chirpstack(do201_v4(), registry, topic))


def test_do201_vendor_example_in_a_chirpstack_v3_uplink_is_a_free_bay_with_its_temperature_dropped(
    registry: Registry,
) -> None:
    topic = CS_V3_TOPIC.replace("0202020202020202", DO201_EUI)
    _assert_do201_free_with_temperature_dropped(chirpstack(do201_v3(), registry, topic))


def test_chirpstack_v3_gateway_rssi_that_is_not_a_number_is_dropped(registry: Registry) -> None:
    document = v3_legacy()
    document["rxInfo"][0]["rssi"] = "-57"
    reading = chirpstack(document, registry, CS_V3_TOPIC)
    assert reading.health == SensorHealth()
    assert [(d.codec, d.field, d.reason) for d in reading.dropped] == [("chirpstack", "rssi", "bad_schema")]
