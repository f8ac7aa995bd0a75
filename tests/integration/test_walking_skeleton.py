"""A reading travels native topic → ingester → InfluxDB → API, on real servers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from parking.events import ns_to_rfc3339
from tests.conftest import Servers
from tests.helpers import Recorder, Service, influx_query, publish_all, sse_events, wait_for

pytestmark = pytest.mark.integration


def status(occupied: bool, time_ns: int) -> bytes:
    return json.dumps({"occupied": occupied, "ts": ns_to_rfc3339(time_ns)}).encode()


def test_native_reading_is_stored_with_the_sensor_time(
    servers: Servers, influx_db: str, ingester: Service
) -> None:
    event_ns = (time.time_ns() // 1_000_000 - 5_000) * 1_000_000
    publish_all(servers.mqtt_url, [("parking/showroom/A01/status", status(True, event_ns))])

    rows = wait_for(
        lambda: influx_query(servers.influx_url, influx_db, "SELECT * FROM bay_status"),
        10,
        "the point in InfluxDB",
    )
    assert rows == [{"time": event_ns, "site": "showroom", "bay": "A01", "occupied": 1}]


def test_reading_without_timestamp_gets_the_receive_time(
    servers: Servers, influx_db: str, ingester: Service
) -> None:
    before = time.time_ns()
    publish_all(servers.mqtt_url, [("parking/showroom/A02/status", b'{"occupied": false}')])

    rows = wait_for(
        lambda: influx_query(servers.influx_url, influx_db, "SELECT * FROM bay_status"), 10, "point"
    )
    assert rows[0]["occupied"] == 0
    assert before <= int(rows[0]["time"]) <= time.time_ns()  # type: ignore[call-overload]


def test_unknown_bay_and_non_json_are_rejected_and_the_ingester_keeps_running(
    servers: Servers, influx_db: str, ingester: Service
) -> None:
    dead = Recorder(servers.mqtt_url, "parking/deadletter/#")
    try:
        now = time.time_ns()
        publish_all(
            servers.mqtt_url,
            [
                ("parking/showroom/NOPE/status", status(True, now)),
                ("parking/showroom/A03/status", b"not json at all"),
                ("parking/showroom/A04/status", status(True, now)),
            ],
        )
        rows = wait_for(
            lambda: influx_query(servers.influx_url, influx_db, "SELECT * FROM bay_status"), 10, "point"
        )
        assert [(r["bay"], r["occupied"]) for r in rows] == [("A04", 1)]

        letters = dead.wait(2)
        reasons = {topic: json.loads(payload)["reason"] for topic, payload, _ in letters}
        assert reasons == {
            "parking/deadletter/unknown_bay": "unknown_bay",
            "parking/deadletter/malformed_json": "malformed_json",
        }
        wait_for(lambda: "malformed_json" in ingester.output(), 5, "log lines")
        log = ingester.output()
        assert "'parking/showroom/NOPE/status'" in log and "unknown_bay" in log
        assert "'parking/showroom/A03/status'" in log
        assert ingester.alive()
    finally:
        dead.close()


def test_stored_reading_is_republished_as_retained_state_and_event(
    servers: Servers, ingester: Service
) -> None:
    events = Recorder(servers.mqtt_url, "parking/events/showroom/B01")
    try:
        now = time.time_ns()
        publish_all(servers.mqtt_url, [("parking/showroom/B01/status", status(True, now))])
        events.wait(1)
    finally:
        events.close()
    state = Recorder(
        servers.mqtt_url, "parking/state/showroom/B01"
    )  # subscribes after: gets the retained copy
    try:
        _topic, payload, retained = state.wait(1)[0]
        message = json.loads(payload)
        assert retained and message["status"] == "occupied" and message["since"] == ns_to_rfc3339(now)
    finally:
        state.close()


def test_api_shows_the_current_state_of_sites_and_bays(
    servers: Servers, ingester: Service, api_server: str
) -> None:
    now = time.time_ns()
    publish_all(
        servers.mqtt_url,
        [
            ("parking/showroom/A05/status", status(True, now)),
            ("parking/showroom/A06/status", status(False, now)),
        ],
    )

    def bays() -> dict[str, str]:
        data = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", timeout=5).json()
        return {b["bay"]: b["status"] for b in data}

    wait_for(lambda: bays().get("A05") == "occupied" and bays().get("A06") == "free", 10, "bays in the API")
    sites = {s["id"]: s for s in httpx.get(f"{api_server}/api/v1/sites", timeout=5).json()}
    assert sites["showroom"]["total"] == 16
    assert sites["showroom"]["occupied"] >= 1 and sites["showroom"]["free"] >= 1
    assert sites["showroom"]["updated_at"] is not None


def test_api_start_reads_the_current_state_from_influxdb(
    servers: Servers, influx_db: str, stack_env: dict[str, str], api_server: str
) -> None:
    """No ingester and no retained message: the state comes from InfluxDB, the source of truth."""
    now = time.time_ns()
    httpx.post(
        f"{servers.influx_url}/query", params={"q": f'CREATE DATABASE "{influx_db}"'}
    ).raise_for_status()
    httpx.post(
        f"{servers.influx_url}/write",
        params={"db": influx_db},
        content=f"bay_status,site=showroom,bay=A07 occupied=1i {now}",
    ).raise_for_status()
    # The fixture's API started before the write; start a second one that must read it at start-up.
    from parklotse.servers import free_port
    from tests.conftest import READY_DEADLINE_S, _healthy

    port = free_port()
    service = Service("api2", ["api", "--port", str(port)], stack_env, stack_env_log(stack_env)).start()
    try:
        wait_for(lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), READY_DEADLINE_S, "second API")
        bays = httpx.get(f"http://127.0.0.1:{port}/api/v1/sites/showroom/bays", timeout=5).json()
        assert {b["bay"]: b["status"] for b in bays}["A07"] == "occupied"
    finally:
        service.stop()


def stack_env_log(env: dict[str, str]) -> Path:
    return Path(env["PARKLOTSE_SPOOL_DIR"]).parent / "api2.log"


def test_live_stream_pushes_bay_changes(servers: Servers, ingester: Service, api_server: str) -> None:
    with httpx.stream("GET", f"{api_server}/api/v1/stream?site=showroom", timeout=20) as response:
        assert response.status_code == 200
        events = sse_events(response.iter_lines())
        kind, data, _ = next(events)
        assert kind == "snapshot" and len(json.loads(data)["bays"]) == 16
        publish_all(servers.mqtt_url, [("parking/showroom/B02/status", status(True, time.time_ns()))])
        for kind, data, event_id in events:
            message = json.loads(data)
            if kind == "bay" and message["bay"] == "B02":
                assert message["status"] == "occupied" and event_id
                break


def test_simulator_publishes_bay_changes_as_sensors_do(
    servers: Servers, stack_env: dict[str, str], tmp_path: Path
) -> None:
    recorder = Recorder(servers.mqtt_url, "parking/showroom/+/status")
    sim = Service(
        "sim",
        ["simulate", "--scenario", "showroom", "--speed", "600", "--seed", "1", "--start-time", "10:00"],
        stack_env,
        tmp_path / "sim.log",
    ).start()
    try:
        messages = recorder.wait(20, timeout_s=20)
    finally:
        sim.stop()
        recorder.close()
    bays = {topic.split("/")[2] for topic, _, _ in messages}
    assert len(bays) == 16  # the initial state of every bay is announced
    for _, payload, _ in messages:
        document = json.loads(payload)
        # A heartbeat adds the sensor's battery and radio figures, as native sensors may.
        assert {"occupied", "ts"} <= set(document) <= {"occupied", "ts", "battery_v", "rssi", "snr"}
        assert isinstance(document["occupied"], bool)
