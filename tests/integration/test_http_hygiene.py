"""HTTP hygiene of a real running API: what a careless or hostile client sends cannot hurt it.

One API for the module, with short request deadlines (1 s for headers, 2 s for a body) so that
the slow-client tests take seconds; the defaults are 10 s and 30 s.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from parklotse.servers import free_port
from tests.conftest import READY_DEADLINE_S, Servers, _healthy
from tests.helpers import Service, wait_for

pytestmark = pytest.mark.integration

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 2.0
# Closed within the deadline, with room for a busy shared machine.
SLACK_S = 5.0

SITE = {
    "type": "FeatureCollection",
    "site": {"id": "hygiene", "name": "Hygiene"},
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [10.0, 54.0]},
            "properties": {"bay": b},
        }
        for b in ("-A1", "A2")
    ],
}


@pytest.fixture(scope="module")
def api(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("hygiene")
    (folder / "sites").mkdir()
    (folder / "sites" / "hygiene.geojson").write_text(json.dumps(SITE))
    port = free_port()
    env = {
        "PARKLOTSE_MQTT_URL": servers.mqtt_url,
        "PARKLOTSE_INFLUX_URL": servers.influx_url,
        "PARKLOTSE_INFLUX_DB": "test_http_hygiene",
        "PARKLOTSE_SITES_DIR": str(folder / "sites"),
        "PARKLOTSE_API_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "PARKLOTSE_API_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "PARKLOTSE_FLEET_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }
    service = Service("api", ["api", "--port", str(port)], env, Path(folder) / "api.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(f"{url}/readyz") or not service.alive(), READY_DEADLINE_S, "API ready")
        assert service.alive(), service.output()
        yield url
    finally:
        service.stop()


def _connect(api: str) -> socket.socket:
    port = int(api.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT_S + SLACK_S)


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (socket timeout: it never did)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_last_event_id_of_5000_digits_gets_a_fresh_snapshot(api: str) -> None:
    headers = {"Last-Event-ID": "0" * 8 + "-" + "9" * 5_000}
    with httpx.stream("GET", f"{api}/api/v1/stream", headers=headers, timeout=10) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("event:"))
    assert first == "event: snapshot"


def test_a_request_whose_headers_never_finish_is_closed_within_the_header_timeout(api: str) -> None:
    with _connect(api) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        answer = _read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert HEADER_TIMEOUT_S * 0.9 <= elapsed < HEADER_TIMEOUT_S + SLACK_S


def test_a_trickling_client_cannot_stretch_the_header_timeout(api: str) -> None:
    with _connect(api) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            while time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S:
                sock.sendall(b"X: y\r\n")  # one header line at a time, never the blank line
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ") and elapsed < HEADER_TIMEOUT_S + SLACK_S


def test_many_slow_connections_do_not_starve_others_and_are_all_closed_in_time(api: str) -> None:
    slow = [_connect(api) for _ in range(200)]
    try:
        started = time.monotonic()
        for sock in slow:
            sock.sendall(b"GET /api/v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert httpx.get(f"{api}/api/v1/sites", timeout=10).status_code == 200  # served meanwhile
        answers = [_read_until_closed(sock) for sock in slow]
        elapsed = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
    assert elapsed < HEADER_TIMEOUT_S + SLACK_S


def _post_one_byte(api: str, declared: int) -> tuple[bytes, float]:
    """A POST declaring ``declared`` bytes of body and sending one: the answer, and when it closed."""
    with _connect(api) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /api/v1/simulator HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer demo-token\r\nContent-Length: %d\r\n\r\n{" % declared
        )
        answer = _read_until_closed(sock)
        return answer, time.monotonic() - started


def test_a_post_declaring_100_mb_and_sending_1_byte_is_answered_413_and_closed(api: str) -> None:
    answer, elapsed = _post_one_byte(api, 100 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert elapsed < BODY_TIMEOUT_S + SLACK_S


def test_a_body_that_stops_arriving_is_closed_within_the_body_timeout(api: str) -> None:
    answer, elapsed = _post_one_byte(api, 100)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")
    assert BODY_TIMEOUT_S * 0.9 <= elapsed < BODY_TIMEOUT_S + SLACK_S


def test_oversized_headers_are_refused_431(api: str) -> None:
    with _connect(api) as sock:
        sock.sendall(b"GET /api/v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(100):
                sock.sendall(b"X-Padding: " + b"p" * 1_000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")


def _get_paths(api: str) -> list[str]:
    """Every GET operation of the OpenAPI document, its path parameters filled in."""
    document = httpx.get(f"{api}/openapi.json", timeout=10).json()
    paths = []
    for path, operations in document["paths"].items():
        if "get" in operations:
            paths.append(path.replace("{site}", "hygiene").replace("{bay}", "A2"))
    return [*paths, "/", "/openapi.json", "/static/kiosk.js"]


def _get_and_head(url: str) -> tuple[httpx.Response, httpx.Response]:
    return httpx.get(url, timeout=60), httpx.head(url, timeout=60)


def test_head_answers_what_get_answers_without_a_body(api: str) -> None:
    paths = [p for p in _get_paths(api) if p != "/api/v1/stream"]  # endless: the next test
    with ThreadPoolExecutor(4) as pool:  # the history routes query InfluxDB; side by side is quicker
        answers = dict(zip(paths, pool.map(_get_and_head, [f"{api}{p}" for p in paths]), strict=True))
    for path, (got, head) in answers.items():
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path
    assert sum(head.status_code == 200 for _, head in answers.values()) >= 10


def test_head_of_the_live_stream_answers_at_once(api: str) -> None:
    head = httpx.head(f"{api}/api/v1/stream", timeout=10)
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/event-stream")


def test_csv_export_escapes_cells_a_spreadsheet_would_run(servers: Servers, api: str) -> None:
    influx = servers.influx_url
    httpx.post(f"{influx}/query", params={"q": 'CREATE DATABASE "test_http_hygiene"'}).raise_for_status()
    lines = "bay_status,bay=-A1,site=hygiene occupied=1i 1741219200000000000"  # 2025-03-06T00:00Z
    httpx.post(f"{influx}/write", params={"db": "test_http_hygiene"}, content=lines).raise_for_status()
    response = httpx.get(
        f"{api}/api/v1/sites/hygiene/history.csv",
        params={"start": "2025-03-05T00:00:00Z", "end": "2025-03-07T00:00:00Z"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[1:] == [["2025-03-06T00:00:00.000Z", "hygiene", "'-A1", "1"]]
