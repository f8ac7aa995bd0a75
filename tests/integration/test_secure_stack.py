"""The pilot's locks, against mosquitto and influxd started with parklotse/pilot/'s very files.

The secrets are made as ``parklotse demo --secure`` makes them (parklotse/secure.py); the ingester and
the API run in production mode with their own broker users, over TLS, with InfluxDB credentials.
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from parking import topics
from parking.registry import load_registry
from parklotse import secure
from parklotse.servers import SecureInfluxDB, SecureMosquitto, free_port
from tests.conftest import _healthy
from tests.helpers import Service, wait_for

DEVICE = "lab-pls-01"
DEV_EUI = "a84041000181d2aa"
DEADLINE_S = 60.0


@dataclass
class SecureStack:
    mosquitto: SecureMosquitto
    influx: SecureInfluxDB
    values: dict[str, str]
    secret: secure.Secrets
    api_url: str = ""
    services: list[Service] = field(default_factory=list)

    @property
    def ca(self) -> str:
        return self.values["PARKLOTSE_MQTT_CA_FILE"]

    def user(self, prefix: str) -> tuple[str, str]:
        return self.values[f"PARKLOTSE_{prefix}_MQTT_USERNAME"], self.values[
            f"PARKLOTSE_{prefix}_MQTT_PASSWORD"
        ]

    def sensor(self, bay: str) -> tuple[str, str]:
        name = secure.sensor_username("lab", bay)
        return name, self.secret.sensor_passwords[name]

    def points(self, bay: str) -> list[object]:
        answer = httpx.get(
            f"{self.influx.url}/query",
            params={"db": "parking", "q": f"SELECT occupied FROM bay_status WHERE bay = '{bay}'"},
            auth=(secure.INFLUX_USER, self.secret.influx_password),
            timeout=10,
        )
        answer.raise_for_status()
        series = answer.json()["results"][0].get("series", [])
        return [row for s in series for row in s["values"]]


def _lab_sites(folder: Path) -> Path:
    """One site: a native bay pair and a LoRaWAN bay known by The Things Stack id and DevEUI."""
    folder.mkdir()

    def bay(name: str, **extra: str) -> dict[str, object]:
        point = {"type": "Point", "coordinates": [9.37, 53.92]}
        return {"type": "Feature", "geometry": point, "properties": {"bay": name, **extra}}

    features = [bay("S-01"), bay("S-02"), bay("L-01", device_id=DEVICE, dev_eui=DEV_EUI)]
    site = {"type": "FeatureCollection", "site": {"id": "lab", "name": "Lab"}, "features": features}
    (folder / "lab.geojson").write_text(json.dumps(site))
    return folder


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureStack]:
    root = tmp_path_factory.mktemp("secure")
    sites = _lab_sites(root / "sites")
    secret = secure.prepare(root / "secrets", load_registry(sites), ["localhost", "127.0.0.1"], {})
    broker = secure.broker_dir(root / "secrets")
    mosquitto = SecureMosquitto(root / "mosquitto", secrets_dir=broker)
    influx = SecureInfluxDB(root / "influx", username=secure.INFLUX_USER, password=secret.influx_password)
    services: list[Service] = []
    mosquitto.start()
    try:
        influx.start()
        values = secure.credentials(
            secret, mqtt_url=mosquitto.url, ca_file=broker / "ca.crt", influx_url=influx.url
        )
        result = SecureStack(mosquitto, influx, values, secret, services=services)
        common = {
            "PARKLOTSE_MODE": "production",
            "PARKLOTSE_SITES_DIR": str(sites),
            "PYTHONUNBUFFERED": "1",
        }
        metrics = free_port()
        ingest_env = {
            **secure.service_env(values, "ingest"),
            **common,
            "PARKLOTSE_SPOOL_DIR": str(root / "spool"),
            "PARKLOTSE_DEADLETTER_DIR": str(root / "deadletter"),
            "PARKLOTSE_METRICS_PORT": str(metrics),
            "PARKLOTSE_INGEST_CLIENT_ID": f"ingest-{uuid.uuid4().hex[:8]}",
            "PARKLOTSE_BATCH_INTERVAL_S": "0.02",
        }
        ingester = Service("ingest", ["ingest"], ingest_env, root / "ingest.log").start()
        result.services.append(ingester)
        port = free_port()
        api_env = {**secure.service_env(values, "api"), **common}
        api = Service("api", ["api", "--port", str(port)], api_env, root / "api.log").start()
        result.services.append(api)
        result.api_url = f"http://127.0.0.1:{port}"
        for service, url in (
            (ingester, f"http://127.0.0.1:{metrics}/healthz"),
            (api, f"{result.api_url}/readyz"),
        ):
            wait_for(lambda: _healthy(url) or not service.alive(), DEADLINE_S, f"{service.name} ready")  # noqa: B023
            assert service.alive(), service.output()
        yield result
    finally:
        for service in reversed(services):
            service.stop()
        influx.stop()
        mosquitto.stop()


@dataclass
class Client:
    """A broker session over TLS (or not) as one user; records what it receives and its PUBACKs."""

    url: str
    ca: str
    username: str | None = None
    password: str | None = None
    tls: bool = True
    received: list[tuple[str, bytes]] = field(default_factory=list)
    acks: dict[int, ReasonCode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self.connack: ReasonCode | None = None
        self.closed = False
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        if self.username is not None:
            self.mqtt.username_pw_set(self.username, self.password)
        if self.tls:
            self.mqtt.tls_set_context(ssl.create_default_context(cafile=self.ca))
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_disconnect = self._on_disconnect
        self.mqtt.on_message = self._on_message
        self.mqtt.on_publish = self._on_publish
        self.subscribed: set[int] = set()
        self.mqtt.on_subscribe = self._on_subscribe
        host, port = self.url.removeprefix("mqtts://").split(":")
        self.mqtt.reconnect_delay_set(60, 60)
        self.mqtt.connect(host, int(port))
        self.mqtt.loop_start()
        self._wait(lambda: self.connack is not None or self.closed, "an answer to CONNECT")

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _wait(self, predicate: object, what: str) -> None:
        with self._changed:
            assert self._changed.wait_for(predicate, timeout=DEADLINE_S), f"no {what}"  # type: ignore[arg-type]

    def _on_connect(self, _c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        self.connack = reason
        self._notify()

    def _on_disconnect(self, *_args: object) -> None:
        self.closed = True
        self._notify()

    def _on_subscribe(self, _c: object, _u: object, mid: int, _r: object, _p: object) -> None:
        with self._changed:
            self.subscribed.add(mid)
            self._changed.notify_all()

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.received.append((message.topic, bytes(message.payload)))
            self._changed.notify_all()

    def _on_publish(self, _c: object, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with self._changed:
            self.acks[mid] = reason
            self._changed.notify_all()

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure and not self.closed

    def publish(self, topic: str, payload: bytes | str) -> ReasonCode:
        """QoS 1; the broker's PUBACK reason (MQTT v5 says "Not authorized" for a refused publish)."""
        mid = self.mqtt.publish(topic, payload, qos=1).mid
        self._wait(lambda: mid in self.acks, f"PUBACK for {topic}")
        return self.acks[mid]

    def subscribe(self, topic_filter: str) -> None:
        """Returns once the broker answered (the ACL is checked per message, not here)."""
        mid = self.mqtt.subscribe(topic_filter, qos=1)[1]
        self._wait(lambda: mid in self.subscribed, f"SUBACK for {topic_filter}")

    def wait_for_message(self, topic: str, payload: bytes) -> None:
        self._wait(lambda: (topic, payload) in self.received, f"message on {topic}")

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


