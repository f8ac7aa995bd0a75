"""The live simulator on real servers: steered through the API, publishing as LoRaWAN devices, car
positions through the stream, and real sensors on the showroom table entering the model."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parking import topics
from parking.settings import PACKAGED_SITES_DIR
from parking.simulator_messages import KpiView, SimulatorStatus, VehiclePositions
from tests.conftest import Servers
from tests.helpers import Recorder, Service, influx_query, mqtt_client, sse_events, wait_for

pytestmark = pytest.mark.integration
TOKEN = {"Authorization": "Bearer demo-token"}


@pytest.fixture
def simulator(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    service = Service(
        "sim",
        [
            "simulate",
            "--scenario",
            "showroom",
            "--speed",
            "120",
            "--seed",
            "3",
            "--start-time",
            "10:00",
            "--typical-days",
            "2",
        ],
        stack_env,
        tmp_path / "sim.log",
    ).start()
    yield service
    service.stop()


def status(api: str) -> dict[str, object]:
    response = httpx.get(f"{api}/api/v1/simulator", params={"site": "showroom"}, timeout=5)
    return response.json() if response.status_code == 200 else {}


def test_staff_pause_and_retune_the_running_simulator(api_server: str, simulator: Service) -> None:
    wait_for(lambda: status(api_server).get("state") == "running", 20, "the simulator's status in the API")

    refused = httpx.post(f"{api_server}/api/v1/simulator", json={"action": "pause"}, timeout=5)
    assert refused.status_code == 401

    accepted = httpx.post(
        f"{api_server}/api/v1/simulator",
        headers=TOKEN,
        timeout=5,
        json={"action": "pause", "guidance_share": 1.0, "sensor_latency_s": 60},
    )
    assert accepted.status_code == 202
    wait_for(lambda: status(api_server).get("state") == "paused", 10, "paused")
    current = status(api_server)
    assert current["guidance_share"] == 1.0 and current["sensor_latency_s"] == 60


def test_out_of_range_control_is_a_422_naming_the_field(api_server: str, simulator: Service) -> None:
    response = httpx.post(f"{api_server}/api/v1/simulator", headers=TOKEN, json={"speed": 10_000}, timeout=5)
    assert response.status_code == 422 and "speed" in response.json()["detail"]


def test_kpis_are_model_estimates_with_sources(api_server: str, simulator: Service) -> None:
    def kpis() -> dict[str, object]:
        response = httpx.get(f"{api_server}/api/v1/kpis", params={"site": "showroom"}, timeout=5)
        return response.json() if response.status_code == 200 else {}

    view = KpiView.model_validate(wait_for(kpis, 20, "KPIs from the simulator"))
    assert view.model_estimate is True and view.sources and view.model_site == "town-centre"
    assert view.searching_now.without_sensors >= 0 and view.saved_today.method


def test_the_typical_day_arrives_in_the_status(api_server: str, simulator: Service) -> None:
    def typical() -> SimulatorStatus | None:
        found = status(api_server)
        return SimulatorStatus.model_validate(found) if found.get("typical_day") else None

    found = wait_for(typical, 90, "the typical day computed in the background")
    assert found is not None and found.typical_day is not None and found.typical_day.days == 2
    assert found.typical_day.preset == found.preset and found.typical_day_progress == 1.0


def test_staff_pick_a_preset_and_an_hour(api_server: str, simulator: Service) -> None:
    wait_for(lambda: status(api_server).get("state") == "running", 20, "the simulator's status in the API")
    body = {"preset": "markttag", "hour": 11, "steering": "both"}
    assert (
        httpx.post(f"{api_server}/api/v1/simulator", headers=TOKEN, json=body, timeout=5).status_code == 202
    )

    def markttag() -> SimulatorStatus | None:
        found = status(api_server)
        return SimulatorStatus.model_validate(found) if found.get("preset") == "markttag" else None

    found = wait_for(markttag, 30, "the markttag preset running")
    assert found is not None and found.day_label.startswith("Samstag") and found.steering == "both"
    assert found.sim_time[11:13] == "11"


def test_every_running_simulator_is_listed(api_server: str, simulator: Service) -> None:
    def listed() -> list[dict[str, str]]:
        response = httpx.get(f"{api_server}/api/v1/simulators", timeout=5)
        assert response.status_code == 200
        return list(response.json())

    found = wait_for(lambda: listed() if len(listed()) == 2 else [], 20, "both sites of the town model")
    assert {s["site"] for s in found} == {"showroom", "town-centre"}
    assert {s["model_site"] for s in found} == {"town-centre"}


def test_the_stream_relays_positions_of_both_twins_and_the_twin_kpis(
    api_server: str, simulator: Service
) -> None:
    wait_for(lambda: status(api_server).get("state") == "running", 20, "the simulator's status in the API")
    seen: dict[str, str] = {}
    numbered = ""
    with httpx.stream("GET", f"{api_server}/api/v1/stream?site=showroom", timeout=30) as response:
        assert response.status_code == 200
        deadline = time.monotonic() + 30
        for kind, data, event_id in sse_events(response.iter_lines()):
            if kind in ("vehicles", "kpi", "simulator"):
                assert event_id == numbered  # no id of their own: Last-Event-ID stays on the bays
                seen.setdefault(kind, data)
            else:
                numbered = event_id
            if len(seen) == 3 or time.monotonic() > deadline:
                break
    assert set(seen) == {"vehicles", "kpi", "simulator"}, set(seen)
    positions = VehiclePositions.model_validate_json(seen["vehicles"])
    assert positions.site == "town-centre" and len(positions.bays) == 720
    kpi = json.loads(seen["kpi"])
    assert set(kpi["searching_now"]) == {"without_sensors", "with_sensors"}
    assert SimulatorStatus.model_validate_json(seen["simulator"]).site == "showroom"


def test_no_simulator_for_a_site_is_a_404(api_server: str) -> None:
    response = httpx.get(f"{api_server}/api/v1/kpis", params={"site": "nowhere"}, timeout=5)
    assert response.status_code == 404 and "nowhere" in response.json()["detail"]


def test_publishing_as_the_things_stack_reaches_influxdb(
    servers: Servers, influx_db: str, ingester: Service, stack_env: dict[str, str], tmp_path: Path
) -> None:
    sim = Service(
        "sim-tts",
        [
            "simulate",
            "--scenario",
            "showroom",
            "--speed",
            "60",
            "--publish-as",
            "tts",
            "--start-time",
            "10:00",
            "--publish-site",
            "showroom",
            "--typical-days",
            "0",
        ],
        stack_env,
        tmp_path / "sim-tts.log",
    ).start()
    try:

        def bays() -> set[str]:
            rows = influx_query(servers.influx_url, influx_db, "SELECT bay, occupied FROM bay_status")
            return {str(r["bay"]) for r in rows}

        # The snapshot at start announces every bay through its Bosch PLS device.
        wait_for(lambda: len(bays()) == 16, 20, "all 16 showroom bays stored from TTS uplinks")
        health = influx_query(servers.influx_url, influx_db, "SELECT rssi FROM sensor_health LIMIT 1")
        assert health and health[0]["rssi"] == -92.0
    finally:
        sim.stop()


@pytest.fixture
def hands_on_sites(tmp_path: Path) -> Path:
    """The sample sites with the table's A03 as a hands-on bay (its Bosch sensor is bound already)."""
    sites = tmp_path / "sites"
    sites.mkdir()
    for path in PACKAGED_SITES_DIR.glob("*.geojson"):
        shutil.copy(path, sites / path.name)
    showroom = sites / "showroom.geojson"
    document = json.loads(showroom.read_text(encoding="utf-8"))
    for feature in document["features"]:
        if feature["properties"].get("bay") == "A03":
            feature["properties"]["hands_on"] = True
    showroom.write_text(json.dumps(document), encoding="utf-8")
    return sites


