"""``parklotse demo --secure``: the showroom comes up locked down as a pilot, with bays changing over TLS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from parklotse import secure
from parklotse.servers import free_port
from tests.helpers import Service, wait_for

pytestmark = pytest.mark.integration

DEADLINE_S = 180.0  # the simulator builds its model first; a shared machine may be slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path, str]]:
    state = tmp_path_factory.mktemp("secure-demo")
    port = free_port()
    argv = ["demo", "--secure", "--no-backfill", "--state-dir", str(state), "--port", str(port)]
    service = Service("demo", argv, {"PYTHONUNBUFFERED": "1"}, state / "demo.out").start()
    try:
        wait_for(
            lambda: "Parklotse demo is running" in service.output() or not service.alive(),
            DEADLINE_S,
            "the secure demo running",
        )
        assert service.alive(), service.output()
        yield service, state, f"http://127.0.0.1:{port}"
    finally:
        service.stop()


def test_it_says_where_the_credentials_are_and_keeps_them_private(demo: tuple[Service, Path, str]) -> None:
    service, state, _ = demo
    path = state / "credentials.env"
    assert str(path) in service.output()
    assert path.stat().st_mode & 0o077 == 0
    values = secure.read_env_file(path)
    assert values["PARKLOTSE_MQTT_URL"].startswith("mqtts://127.0.0.1:")
    assert Path(values["PARKLOTSE_MQTT_CA_FILE"]).is_file()
    assert values["PARKLOTSE_EXAMPLE_SENSOR_TOPIC"].endswith("/status")


def test_bays_change_over_tls(demo: tuple[Service, Path, str]) -> None:
    _, _, url = demo
    started = datetime.now(UTC).isoformat()

    def changed_since_start() -> bool:
        bays = httpx.get(f"{url}/api/v1/sites/town-centre/bays", timeout=10).json()
        return any(bay["since"] and bay["since"] > started for bay in bays)

    wait_for(changed_since_start, DEADLINE_S, "a bay changing after the test started", interval_s=0.5)


def test_the_control_endpoint_wants_the_random_token(demo: tuple[Service, Path, str]) -> None:
    _, state, url = demo
    token = secure.read_env_file(state / "credentials.env")["PARKLOTSE_API_TOKEN"]
    command = {"action": "start"}
    assert httpx.post(f"{url}/api/v1/simulator", json=command, timeout=10).status_code == 401
    demo_token = {"Authorization": "Bearer demo-token"}
    assert (
        httpx.post(f"{url}/api/v1/simulator", json=command, headers=demo_token, timeout=10).status_code == 401
    )
    wait_for(
        lambda: httpx.get(f"{url}/api/v1/simulators", timeout=10).json(),
        DEADLINE_S,
        "the simulator announced",
    )
    good = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{url}/api/v1/simulator", json=command, headers=good, timeout=10).status_code == 202


def test_the_database_wants_credentials(demo: tuple[Service, Path, str]) -> None:
    _, state, _ = demo
    values = secure.read_env_file(state / "credentials.env")
    query = f"{values['PARKLOTSE_INFLUX_URL']}/query"
    assert httpx.get(query, params={"q": "SHOW DATABASES"}, timeout=10).status_code == 401
    login = (values["PARKLOTSE_INFLUX_USERNAME"], values["PARKLOTSE_INFLUX_PASSWORD"])
    assert httpx.get(query, params={"q": "SHOW DATABASES"}, auth=login, timeout=10).status_code == 200


def test_the_services_run_in_production_mode(demo: tuple[Service, Path, str]) -> None:
    _, state, _ = demo
    pids = json.loads((state / "pids.json").read_text())
    modes = set()
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"parklotse" in cmdline:
            modes.add(next((v for v in environ if v.startswith(b"PARKLOTSE_MODE=")), b""))
    assert modes == {b"PARKLOTSE_MODE=production"}
