"""Fleet health on the real stack: crafted sensor histories go through mosquitto, the ingester and
InfluxDB, and the API lists exactly the problems they should show; the webhook hears about them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from parking.events import ns_to_rfc3339
from parklotse.servers import free_port
from tests.conftest import READY_DEADLINE_S, Servers, _healthy
from tests.helpers import Service, influx_query, publish_all, wait_for

pytestmark = pytest.mark.integration

S = 1_000_000_000
HOUR = 3600 * S
DAY = 24 * HOUR
FAST = {
    "PARKLOTSE_FLEET_REFRESH_S": "0.3",
    "PARKLOTSE_FLEET_SLOW_REFRESH_S": "0.3",
    "PARKLOTSE_FLEET_BATTERY_REFRESH_S": "0.3",
    "PARKLOTSE_FLEET_REJECTED_PER_DAY": "3",
    "PARKLOTSE_ALERT_WEBHOOK_RETRY_INITIAL_S": "0.05",
}


class Receiver:
    """A local HTTP server that keeps every JSON body POSTed to it; the first ``fail_first`` get a 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.refused < fail_first:
                    receiver.refused += 1
                    self.send_response(500)
                else:
                    receiver.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def changes(self) -> list[dict[str, Any]]:
        return [change for body in list(self.bodies) for change in body["changes"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(fail_first=1)
    yield found
    found.close()


@contextmanager
def started_api(env: dict[str, str], log: Path) -> Iterator[str]:
    """An API with the fleet monitor, yielded once the monitor listens for dead letters."""
    port = free_port()
    service = Service("api", ["api", "--port", str(port)], env, log).start()
    url = f"http://127.0.0.1:{port}"
    try:  # stopped even when it never got ready: a failed set-up must not leave an API running
        wait_for(lambda: _healthy(f"{url}/readyz") or not service.alive(), READY_DEADLINE_S, "API ready")
        assert service.alive(), service.output()

        # Dead letters are not retained: the monitor must be listening before any is published. Its
        # first report also waits for its worker process to start (at nice 10: slow on a busy machine).
        def listening() -> Any:
            return _sensors(url).get("deadletter_feed_connected")

        wait_for(listening, READY_DEADLINE_S, "fleet monitor listening")
        yield url
    finally:
        service.stop()


@pytest.fixture
def fleet_api(stack_env: dict[str, str], tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    env = {**stack_env, **FAST, "PARKLOTSE_ALERT_WEBHOOK_URL": receiver.url}
    with started_api(env, tmp_path / "api.log") as url:
        yield url


def _sensors(api: str, **params: str) -> dict[str, Any]:
    response = httpx.get(f"{api}/api/v1/sites/showroom/sensors", params=params, timeout=5)
    return response.json() if response.status_code == 200 else {}


def reading(bay: str, t: int, occupied: bool, **health: float) -> tuple[str, bytes]:
    return f"parking/showroom/{bay}/status", json.dumps(
        {"occupied": occupied, "ts": ns_to_rfc3339(t), **health}
    ).encode()


def crafted_histories(now: int) -> list[tuple[str, bytes]]:
    good = {"battery_v": 3.6, "rssi": -90.0, "snr": 8.0}
    messages = [
        # A01 is fine: changes like a parking bay, good battery and radio.
        *(reading("A01", now - h * HOUR, h % 2 == 1, **good) for h in (5, 4, 3, 2, 1)),
        # A02 has been silent for 30 h.
        reading("A02", now - 30 * HOUR, False, **good),
        # A03 has said "occupied" for 80 h, heartbeats until now, while zone A changes.
        *(reading("A03", now - h * HOUR, True) for h in range(80, -1, -8)),
        # A04 flaps: 25 changes within the last hour.
        *(reading("A04", now - (50 - 2 * i) * 60 * S, i % 2 == 0) for i in range(25)),
        # A05's battery is below 3.2 V.
        reading("A05", now - HOUR, False, battery_v=3.05),
        # A06's battery falls 0.02 V a day: 3.2 V in 10 days.
        *(
            reading("A06", now - d * DAY - S, False, battery_v=round(3.6 - 0.02 * (10 - d), 3))
            for d in range(10, -1, -1)
        ),
        # A07 is heard only far away.
        *(reading("A07", now - h * HOUR, False, rssi=-126.0, snr=-18.0) for h in (9, 7, 5, 3, 1)),
        # B01 works, but most of what its device sends is refused.
        reading("B01", now - HOUR, False),
    ]
    bad = [("parking/showroom/B01/status", b'{"occupied": "maybe"}')] * 5
    return messages + bad


EXPECTED = {
    "A01": [],
    "A02": ["silent"],
    "A03": ["stuck"],
    "A04": ["flapping"],
    "A05": ["battery_low"],
    "A06": ["battery_falling"],
    "A07": ["weak_radio"],
    "B01": ["rejected"],
}
NEVER_HEARD = {"A08", "B02", "B03", "B04", "B05", "B06", "B07", "B08"}


def _problems(api: str) -> dict[str, list[str]]:
    return {s["bay"]: [p["code"] for p in s["problems"]] for s in _sensors(api).get("sensors", [])}


def test_the_api_lists_exactly_the_problems_of_each_crafted_history(
    servers: Servers, ingester: Service, fleet_api: str
) -> None:
    publish_all(servers.mqtt_url, crafted_histories(time.time_ns()))
    wanted = {**EXPECTED, **{bay: ["silent"] for bay in NEVER_HEARD}}
    wait_for(lambda: _problems(fleet_api) == wanted, 30, "the expected problems", interval_s=0.2)

    body = _sensors(fleet_api)
    assert body["site_problems"] == []
    assert body["summary"]["by_problem"]["silent"] == 1 + len(NEVER_HEARD)
    assert body["summary"]["by_problem"]["flapping"] == 1
    a04 = next(s for s in body["sensors"] if s["bay"] == "A04")
    assert a04["device"] == "showroom-pls-04" and a04["changes_last_hour"] == 24
    assert "Statuswechsel" in a04["problems"][0]["message_de"]
    assert [s["bay"] for s in _sensors(fleet_api, problem="weak_radio")["sensors"]] == ["A07"]
    detail = httpx.get(f"{fleet_api}/api/v1/sites/showroom/sensors/B01", timeout=5).json()
    assert detail["dead_letters"][0]["reason"] == "bad_schema"
    metrics = httpx.get(f"{fleet_api}/metrics", timeout=5).text
    assert 'parklotse_sensor_problems{code="flapping",site="showroom"} 1.0' in metrics
    assert f'parklotse_sensor_problems{{code="silent",site="showroom"}} {1 + len(NEVER_HEARD)}.0' in metrics


def test_changes_stored_before_the_api_started_count_in_its_first_hour(
    servers: Servers, ingester: Service, stack_env: dict[str, str], influx_db: str, tmp_path: Path
) -> None:
    # The monitor hears change events only from its start; the hour before comes from InfluxDB, read
    # once, and the events heard since are added to it (none of these is heard: all came before).
    now = time.time_ns()
    publish_all(
        servers.mqtt_url, [reading("A04", now - (50 - 2 * i) * 60 * S, i % 2 == 0) for i in range(25)]
    )
    stored = "SELECT count(occupied) FROM bay_status WHERE bay = 'A04'"
    wait_for(
        lambda: [r["count"] for r in influx_query(servers.influx_url, influx_db, stored)] == [25],
        30,
        "the readings stored",
    )

    def a04(api: str) -> dict[str, Any]:
        return next((s for s in _sensors(api).get("sensors", []) if s["bay"] == "A04"), {})

    with started_api({**stack_env, **FAST}, tmp_path / "api.log") as api:
        listening = datetime.now(UTC)  # the reports from now on count with the events heard

        def evaluated_since_listening() -> bool:
            evaluated = _sensors(api).get("evaluated_at")
            return evaluated is not None and datetime.fromisoformat(evaluated) > listening

        wait_for(evaluated_since_listening, 30, "a report made while the monitor listens")
        assert a04(api)["changes_last_hour"] == 24
        assert [p["code"] for p in a04(api)["problems"]] == ["flapping"]


def test_an_unknown_problem_code_is_refused(fleet_api: str) -> None:
    response = httpx.get(f"{fleet_api}/api/v1/sites/showroom/sensors", params={"problem": "sad"}, timeout=5)
    assert response.status_code == 422 and "problem" in response.json()["detail"]


def test_the_webhook_hears_when_a_bay_gets_a_problem_despite_a_failed_first_post(
    servers: Servers, ingester: Service, fleet_api: str, receiver: Receiver
) -> None:
    now = time.time_ns()
    publish_all(servers.mqtt_url, [reading("A05", now - HOUR, False, battery_v=3.05)])

    def raised() -> list[dict[str, Any]]:
        return [c for c in receiver.changes() if c["bay"] == "A05" and c["code"] == "battery_low"]

    change = wait_for(raised, 30, "battery_low of A05 at the webhook")[0]
    assert change["change"] == "raised" and change["device"] == "showroom-pls-05"
    assert "3.05 V" in change["message_en"] and receiver.refused == 1
