"""A fresh demo, as a new user starts it: the page's history panels are full from the first minute.

The demo writes four weeks of simulated history before the page opens. How long that takes is a
figure for the demo's own output and the README ("history panels ready after … s"), not a timed
assertion here: the deadline below only stops a hung demo.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from parklotse.servers import free_port
from tests.browser.conftest import Tab
from tests.browser.test_kiosk import assert_stays_local, open_kiosk
from tests.helpers import REPO, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]
DEADLINE_S = 300.0  # for the whole start on a busy machine; a quiet one needs well under a minute


def test_a_fresh_demo_shows_a_filled_heatmap_and_day_chart(tmp_path: Path, tab: Tab) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    started = time.monotonic()
    with log.open("w") as out:
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parklotse",
                "demo",
                "--state-dir",
                str(tmp_path / "state"),
                "--port",
                str(port),
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: "is running" in log.read_text() or demo.poll() is not None, DEADLINE_S, "the demo")
        assert demo.poll() is None, log.read_text()
        open_kiosk(tab, url)
        page = tab.page
        for card in ("#heat-card", "#occ-card"):
            left_ms = max(1_000.0, (started + DEADLINE_S - time.monotonic()) * 1000)
            page.wait_for_selector(f"{card}[data-state=ok]", timeout=left_ms)
        filled = time.monotonic() - started
        # The heatmap holds four weeks: every weekday row has values, not one dot.
        cells = page.evaluate(
            "() => { const z = document.getElementById('heatmap').data[0].z;"
            " return z.map(row => row.filter(v => v !== null).length); }"
        )
        assert len(cells) == 7 and min(cells) >= 12, cells
        tab.screenshot("fresh-demo")
        assert_stays_local(tab)
        assert tab.console_errors() == []
        print(f"fresh demo: history panels filled {filled:.1f} s after the demo command")
        # The simulator announces itself once its model is built, which may be after the panels fill.
        wait_for(lambda: httpx.get(f"{url}/api/v1/simulators", timeout=5).json(), 60, "the demo's simulator")
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
