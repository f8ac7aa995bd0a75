"""Simulated history against a real InfluxDB: the backfill fills the history panels, once.

The model is the real town model over one week (a few seconds); the API runs as a subprocess
started after the backfill, as in the demo, so its rollup keeper builds the rollups at start-up.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parking.processes import stop_process
from parking.queries import count_points
from parking.settings import DEFAULT_SITES_DIR
from parking.store import InfluxStore
from parklotse.backfill import Outcome, backfill
from parklotse.servers import free_port
from tests.conftest import Servers
from tests.helpers import REPO, Service, wait_for

pytestmark = pytest.mark.integration

WEEKS = 1


def run_backfill(servers: Servers, db: str, now_ns: int) -> list[Outcome]:
    async def run() -> list[Outcome]:
        async with InfluxStore(servers.influx_url, db, timeout_s=60) as store:
            return await backfill(store, ["town-centre"], DEFAULT_SITES_DIR, weeks=WEEKS, now_ns=now_ns)

    return asyncio.run(run())


def points(servers: Servers, db: str, site: str) -> int:
    async def run() -> int:
        async with InfluxStore(servers.influx_url, db) as store:
            return await count_points(store, site)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def backfilled(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """One backfill of a week and an API started after it: (API url, database, when)."""
    db = f"test_backfill_{uuid.uuid4().hex[:8]}"
    now = time.time_ns()
    outcomes = run_backfill(servers, db, now)
    assert [o.site for o in outcomes if o.record is not None] == ["town-centre", "showroom"]
    env = {
        "PARKLOTSE_MQTT_URL": servers.mqtt_url,
        "PARKLOTSE_INFLUX_URL": servers.influx_url,
        "PARKLOTSE_INFLUX_DB": db,
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    api = Service(
        "api", ["api", "--port", str(port)], env, tmp_path_factory.mktemp("api") / "api.log"
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: heatmap_ready(url) or not api.alive(), 90, "rollups of the backfill")
        assert api.alive(), api.output()
        yield url, db, now
    finally:
        api.stop()


def heatmap_ready(url: str) -> bool:
    try:
        return (
            httpx.get(f"{url}/api/v1/sites/town-centre/heatmap", params={"weeks": WEEKS}).status_code == 200
        )
    except httpx.HTTPError:
        return False


def ok(url: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{url}/api/v1/sites/{path}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_backfill_fills_the_heatmap(backfilled: tuple[str, str, int]) -> None:
    url, _, _ = backfilled
    for site in ("town-centre", "showroom"):
        heat = ok(url, f"{site}/heatmap", weeks=WEEKS)
        cells = [v for row in heat["values"] for v in row]
        assert sum(v is not None for v in cells) >= 160, heat
        assert 0 < max(v for v in cells if v is not None) <= 1


def test_the_backfill_fills_the_last_24_hours(backfilled: tuple[str, str, int]) -> None:
    url, _, _ = backfilled
    day = ok(url, "town-centre/occupancy", every="1h")
    values = [p["occupancy"] for p in day["points"]]
    assert len(values) >= 24 and all(v is not None for v in values[:-1])
    assert all(p["reporting"] == 720 for p in day["points"][:-1])


def test_a_simulated_site_shows_its_latest_simulated_day(backfilled: tuple[str, str, int]) -> None:
    url, _, _ = backfilled
    day = ok(url, "town-centre/simulated-day", every="1h")
    assert day["timeline"] == "simulated" and day["model_estimate"] is True
    assert day["backfill"]["scenario"] == "town-centre" and day["backfill"]["seed"] == 1
    reference = day["reference"]
    assert reference["day_type"] == day["day_type"]
    assert [p["hour"] for p in reference["points"]][:3] == [0.0, 1.0, 2.0]
    assert all(p["occupancy"] is not None for p in reference["points"])
    heat = ok(url, "town-centre/heatmap", weeks=WEEKS, end=day["heatmap_end"])
    assert heat["end"] == day["heatmap_end"]


def test_a_second_backfill_writes_nothing(servers: Servers, backfilled: tuple[str, str, int]) -> None:
    _, db, now = backfilled
    before = points(servers, db, "town-centre"), points(servers, db, "showroom")
    outcomes = run_backfill(servers, db, now + 60 * 1_000_000_000)
    assert [o.record for o in outcomes] == [None, None]
    assert (points(servers, db, "town-centre"), points(servers, db, "showroom")) == before


def test_the_demo_without_backfill_writes_no_history_and_prints_where_staff_go(tmp_path: Path) -> None:
    port = free_port()
    flags = ["--no-backfill", "--port", str(port), "--state-dir", str(tmp_path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "parklotse", "demo", *flags],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    running = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Parklotse demo is running"):
                running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert running.wait(120), lines
    finally:
        stop_process(process, 90, sig=signal.SIGINT, kill_wait_s=10)
        reader.join(10)
        assert process.stdout is not None
        process.stdout.close()
    page = f"http://127.0.0.1:{port}/"
    assert lines[0] == f"Parklotse demo: live page {page}  ·  staff page {page}staff (token: demo-token)"
    assert not [line for line in lines if "simulated history" in line]