class Positions:
    """Asks for positions as the API would (the lease) and keeps the latest message."""

    def __init__(self, url: str) -> None:
        self.latest: VehiclePositions | None = None
        self._stop = threading.Event()
        self.client = mqtt_client(url)
        self.client.on_message = self._on_message
        self.client.subscribe(topics.simulator_vehicles("town-centre"), qos=0)
        self._lease = threading.Thread(target=self._renew, daemon=True)
        self._lease.start()

    def _renew(self) -> None:
        while not self._stop.is_set():
            self.client.publish(topics.simulator_wanted("town-centre"), b'{"vehicles_for_s": 10}', qos=0)
            self._stop.wait(2.0)

    def _on_message(self, _c: object, _u: object, message: object) -> None:
        self.latest = VehiclePositions.model_validate_json(message.payload)  # type: ignore[attr-defined]

    def bay(self, bay: str) -> tuple[str, str] | None:
        latest = self.latest
        if latest is None:
            return None
        i = latest.bays.index(bay)
        return latest.occupied_without_sensors[i], latest.occupied_with_sensors[i]

    def close(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()


def test_a_toy_car_on_a_real_sensor_is_in_the_model_within_a_second_and_never_simulated(
    servers: Servers, stack_env: dict[str, str], hands_on_sites: Path, tmp_path: Path
) -> None:
    own = Recorder(servers.mqtt_url, topics.native_status("showroom", "A03"))
    uplinks = Recorder(servers.mqtt_url, topics.tts_uplink("+", "showroom-pls-03", tenant=None))
    positions = Positions(servers.mqtt_url)
    sim = Service(
        "sim-hands-on",
        ["simulate", "--scenario", "showroom", "--speed", "60", "--seed", "2", "--typical-days", "0"],
        {**stack_env, "PARKLOTSE_SITES_DIR": str(hands_on_sites)},
        tmp_path / "sim-hands-on.log",
    ).start()
    town_bay = "TC-0135"  # A03's town bay (showroom.geojson: town_bay)
    state_topic = topics.state("showroom", "A03")

    sensor = mqtt_client(servers.mqtt_url)

    def reading(status: str) -> None:
        """The bay's state as the ingester publishes it for a real sensor: retained."""
        document = {"site": "showroom", "bay": "A03", "status": status, "since": None, "last_seen": None}
        sensor.publish(state_topic, json.dumps(document), qos=1, retain=True).wait_for_publish(5)

    def seen(expected: tuple[str, str]) -> bool:
        return positions.bay(town_bay) == expected

    try:
        wait_for(lambda: positions.bay(town_bay), 30, f"positions from the simulator ({sim.output()[-500:]})")
        reading("free")
        wait_for(lambda: positions.bay(town_bay) == ("0", "0"), 5, "the free bay in both twins")
        for status, expected in (("occupied", ("1", "1")), ("free", ("0", "0"))):
            started = time.monotonic()
            reading(status)
            wait_for(lambda e=expected: seen(e), 5, f"A03 {status} in both twins")  # type: ignore[misc]
            assert time.monotonic() - started <= 1.0, f"the model saw A03 {status} after more than a second"
        own_messages = own.snapshot()
        assert own_messages == [] and uplinks.snapshot() == [], (
            "the simulator published on a real sensor's bay"
        )
        assert sim.alive(), sim.output()
    finally:
        sim.stop()
        positions.close()
        own.close()
        uplinks.close()
        sensor.publish(state_topic, b"", qos=1, retain=True).wait_for_publish(5)
        sensor.disconnect()
        sensor.loop_stop()
