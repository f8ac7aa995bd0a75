"""Staff break simulated sensors through the API; the live simulator publishes them broken; the
fleet-health rules (in simulated time) find exactly those on the real stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parklotse.servers import free_port
from tests.conftest import READY_DEADLINE_S, _healthy
from tests.helpers import Service, wait_for

pytestmark = pytest.mark.integration
TOKEN = {"Authorization": "Bearer demo-token"}
SPEED = "300"  # a simulated heartbeat every 12 s, silent after 24 s, flapping counted over 12 s


@pytest.fixture
def stack(stack_env: dict[str, str], tmp_path: Path, ingester: Service) -> Iterator[str]:
    port = free_port()
    env = {**stack_env, "PARKLOTSE_FLEET_REFRESH_S": "0.5", "PARKLOTSE_FLEET_SLOW_REFRESH_S": "5"}
    api = Service("api", ["api", "--port", str(port)], env, tmp_path / "api.log").start()
    url = f"http://127.0.0.1:{port}"
    args = ["simulate", "--scenario", "showroom", "--speed", SPEED, "--seed", "3", "--start-time", "10:00"]
    sim: Service | None = None
    try:
        wait_for(lambda: _healthy(f"{url}/readyz") or not api.alive(), READY_DEADLINE_S, "API ready")
        assert api.alive(), api.output()
        sim = Service("sim", [*args, "--typical-days", "0"], stack_env, tmp_path / "sim.log").start()
        yield url
    finally:
        if sim is not None:
            sim.stop()
        api.stop()


def problems(api: str) -> dict[str, list[str]]:
    response = httpx.get(f"{api}/api/v1/sites/showroom/sensors", timeout=5)
    body: dict[str, Any] = response.json() if response.status_code == 200 else {}
    return {s["bay"]: [p["code"] for p in s["problems"]] for s in body.get("sensors", [])}


def simulator(api: str) -> dict[str, Any]:
    response = httpx.get(f"{api}/api/v1/simulator", params={"site": "showroom"}, timeout=5)
    return response.json() if response.status_code == 200 else {}


def command(api: str, body: dict[str, Any]) -> None:
    response = httpx.post(
        f"{api}/api/v1/simulator", headers=TOKEN, json={"site": "showroom", **body}, timeout=5
    )
    assert response.status_code == 202, response.text


def test_staff_break_two_sensors_and_the_health_view_lists_exactly_them(stack: str) -> None:
    # Every simulated sensor has been heard (a snapshot, then heartbeats) and none looks broken, busy
    # as the simulated town is at 300x.
    wait_for(
        lambda: (p := problems(stack)) and not any(p.values()), 240, "a healthy showroom", interval_s=0.5
    )

    wait_for(lambda: simulator(stack).get("site") == "showroom", 60, "the simulator's status in the API")
    command(stack, {"break_sensors": {"kind": "silent", "bays": ["A03"]}})
    command(stack, {"break_sensors": {"kind": "flapping", "bays": ["B05"]}})
    wanted = {"A03": ["silent"], "B05": ["flapping"]}
    wait_for(
        lambda: {b: c for b, c in problems(stack).items() if c} == wanted,
        120,
        "A03 silent, B05 flapping",
        0.5,
    )
    assert simulator(stack)["sensor_faults"] == {"A03": "silent", "B05": "flapping"}

    command(stack, {"repair_sensors": True})
    wait_for(lambda: not any(problems(stack).values()), 120, "every sensor fine again", interval_s=0.5)