@pytest.fixture
def clients(stack: SecureStack) -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


def _as(stack: SecureStack, clients: list[Client], credentials: tuple[str, str]) -> Client:
    client = Client(stack.mosquitto.url, stack.ca, *credentials)
    clients.append(client)
    assert client.accepted, f"{credentials[0]} was refused: {client.connack}"
    return client


def _native(occupied: bool) -> str:
    return json.dumps({"occupied": occupied, "ts": datetime.now(UTC).isoformat()})


def test_an_anonymous_client_is_refused(stack: SecureStack, clients: list[Client]) -> None:
    client = Client(stack.mosquitto.url, stack.ca)
    clients.append(client)
    assert not client.accepted


def test_a_wrong_password_is_refused(stack: SecureStack, clients: list[Client]) -> None:
    client = Client(stack.mosquitto.url, stack.ca, secure.INGEST_USER, "not-the-password-at-all")
    clients.append(client)
    assert not client.accepted


def test_a_plain_tcp_client_is_refused(stack: SecureStack, clients: list[Client]) -> None:
    client = Client(stack.mosquitto.url, stack.ca, *stack.user("INGEST"), tls=False)
    clients.append(client)
    assert not client.accepted


def test_the_broker_has_no_plain_listener() -> None:
    conf = secure.render_mosquitto_conf(8883, Path("/s"), Path("/d"))
    listeners = [line for line in conf.splitlines() if line.startswith("listener ")]
    assert len(listeners) == 1 and "certfile /s/server.crt" in conf


