"""A reading refused for an unknown bay is stored at its first receive time once the site file has it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from parking.settings import DEFAULT_SITES_DIR
from parking.timestamps import parse_rfc3339
from parklotse.servers import free_port
from tests.conftest import Servers, _healthy
from tests.helpers import REPO, Service, influx_query, publish_all, wait_for

pytestmark = pytest.mark.integration


def _start_ingester(env: dict[str, str], log: Path) -> Service:
    service = Service("ingest", ["ingest"], env, log).start()
    port = env["PARKLOTSE_METRICS_PORT"]
    wait_for(lambda: _healthy(f"http://127.0.0.1:{port}/healthz") or not service.alive(), 20, "ingester")
    assert service.alive(), service.output()
    return service


def _parklotse(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parklotse", *argv],
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fixing_the_site_file_and_replaying_stores_the_refused_reading(
    servers: Servers, influx_db: str, stack_env: dict[str, str], tmp_path: Path
) -> None:
    sites = tmp_path / "sites"
    sites.mkdir()
    site_file = sites / "showroom.geojson"
    site_file.write_text(
        (DEFAULT_SITES_DIR / "showroom.geojson").read_text(encoding="utf-8"), encoding="utf-8"
    )
    env = {**stack_env, "PARKLOTSE_SITES_DIR": str(sites)}
    letters = Path(env["PARKLOTSE_DEADLETTER_DIR"])

    # 1. A sensor nobody put in the site file yet: refused, kept.
    ingester = _start_ingester(env, tmp_path / "ingest-1.log")
    publish_all(servers.mqtt_url, [("parking/showroom/X01/status", b'{"occupied": true}')])
    wait_for(lambda: (letters / "deadletters.jsonl").exists(), 10, "the dead letter on disk")
    ingester.stop()
    [record] = [json.loads(line) for line in (letters / "deadletters.jsonl").read_text().splitlines()]
    assert record["reason"] == "unknown_bay"
    summary = _parklotse(env, "deadletters")
    assert summary.returncode == 0, summary.stderr
    assert "unknown_bay: 1" in summary.stdout and "parking/showroom/X01/status" in summary.stdout

    # 2. The bay is added to the site file and the ingester restarted with it.
    document = json.loads(site_file.read_text(encoding="utf-8"))
    first_bay = next(f for f in document["features"] if "bay" in f.get("properties", {}))
    document["features"].append({**first_bay, "properties": {"bay": "X01", "zone": "A"}})
    site_file.write_text(json.dumps(document), encoding="utf-8")
    ingester = _start_ingester(env, tmp_path / "ingest-2.log")
    try:
        # 3. Replayed: stored at the time the broker first delivered it, not now.
        replayed = _parklotse(env, "deadletters", "replay", "--reason", "unknown_bay")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 1 dead letters" in replayed.stdout
        rows = wait_for(
            lambda: influx_query(servers.influx_url, influx_db, "SELECT * FROM bay_status WHERE bay = 'X01'"),
            10,
            "the replayed reading in InfluxDB",
        )
        assert rows == [
            {"time": parse_rfc3339(record["received_at"]), "bay": "X01", "site": "showroom", "occupied": 1}
        ]
    finally:
        ingester.stop()


def test_replaying_to_a_broker_that_is_not_there_fails_clearly(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    letters = Path(stack_env["PARKLOTSE_DEADLETTER_DIR"])
    letters.mkdir(parents=True)
    (letters / "deadletters.jsonl").write_text(
        json.dumps(
            {
                "reason": "unknown_bay",
                "detail": "",
                "topic": "parking/showroom/X01/status",
                "payload_b64": "e30=",
                "payload_bytes": 2,
                "received_at": "2026-11-21T10:00:00.000Z",
            }
        )
        + "\n"
    )
    result = _parklotse(
        {**stack_env, "PARKLOTSE_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}"}, "deadletters", "replay"
    )
    assert result.returncode == 1
    assert "cannot connect to the broker" in result.stderr
