"""Nothing a broker delivered is lost: kill -9, InfluxDB outage, broker restart, hostile input.

Each test ends with every valid message stored as exactly one point with the right value and
time, every invalid one dead-lettered with its reason, and the ingester alive.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from parking.events import ns_to_rfc3339
from parklotse.servers import free_port
from tests.conftest import READY_DEADLINE_S, Servers, _healthy
from tests.helpers import Fleet, Recorder, Service, influx_query, wait_for

pytestmark = pytest.mark.integration
TOWN_BAYS = [f"TC-{n:04d}" for n in range(1, 721)]


def valid_stream(count: int, seed: int) -> tuple[list[tuple[str, bytes]], set[tuple[str, int, int]]]:
    """Messages with distinct event times, and the (bay, time, occupied) points they must become."""
    rng = random.Random(seed)
    base = (time.time_ns() // 1_000_000 - 3_600_000) * 1_000_000
    messages, expected = [], set()
    for i in range(count):
        bay = rng.choice(TOWN_BAYS)
        occupied = rng.random() < 0.6
        ts = base + i * 1_000_000
        messages.append(
            (
                f"parking/town-centre/{bay}/status",
                json.dumps({"occupied": occupied, "ts": ns_to_rfc3339(ts)}).encode(),
            )
        )
        expected.add((bay, ts, int(occupied)))
    return messages, expected


def stored(servers: Servers, db: str) -> set[tuple[str, int, int]]:
    rows = influx_query(
        servers.influx_url, db, "SELECT bay, occupied FROM bay_status WHERE site = 'town-centre'"
    )
    return {(str(r["bay"]), int(r["time"]), int(r["occupied"])) for r in rows}  # type: ignore[call-overload]


def count_points(servers: Servers, db: str) -> int:
    rows = influx_query(servers.influx_url, db, "SELECT count(occupied) FROM bay_status")
    return int(rows[0]["count"]) if rows else 0  # type: ignore[call-overload]


def wait_all_stored(
    servers: Servers, db: str, expected: set[tuple[str, int, int]], timeout_s: float = 60
) -> None:
    def done() -> bool:
        try:
            return count_points(servers, db) >= len(expected)
        except httpx.HTTPError:
            return False

    try:
        wait_for(done, timeout_s, f"{len(expected)} points in InfluxDB", interval_s=0.25)
    except AssertionError:
        missing = expected - stored(servers, db)
        raise AssertionError(
            f"{len(missing)} of {len(expected)} points missing, e.g. {sorted(missing)[:3]}"
        ) from None
    assert stored(servers, db) == expected


class IngesterProcess:
    """A restartable ``parklotse ingest`` that keeps its client id and spool across restarts."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = {**env, "PARKLOTSE_METRICS_PORT": str(free_port())}
        self.log = log
        self.service: Service | None = None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PARKLOTSE_METRICS_PORT']}/healthz"

    def start(self) -> IngesterProcess:
        service = self.service = Service("ingest", ["ingest"], self.env, self.log).start()
        wait_for(
            lambda: _healthy(self.health_url) or not service.alive(), READY_DEADLINE_S, "ingester connected"
        )
        assert self.service.alive(), self.service.output()
        return self

    def kill(self) -> None:
        assert self.service is not None and self.service.process is not None
        os.kill(self.service.process.pid, signal.SIGKILL)
        self.service.process.wait(10)

    def alive(self) -> bool:
        return self.service is not None and self.service.alive()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


@pytest.fixture
def restartable(stack_env: dict[str, str], tmp_path: Path) -> Iterator[IngesterProcess]:
    process = IngesterProcess(stack_env, tmp_path / "ingest.log")
    yield process
    process.stop()


def test_kill_9_mid_stream_loses_nothing(
    servers: Servers, influx_db: str, restartable: IngesterProcess
) -> None:
    messages, expected = valid_stream(3_000, seed=1)
    restartable.start()
    fleet = Fleet(
        servers.mqtt_url, messages, rate_per_s=1_500, client_id=f"fleet-{uuid.uuid4().hex[:6]}"
    ).start()
    fleet.wait_sent(1_000)
    restartable.kill()
    fleet.wait_sent(2_000)
    restartable.start()
    fleet.finish()
    wait_all_stored(servers, influx_db, expected)
    assert restartable.alive()


