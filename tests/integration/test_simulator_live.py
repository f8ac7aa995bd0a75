"""The live simulator on real servers: steered through the API, and publishing as LoRaWAN devices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Servers
from tests.helpers import Service, influx_query, wait_for

pytestmark = pytest.mark.integration
TOKEN = {"Authorization": "Bearer demo-token"}


@pytest.fixture
def simulator(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    service = Service(
        "sim",
        ["simulate", "--scenario", "showroom", "--speed", "120", "--seed", "3", "--start-time", "10:00"],
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

    view = wait_for(kpis, 20, "KPIs from the simulator")
    assert view["model_estimate"] is True and view["sources"]
    assert {"guided", "unguided", "saved_today", "searching_now", "factors"} <= set(view)


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
