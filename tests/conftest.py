"""Real servers for the integration tests, started once per test session.

By default mosquitto and influxd from Debian's packages run on free loopback ports in temporary
folders; with PARKLOTSE_TEST_SERVERS=containers the same fixtures use testcontainers instead
(where a Docker engine runs).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from parking import topics
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parklotse.servers import LocalInfluxDB, LocalMosquitto, free_port
from tests.helpers import Service, mqtt_client, stop_leftovers, wait_for


@dataclass
class Servers:
    mqtt_url: str
    influx_url: str
    mosquitto: LocalMosquitto | None = None
    influxdb: LocalInfluxDB | None = None


def _containers() -> Iterator[Servers]:  # pragma: no cover - needs a Docker engine
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    conf = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto" / "mosquitto.conf"
    mosquitto = (
        DockerContainer("eclipse-mosquitto:2")
        .with_exposed_ports(1883)
        .with_volume_mapping(str(conf), "/mosquitto/config/mosquitto.conf")
    )
    influx = (
        DockerContainer("influxdb:1.8")
        .with_exposed_ports(8086)
        .with_env("INFLUXDB_REPORTING_DISABLED", "true")
    )
    with mosquitto, influx:
        wait_for_logs(mosquitto, "running")
        influx_url = f"http://{influx.get_container_host_ip()}:{influx.get_exposed_port(8086)}"
        wait_for(lambda: _ping(influx_url), 60, "InfluxDB container")
        yield Servers(
            f"mqtt://{mosquitto.get_container_host_ip()}:{mosquitto.get_exposed_port(1883)}", influx_url
        )


def _ping(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ping", timeout=1).status_code == 204
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    if os.environ.get("PARKLOTSE_TEST_SERVERS") == "containers":
        yield from _containers()
        return
    root = tmp_path_factory.mktemp("servers")
    mosquitto = LocalMosquitto(root / "mosquitto")
    influxdb = LocalInfluxDB(root / "influxdb")
    mosquitto.start()
    try:
        influxdb.start()
        try:
            yield Servers(mosquitto.url, influxdb.url, mosquitto, influxdb)
        finally:
            influxdb.stop()
    finally:
        mosquitto.stop()


@pytest.fixture
def influx_db() -> str:
    """A database of its own for each test, so tests never see each other's points."""
    return f"test_{uuid.uuid4().hex[:12]}"


def clear_retained(mqtt_url: str) -> None:
    """Forget the retained bay states and simulator statuses earlier tests left on the broker."""
    registry = load_registry(DEFAULT_SITES_DIR)
    messages = [(topics.state(s.id, b), b"") for s in registry.sites.values() for b in s.bays]
    messages += [(topics.simulator_status(s), b"") for s in registry.sites]
    client = mqtt_client(mqtt_url)
    try:
        infos = [client.publish(topic, payload, qos=1, retain=True) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def stack_env(servers: Servers, influx_db: str, tmp_path: Path) -> dict[str, str]:
    """Environment for ``parklotse`` subprocesses pointed at the session's servers.

    The broker is shared by the session, so the retained state earlier tests left is cleared first.
    """
    clear_retained(servers.mqtt_url)
    return {
        "PARKLOTSE_MQTT_URL": servers.mqtt_url,
        "PARKLOTSE_INFLUX_URL": servers.influx_url,
        "PARKLOTSE_INFLUX_DB": influx_db,
        "PARKLOTSE_SPOOL_DIR": str(tmp_path / "spool"),
        "PARKLOTSE_DEADLETTER_DIR": str(tmp_path / "deadletter"),
        "PARKLOTSE_METRICS_PORT": str(free_port()),
        # A client id of its own per test: persistent sessions must not leak between tests.
        "PARKLOTSE_INGEST_CLIENT_ID": f"ingest-{uuid.uuid4().hex[:8]}",
        "PARKLOTSE_BATCH_INTERVAL_S": "0.02",
        "PARKLOTSE_RETRY_INITIAL_S": "0.1",
        "PARKLOTSE_RETRY_MAX_S": "0.5",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_session() -> Iterator[None]:
    yield
    stop_leftovers()


# A deadline, not a wait: ready services answer within a second or two; a shared, busy machine may need more.
READY_DEADLINE_S = 60.0


@pytest.fixture
def ingester(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    service = Service("ingest", ["ingest"], stack_env, tmp_path / "ingest.log").start()
    port = stack_env["PARKLOTSE_METRICS_PORT"]
    # The process is stopped however the fixture ends: a readiness timeout must not leave it running.
    try:
        wait_for(
            lambda: _healthy(f"http://127.0.0.1:{port}/healthz") or not service.alive(),
            READY_DEADLINE_S,
            "ingester ready",
        )
        assert service.alive(), service.output()
        yield service
    finally:
        service.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def api_server(stack_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    service = Service("api", ["api", "--port", str(port)], stack_env, tmp_path / "api.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(f"{url}/readyz") or not service.alive(), READY_DEADLINE_S, "API ready")
        assert service.alive(), service.output()
        yield url
    finally:
        service.stop()