def test_influxdb_down_for_10_s_mid_stream_loses_nothing(
    servers: Servers, influx_db: str, restartable: IngesterProcess
) -> None:
    if servers.influxdb is None:
        pytest.skip("needs the local influxd to stop and start it")
    messages, expected = valid_stream(3_000, seed=2)
    restartable.start()
    fleet = Fleet(
        servers.mqtt_url, messages, rate_per_s=200, client_id=f"fleet-{uuid.uuid4().hex[:6]}"
    ).start()
    fleet.wait_sent(500)
    servers.influxdb.stop()
    try:
        outage_ends = time.monotonic() + 10
        wait_for(lambda: time.monotonic() >= outage_ends and fleet.sent >= 2_000, 30, "10 s of outage")
        assert "spooling to disk" in restartable.log.read_text()
    finally:
        servers.influxdb.start()
    fleet.finish()
    wait_all_stored(servers, influx_db, expected)
    assert restartable.alive()


def test_broker_restart_with_persistence_loses_nothing(
    servers: Servers, influx_db: str, restartable: IngesterProcess
) -> None:
    if servers.mosquitto is None:
        pytest.skip("needs the local mosquitto to restart it")
    messages, expected = valid_stream(2_000, seed=3)
    restartable.start()
    fleet = Fleet(
        servers.mqtt_url, messages, rate_per_s=400, client_id=f"fleet-{uuid.uuid4().hex[:6]}"
    ).start()
    fleet.wait_sent(700)
    restartable.stop()  # messages now queue in the broker for the ingester's persistent session
    fleet.wait_sent(1_200)
    servers.mosquitto.stop()
    servers.mosquitto.start()
    restartable.start()
    fleet.finish()
    wait_all_stored(servers, influx_db, expected)
    assert restartable.alive()