def test_a_sensor_cannot_publish_for_another_bay_and_nothing_is_stored(
    stack: SecureStack, clients: list[Client]
) -> None:
    sensor = _as(stack, clients, stack.sensor("S-01"))
    assert sensor.publish(topics.native_status("lab", "S-02"), _native(True)).is_failure
    assert not sensor.publish(topics.native_status("lab", "S-01"), _native(True)).is_failure
    # Once the genuine reading (sent after the refused one was answered) is stored, nothing else is.
    wait_for(lambda: stack.points("S-01"), DEADLINE_S, "the sensor's own reading stored")
    assert stack.points("S-02") == []


@pytest.mark.parametrize("prefix", ["API", "SIMULATOR", "TTS", "CHIRPSTACK", "sensor"])
def test_nobody_but_the_ingester_writes_states_or_events(
    stack: SecureStack, clients: list[Client], prefix: str
) -> None:
    watcher = _as(stack, clients, stack.user("API"))
    watcher.subscribe("parking/state/lab/#")
    forger = _as(stack, clients, stack.sensor("S-02") if prefix == "sensor" else stack.user(prefix))
    forged = '{"status":"closed","since":"2199-12-31T00:00:00Z","last_seen":"2199-12-31T00:00:00Z"}'
    assert forger.publish(topics.state("lab", "S-02"), forged).is_failure
    assert forger.publish(topics.event("lab", "S-02"), forged).is_failure
    ingester = _as(stack, clients, stack.user("INGEST"))
    marker = f"marker-{uuid.uuid4().hex}".encode()
    assert not ingester.publish(topics.state("lab", "probe"), marker).is_failure
    watcher.wait_for_message(topics.state("lab", "probe"), marker)
    assert all(topic != topics.state("lab", "S-02") for topic, _ in watcher.received)
    ingester.publish(topics.state("lab", "probe"), b"")  # nothing retained for the next test


@pytest.mark.parametrize(
    ("reader", "writer", "topic"),
    [
        ("API", "INGEST", topics.state("lab", "probe")),
        ("API", "INGEST", topics.event("lab", "probe")),
        ("API", "INGEST", topics.deadletter("probe")),
        ("API", "SIMULATOR", topics.simulator_status("lab")),
        ("API", "SIMULATOR", topics.simulator_vehicles("lab")),
        ("SIMULATOR", "API", topics.simulator_wanted("lab")),
        ("SIMULATOR", "INGEST", topics.state("lab", "probe")),
        ("INGEST", "TTS", topics.tts_uplink("parking-lab", "probe")),
    ],
)
def test_each_service_hears_what_it_subscribes_to(
    stack: SecureStack, clients: list[Client], reader: str, writer: str, topic: str
) -> None:
    listener = _as(stack, clients, stack.user(reader))
    listener.subscribe(topic)
    sender = _as(stack, clients, stack.user(writer))
    payload = f"probe-{uuid.uuid4().hex}".encode()
    assert not sender.publish(topic, payload).is_failure
    listener.wait_for_message(topic, payload)


