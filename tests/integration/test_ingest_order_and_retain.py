"""What the ingester keeps, and in which order it shows it, on the real broker and database:
health figures never cost an occupancy, older readings never roll the state back, retained sensor
messages are not new readings, and a second ingester with the same client id says so and stops."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parking.events import ns_to_rfc3339
from parking.timestamps import parse_rfc3339
from parklotse.servers import free_port
from tests.conftest import Servers, _healthy
from tests.helpers import Recorder, Service, influx_query, mqtt_client, publish_all, wait_for

pytestmark = pytest.mark.integration
SEC = 1_000_000_000


def status(occupied: bool, time_ns: int) -> bytes:
    return json.dumps({"occupied": occupied, "ts": ns_to_rfc3339(time_ns)}).encode()


def start_ingester(env: dict[str, str], log: Path) -> Service:
    service = Service("ingest", ["ingest"], env, log).start()
    url = f"http://127.0.0.1:{env['PARKLOTSE_METRICS_PORT']}/healthz"
    wait_for(lambda: _healthy(url) or not service.alive(), 60, "ingester subscribed")
    assert service.alive(), service.output()
    return service


def points(servers: Servers, db: str, query: str) -> list[dict[str, object]]:
    try:
        return influx_query(servers.influx_url, db, query)
    except (httpx.HTTPError, AssertionError):  # the database does not exist before the first write
        return []


def set_retained(url: str, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt_client(url)
    try:
        for info in [client.publish(topic, payload, qos=1, retain=True) for topic, payload in messages]:
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


# --- health figures never cost an occupancy: the DO201 vendor frame in every envelope ---------------

# do201-codec.yaml (TheThingsNetwork/lorawan-devices): alarmPark false, volt 3.53, temperature -117.
DO201_FRAME = bytes.fromhex("80 00 31 02 17 06 B4 00 00 01 61 00 10 FF F6 FF F0 8B 2D 00 01 00 81")
DO201_B64 = base64.b64encode(DO201_FRAME).decode()
DO201_DEVICE = "do201-lab-01"
DO201_EUI = "a84041000181d201"


@pytest.fixture
def lab_ingester(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    """An ingester whose site file binds one DO201 to bay L-01 of site "lab" (TTS id and DevEUI)."""
    sites = tmp_path / "sites"
    sites.mkdir()
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [9.37, 53.92]},
        "properties": {
            "bay": "L-01",
            "device_id": DO201_DEVICE,
            "dev_eui": DO201_EUI,
            "codec": "dingtek-do201",
        },
    }
    site = {"type": "FeatureCollection", "site": {"id": "lab", "name": "Lab"}, "features": [feature]}
    (sites / "lab.geojson").write_text(json.dumps(site))
    service = start_ingester({**stack_env, "PARKLOTSE_SITES_DIR": str(sites)}, tmp_path / "ingest.log")
    yield service
    service.stop()
    set_retained(stack_env["PARKLOTSE_MQTT_URL"], [("parking/state/lab/L-01", b"")])


def _tts(event: str) -> tuple[str, dict[str, Any]]:
    document = {
        "end_device_ids": {"device_id": DO201_DEVICE, "dev_eui": DO201_EUI.upper()},
        "received_at": event,
        "uplink_message": {
            "f_port": 3,
            "frm_payload": DO201_B64,
            "rx_metadata": [{"gateway_ids": {"gateway_id": "gw"}, "rssi": -97, "snr": 6.5, "time": event}],
            "received_at": event,
        },
    }
    return f"v3/parking-lab@ttn/devices/{DO201_DEVICE}/up", document


def _chirpstack_v4(event: str) -> tuple[str, dict[str, Any]]:
    document = {
        "deviceInfo": {"devEui": DO201_EUI, "deviceName": DO201_DEVICE},
        "time": event,
        "fPort": 3,
        "data": DO201_B64,
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -97, "snr": 6.5}],
    }
    return f"application/0b1e2c3d/device/{DO201_EUI}/event/up", document


def _chirpstack_v3(event: str) -> tuple[str, dict[str, Any]]:
    document = {
        "applicationID": "7",
        "devEUI": DO201_EUI,
        "fPort": 3,
        "data": DO201_B64,
        "rxInfo": [{"gatewayID": "0016c001f153a14c", "time": event, "rssi": -97, "loRaSNR": 6.5}],
    }
    return f"application/7/device/{DO201_EUI}/event/up", document


@pytest.mark.parametrize(
    "envelope", [_tts, _chirpstack_v4, _chirpstack_v3], ids=["tts", "chirpstack-v4", "chirpstack-v3"]
)
def test_do201_vendor_frame_stores_its_occupancy_and_drops_only_its_temperature(
    servers: Servers, influx_db: str, stack_env: dict[str, str], lab_ingester: Service, envelope: Any
) -> None:
    event_ns = (time.time_ns() // 1_000_000 - 30_000) * 1_000_000
    topic, document = envelope(ns_to_rfc3339(event_ns))
    publish_all(servers.mqtt_url, [(topic, json.dumps(document).encode())])

    rows = wait_for(
        lambda: points(servers, influx_db, "SELECT * FROM bay_status"), 30, "the DO201 reading in InfluxDB"
    )
    assert rows == [{"time": event_ns, "site": "lab", "bay": "L-01", "occupied": 0}]
    [health] = points(servers, influx_db, "SELECT * FROM sensor_health")
    assert (health["time"], health["battery_v"], health["rssi"]) == (event_ns, 3.53, -97.0)
    assert health.get("temperature_c") is None

    metrics = httpx.get(f"http://127.0.0.1:{stack_env['PARKLOTSE_METRICS_PORT']}/metrics", timeout=5).text
    counter = (
        "parklotse_health_fields_dropped_total"
        '{codec="dingtek-do201",field="temperature_c",reason="out_of_range"}'
    )
    assert f"{counter} 1.0" in metrics
    # The log names what was dropped and shows the frame, so it can be checked against the vendor.
    wait_for(lambda: "without its temperature_c" in lab_ingester.output(), 30, "the log line")
    assert DO201_FRAME.hex(" ") in lab_ingester.output()


# --- readings in the right order -----------------------------------------------------------------


def test_an_older_reading_is_stored_but_never_rolls_the_live_state_back(
    servers: Servers, influx_db: str, ingester: Service, api_server: str
) -> None:
    now = time.time_ns() // 1_000_000 * 1_000_000
    readings = [(True, now - 100 * SEC), (True, now - 50 * SEC), (False, now - 75 * SEC)]
    recorder = Recorder(servers.mqtt_url, "parking/+/showroom/B07")

    def states_seen() -> int:
        return sum(topic.startswith("parking/state/") for topic, _, _ in recorder.snapshot())

    try:
        for index, (occupied, at) in enumerate(readings, start=1):
            publish_all(servers.mqtt_url, [("parking/showroom/B07/status", status(occupied, at))])
            # One batch each: the ingester republishes the state after every stored batch.
            wait_for(lambda: states_seen() >= index, 30, f"the state after reading {index}")  # noqa: B023
        messages = recorder.snapshot()
    finally:
        recorder.close()

    stored = points(servers, influx_db, "SELECT occupied FROM bay_status WHERE bay = 'B07'")
    assert [(r["time"], r["occupied"]) for r in stored] == [
        (now - 100 * SEC, 1),
        (now - 75 * SEC, 0),
        (now - 50 * SEC, 1),
    ]
    states = [json.loads(p) for t, p, _ in messages if t.startswith("parking/state/")]
    assert [(s["status"], s["since"], s["confirmed"]) for s in states[1:]] == [
        ("occupied", ns_to_rfc3339(now - 100 * SEC), ns_to_rfc3339(now - 50 * SEC))
    ] * 2
    events = [json.loads(p)["status"] for t, p, _ in messages if t.startswith("parking/events/")]
    assert events == ["occupied"]  # no "free" event for the late, older reading

    def api_bay() -> dict[str, Any]:
        bays = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", timeout=5).json()
        bay: dict[str, Any] = next(b for b in bays if b["bay"] == "B07")
        return bay

    def latest_in_api() -> dict[str, Any] | None:
        bay = api_bay()
        return bay if bay["last_seen"] and parse_rfc3339(bay["last_seen"]) == now - 50 * SEC else None

    shown = wait_for(latest_in_api, 30, "the API's view of B07 after the last reading")
    assert shown is not None
    assert (shown["status"], parse_rfc3339(shown["since"])) == ("occupied", now - 100 * SEC)


# --- retained sensor messages are not new readings ---------------------------------------------------------


def _restart_and_wait_for_a_fresh_reading(
    servers: Servers,
    ingester: Service,
    stack_env: dict[str, str],
    retained_while_away: tuple[tuple[str, bytes], ...] = (),
) -> None:
    """Restart the ingester (same client id, so the same session), then send one reading and wait
    until it is processed completely: anything the broker replays at subscribe time comes before it."""
    # A clean stop: everything it took was acknowledged, so nothing comes back as a redelivery.
    assert ingester.stop(timeout_s=60) == 0, ingester.output()
    set_retained(servers.mqtt_url, list(retained_while_away))
    ingester.start()
    health = f"http://127.0.0.1:{stack_env['PARKLOTSE_METRICS_PORT']}/healthz"
    wait_for(lambda: _healthy(health) or not ingester.alive(), 60, "ingester subscribed again")
    recorder = Recorder(servers.mqtt_url, "parking/events/showroom/A08")
    try:
        publish_all(servers.mqtt_url, [("parking/showroom/A08/status", status(True, time.time_ns()))])
        recorder.wait(1, timeout_s=30)
    finally:
        recorder.close()


def test_a_retained_reading_without_timestamp_is_not_stored_again_at_each_restart(
    servers: Servers, influx_db: str, ingester: Service, stack_env: dict[str, str]
) -> None:
    topic = "parking/showroom/A07/status"
    query = "SELECT occupied FROM bay_status WHERE bay = 'A07'"
    try:
        set_retained(servers.mqtt_url, [(topic, b'{"occupied": true}')])
        wait_for(lambda: points(servers, influx_db, query), 30, "the live retained reading stored once")
        _restart_and_wait_for_a_fresh_reading(servers, ingester, stack_env)
        assert len(points(servers, influx_db, query)) == 1
    finally:
        ingester.stop()
        set_retained(servers.mqtt_url, [(topic, b"")])


def test_a_retained_malformed_message_is_not_dead_lettered_again_at_each_restart(
    servers: Servers, ingester: Service, stack_env: dict[str, str]
) -> None:
    topic = "parking/showroom/A06/status"
    letters = Path(stack_env["PARKLOTSE_DEADLETTER_DIR"]) / "deadletters.jsonl"

    def kept() -> list[str]:
        return letters.read_text().splitlines() if letters.exists() else []

    try:
        set_retained(servers.mqtt_url, [(topic, b"{not json")])
        wait_for(kept, 30, "the dead letter of the live retained message")
        _restart_and_wait_for_a_fresh_reading(servers, ingester, stack_env)
        assert [json.loads(line)["reason"] for line in kept()] == ["malformed_json"]
    finally:
        ingester.stop()
        set_retained(servers.mqtt_url, [(topic, b"")])


# --- one client id, one ingester ----------------------------------------------------------------------------


def test_a_second_ingester_with_the_same_client_id_makes_one_of_them_stop_with_code_2(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    first = start_ingester(stack_env, tmp_path / "first.log")
    second_env = {
        **stack_env,
        "PARKLOTSE_METRICS_PORT": str(free_port()),
        "PARKLOTSE_SPOOL_DIR": str(tmp_path / "spool-2"),
    }
    second = Service("ingest", ["ingest"], second_env, tmp_path / "second.log").start()
    try:
        wait_for(lambda: not (first.alive() and second.alive()), 60, "one of the two ingesters to stop")
        stopped, running = (first, second) if not first.alive() else (second, first)
        assert stopped.stop() == 2
        client_id = stack_env["PARKLOTSE_INGEST_CLIENT_ID"]
        lines = [line for line in stopped.output().splitlines() if "PARKLOTSE_INGEST_CLIENT_ID" in line]
        assert len(lines) == 1 and f"'{client_id}'" in lines[0], stopped.output()
        # The one left keeps its session: it is subscribed again and stays so.
        running_env = second_env if running is second else stack_env
        health = f"http://127.0.0.1:{running_env['PARKLOTSE_METRICS_PORT']}/healthz"
        wait_for(lambda: _healthy(health), 30, "the remaining ingester subscribed")
        assert running.alive()
    finally:
        first.stop()
        second.stop()


def test_a_reading_published_retained_while_the_ingester_is_away_is_stored_once(
    servers: Servers, influx_db: str, ingester: Service, stack_env: dict[str, str]
) -> None:
    topic = "parking/showroom/A05/status"
    event_ns = time.time_ns() // 1_000_000 * 1_000_000 - 10 * SEC
    try:
        # Queued for the ingester's persistent session: a new reading, not a replay.
        _restart_and_wait_for_a_fresh_reading(
            servers, ingester, stack_env, ((topic, status(False, event_ns)),)
        )
        rows = points(servers, influx_db, "SELECT occupied FROM bay_status WHERE bay = 'A05'")
        assert [(r["time"], r["occupied"]) for r in rows] == [(event_ns, 0)]
    finally:
        ingester.stop()
        set_retained(servers.mqtt_url, [(topic, b"")])