def hostile_payloads(count: int, seed: int) -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected reason) of input no sensor should send."""
    rng = random.Random(seed)
    now_ms = time.time_ns() // 1_000_000
    makers: list[Callable[[], tuple[str, bytes, str]]] = [
        lambda: ("parking/town-centre/NOPE-1/status", b'{"occupied": true}', "unknown_bay"),
        lambda: ("parking/nowhere/TC-0001/status", b'{"occupied": true}', "unknown_bay"),
        lambda: (
            f"parking/town-centre/{rng.choice(TOWN_BAYS)}/status",
            rng.randbytes(rng.randint(1, 60)) + b"\xff",
            "malformed_json",
        ),
        lambda: (
            f"parking/town-centre/{rng.choice(TOWN_BAYS)}/status",
            b'{"occupied": "maybe"}',
            "bad_schema",
        ),
        lambda: (f"parking/town-centre/{rng.choice(TOWN_BAYS)}/status", b"[true]", "bad_schema"),
        lambda: (
            f"parking/town-centre/{rng.choice(TOWN_BAYS)}/status",
            json.dumps({"occupied": True, "ts": now_ms + 86_400_000}).encode(),
            "future_timestamp",
        ),
        lambda: (
            f"parking/town-centre/{rng.choice(TOWN_BAYS)}/status",
            json.dumps({"occupied": True, "ts": 0}).encode(),
            "bad_timestamp",
        ),
        lambda: (
            f"parking/town-centre/{rng.choice(TOWN_BAYS)}/status",
            json.dumps({"occupied": True, "pad": "x" * 70_000}).encode(),
            "oversize",
        ),
        lambda: (
            "application/1/device/70b3d5e75e000091/event/up",
            json.dumps(
                {"deviceInfo": {"devEui": "70b3d5e75e000091"}, "fPort": 1, "data": "!!!not base64"}
            ).encode(),
            "bad_base64",
        ),
        lambda: (
            "application/1/device/70b3d5e75e000091/event/up",
            json.dumps(
                {
                    "deviceInfo": {"devEui": "70b3d5e75e000091"},
                    "fPort": 1,
                    "data": base64.b64encode(b"\x01\x02\x03").decode(),
                }
            ).encode(),
            "bad_frame",
        ),
        lambda: (
            "application/1/device/ffffffffffffffff/event/up",
            json.dumps({"deviceInfo": {"devEui": "ffffffffffffffff"}, "fPort": 1, "data": "AQ=="}).encode(),
            "unknown_device",
        ),
        lambda: (
            "v3/app@ttn/devices/nobody/up",
            b'{"uplink_message": {"f_port": 1, "frm_payload": "AQ=="}}',
            "unknown_device",
        ),
    ]
    return [rng.choice(makers)() for _ in range(count)]


def test_10000_hostile_payloads_among_valid_ones(
    servers: Servers, influx_db: str, restartable: IngesterProcess, stack_env: dict[str, str]
) -> None:
    valid, expected = valid_stream(2_000, seed=4)
    hostile = hostile_payloads(10_000, seed=5)
    rng = random.Random(6)
    stream: list[tuple[str, bytes]] = [(t, p) for t, p, _ in hostile] + valid
    rng.shuffle(stream)
    restartable.start()
    fleet = Fleet(
        servers.mqtt_url, stream, rate_per_s=4_000, client_id=f"fleet-{uuid.uuid4().hex[:6]}"
    ).start()
    fleet.finish()
    wait_all_stored(servers, influx_db, expected)

    folder = Path(stack_env["PARKLOTSE_DEADLETTER_DIR"])

    def letters() -> list[dict[str, str]]:
        files = sorted(folder.glob("deadletters.jsonl*"))
        return [json.loads(line) for f in files for line in f.read_text().splitlines()]

    wait_for(lambda: len(letters()) >= len(hostile), 30, "a dead letter for every hostile payload")
    got = Counter(letter["reason"] for letter in letters())
    assert got == Counter(reason for _, _, reason in hostile)
    sample = letters()[0]
    assert set(sample) >= {"reason", "topic", "payload_b64", "received_at", "detail"}
    assert restartable.alive()
    log = restartable.log.read_text()
    assert log.count("rejected unknown_bay") <= 2  # rate limited, not one line per message


def test_two_ingesters_in_a_shared_group_split_the_stream_and_lose_nothing(
    servers: Servers, influx_db: str, stack_env: dict[str, str], tmp_path: Path
) -> None:
    group = f"g{uuid.uuid4().hex[:6]}"
    first = IngesterProcess(
        {
            **stack_env,
            "PARKLOTSE_SHARE_GROUP": group,
            "PARKLOTSE_INGEST_CLIENT_ID": f"a-{group}",
            "PARKLOTSE_SPOOL_DIR": str(tmp_path / "s1"),
        },
        tmp_path / "a.log",
    )
    second = IngesterProcess(
        {
            **stack_env,
            "PARKLOTSE_SHARE_GROUP": group,
            "PARKLOTSE_INGEST_CLIENT_ID": f"b-{group}",
            "PARKLOTSE_SPOOL_DIR": str(tmp_path / "s2"),
        },
        tmp_path / "b.log",
    )
    messages, expected = valid_stream(2_000, seed=7)
    try:
        first.start()
        second.start()
        Fleet(servers.mqtt_url, messages, rate_per_s=2_000, client_id=f"fleet-{group}").start().finish()
        wait_all_stored(servers, influx_db, expected)
        counts = [_stored_by(p) for p in (first, second)]
        assert all(c > 0 for c in counts), counts  # both took part
    finally:
        first.stop()
        second.stop()


def _stored_by(process: IngesterProcess) -> float:
    metrics_url = process.health_url.replace("/healthz", "/metrics")
    for line in httpx.get(metrics_url, timeout=5).text.splitlines():
        if line.startswith("parklotse_ingest_points_stored_total"):
            return float(line.split()[-1])
    return 0.0


def test_dead_letters_are_also_published_on_their_topic(
    servers: Servers, restartable: IngesterProcess
) -> None:
    restartable.start()
    recorder = Recorder(servers.mqtt_url, "parking/deadletter/+")
    try:
        from tests.helpers import publish_all

        publish_all(servers.mqtt_url, [("parking/town-centre/TC-0001/status", b"\x00garbage")])
        topic, payload, _ = recorder.wait(1)[0]
    finally:
        recorder.close()
    record = json.loads(payload)
    assert topic == "parking/deadletter/malformed_json"
    assert base64.b64decode(record["payload_b64"]) == b"\x00garbage"
    assert record["topic"] == "parking/town-centre/TC-0001/status"