@pytest.mark.parametrize("prefix", ["INGEST", "SIMULATOR", "TTS", "CHIRPSTACK", "sensor"])
def test_nobody_but_the_api_writes_the_simulator_control(
    stack: SecureStack, clients: list[Client], prefix: str
) -> None:
    simulator = _as(stack, clients, stack.user("SIMULATOR"))
    simulator.subscribe(topics.simulator_control("lab"))
    forger = _as(stack, clients, stack.sensor("S-01") if prefix == "sensor" else stack.user(prefix))
    assert forger.publish(topics.simulator_control("lab"), '{"action":"pause"}').is_failure
    api = _as(stack, clients, stack.user("API"))
    genuine = json.dumps({"action": "start", "nonce": uuid.uuid4().hex}).encode()
    assert not api.publish(topics.simulator_control("lab"), genuine).is_failure
    simulator.wait_for_message(topics.simulator_control("lab"), genuine)
    assert [payload for _, payload in simulator.received] == [genuine]


def test_the_ingester_may_replay_a_sensor_reading(stack: SecureStack, clients: list[Client]) -> None:
    ingester = _as(stack, clients, stack.user("INGEST"))
    assert not ingester.publish(topics.native_status("lab", "S-01"), _native(False)).is_failure


def test_the_things_stack_user_delivers_uplinks(stack: SecureStack, clients: list[Client]) -> None:
    before = len(stack.points("L-01"))
    uplink = {
        "end_device_ids": {"device_id": DEVICE, "dev_eui": DEV_EUI.upper()},
        "received_at": datetime.now(UTC).isoformat(),
        "uplink_message": {"f_port": 1, "decoded_payload": {"occupied": True}},
    }
    tts = _as(stack, clients, stack.user("TTS"))
    assert not tts.publish(topics.tts_uplink("parking-lab", DEVICE), json.dumps(uplink)).is_failure
    wait_for(lambda: len(stack.points("L-01")) > before, DEADLINE_S, "the uplink stored")


def test_the_chirpstack_user_delivers_uplinks(stack: SecureStack, clients: list[Client]) -> None:
    before = len(stack.points("L-01"))
    uplink = {
        "deviceInfo": {"devEui": DEV_EUI, "deviceName": DEVICE},
        "time": datetime.now(UTC).isoformat(),
        "fPort": 1,
        "object": {"occupied": False},
    }
    chirpstack = _as(stack, clients, stack.user("CHIRPSTACK"))
    topic = f"application/0b1e2c3d/device/{DEV_EUI}/event/up"
    assert not chirpstack.publish(topic, json.dumps(uplink)).is_failure
    wait_for(lambda: len(stack.points("L-01")) > before, DEADLINE_S, "the uplink stored")


def test_a_reading_reaches_the_api_over_tls_with_credentials(
    stack: SecureStack, clients: list[Client]
) -> None:
    sensor = _as(stack, clients, stack.sensor("S-02"))
    for occupied in (True, False):
        assert not sensor.publish(topics.native_status("lab", "S-02"), _native(occupied)).is_failure

        def shown(expected: str = "occupied" if occupied else "free") -> bool:
            bays = httpx.get(f"{stack.api_url}/api/v1/sites/lab/bays", timeout=5).json()
            return any(b["bay"] == "S-02" and b["status"] == expected for b in bays)

        wait_for(shown, DEADLINE_S, "the API showing the reading")


def test_influxdb_refuses_a_query_without_or_with_wrong_credentials(stack: SecureStack) -> None:
    query = f"{stack.influx.url}/query"
    assert httpx.get(query, params={"q": "SHOW DATABASES"}, timeout=5).status_code == 401
    wrong = httpx.get(query, params={"q": "SHOW DATABASES"}, auth=("parklotse", "wrong-password"), timeout=5)
    assert wrong.status_code == 401


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Bearer demo-token"])
def test_control_endpoints_refuse_a_missing_or_wrong_token(
    stack: SecureStack, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = httpx.post(
        f"{stack.api_url}/api/v1/simulator", json={"action": "pause"}, headers=headers, timeout=5
    )
    assert answer.status_code == 401


def test_the_sensors_health_is_for_staff_in_production(stack: SecureStack) -> None:
    url = f"{stack.api_url}/api/v1/sites/lab/sensors"
    token = stack.values["PARKLOTSE_API_TOKEN"]
    assert httpx.get(url, timeout=5).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong-token"}, timeout=5).status_code == 401
    # With the token the monitor answers (503 until its first evaluation is done).
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code in (200, 503), answer.text
    # The occupancy itself stays open data.
    assert httpx.get(f"{stack.api_url}/api/v1/sites/lab/bays", timeout=5).status_code == 200
