"""A fresh system starts clean: the API makes its database, and a service that cannot start says so.

Every service that cannot have what it needs (here: its port) exits with code 2 and one line naming
the address and the setting that chooses another, before it starts anything else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parklotse.servers import free_port
from tests.conftest import Servers, _healthy
from tests.helpers import REPO, Service, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def databases(servers: Servers) -> list[str]:
    response = httpx.get(f"{servers.influx_url}/query", params={"q": "SHOW DATABASES"}, timeout=10)
    return [row[0] for row in response.json()["results"][0]["series"][0]["values"]]


def drop_database(servers: Servers, name: str) -> None:
    httpx.post(f"{servers.influx_url}/query", params={"q": f'DROP DATABASE "{name}"'}, timeout=10)


def run_parklotse(
    argv: list[str], env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parklotse", *argv],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh_api(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An API started against a database that does not exist yet, nothing else running: (url, db)."""
    database = f"fresh_{uuid.uuid4().hex[:12]}"
    port = free_port()
    env = {
        "PARKLOTSE_MQTT_URL": servers.mqtt_url,
        "PARKLOTSE_INFLUX_URL": servers.influx_url,
        "PARKLOTSE_INFLUX_DB": database,
    }
    log = tmp_path_factory.mktemp("fresh-api") / "api.log"
    service = Service("api", ["api", "--port", str(port)], env, log).start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _healthy(f"{url}/readyz") or not service.alive(), 30, "API ready")
    assert service.alive(), service.output()
    yield url, database
    service.stop()


def test_the_api_creates_its_database_at_start(servers: Servers, fresh_api: tuple[str, str]) -> None:
    # Nothing was written: the API made it before it answered.
    assert fresh_api[1] in databases(servers)


def _no_readings(path: str, response: httpx.Response) -> bool:
    """What each history answer looks like when nothing was ever stored."""
    if path.endswith(".csv"):
        return response.text.strip() == "time,site,bay,occupied"
    body = response.json()
    if path.endswith("occupancy"):
        return all(p["occupancy"] is None and p["reporting"] == 0 for p in body["points"])
    if path.endswith("turnover"):
        return body["total_arrivals"] == 0 and all(p["arrivals"] == 0 for p in body["points"])
    if path.endswith("dwell"):
        return body["visits"] == 0 and all(b["count"] == 0 for b in body["bins"])
    if path.endswith("heatmap"):
        return all(value is None for row in body["values"] for value in row)
    return bool(body["changes"] == [] and body["initial"]["status"] == "unknown")


@pytest.mark.parametrize(
    "path",
    [
        "showroom/occupancy",
        "showroom/turnover",
        "showroom/dwell",
        "showroom/heatmap",
        "showroom/bays/A01/timeline",
        "showroom/history.csv",
    ],
)
def test_history_of_a_missing_database_is_empty_not_an_error(
    servers: Servers, fresh_api: tuple[str, str], path: str
) -> None:
    # As when the database was never made, or was dropped while the API ran.
    url, database = fresh_api
    drop_database(servers, database)
    response = httpx.get(f"{url}/api/v1/sites/{path}", timeout=30)
    assert response.status_code == 200, response.text
    assert _no_readings(path, response), response.text[:500]


def test_the_api_on_a_taken_port_says_so_and_exits_2(stack_env: dict[str, str], taken_port: int) -> None:
    result = run_parklotse(["api", "--port", str(taken_port)], stack_env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"parklotse: error: cannot listen on 127.0.0.1:{taken_port} for the API (--port, "
        "PARKLOTSE_API_PORT): another program listens on it"
    ]


def test_an_ingester_whose_metrics_port_is_taken_says_so_and_exits_2(
    stack_env: dict[str, str], taken_port: int
) -> None:
    result = run_parklotse(["ingest"], {**stack_env, "PARKLOTSE_METRICS_PORT": str(taken_port)})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{taken_port}" in lines[0], result.stderr
    assert "PARKLOTSE_METRICS_PORT" in lines[0] and "another program listens on it" in lines[0]


def test_an_ingester_with_a_missing_ca_file_says_so_and_exits_2(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **stack_env,
        "PARKLOTSE_MQTT_URL": stack_env["PARKLOTSE_MQTT_URL"].replace("mqtt://", "mqtts://"),
        "PARKLOTSE_MQTT_CA_FILE": str(tmp_path / "missing-ca.pem"),
        "PARKLOTSE_METRICS_PORT": str(free_port()),
    }
    result = run_parklotse(["ingest"], env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "parklotse: invalid setting mqtt_ca_file: cannot load the CA bundle "
        f"{tmp_path / 'missing-ca.pem'}: No such file or directory"
    ]
