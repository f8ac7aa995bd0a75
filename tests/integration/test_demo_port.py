"""The demo keeps its address; when another program holds it, the demo's first line says so."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from parklotse.demo import _kill_leftovers
from tests.helpers import REPO

pytestmark = pytest.mark.integration
DEMO = [sys.executable, "-m", "parklotse", "demo", "--scenario", "showroom", "--no-backfill"]


def first_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout_s)
    assert lines, f"no line within {timeout_s} s"
    return lines[0].rstrip("\n")


def test_the_demo_says_on_its_first_line_which_port_it_uses_instead_and_why(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = int(other.getsockname()[1])
        process = subprocess.Popen(
            [*DEMO, "--port", str(taken), "--state-dir", str(tmp_path)],
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = first_line(process, 30)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate(timeout=10)
                _kill_leftovers(tmp_path / "pids.json")  # the servers it had started
    assert line.startswith(
        f"parklotse demo: port {taken} is in use by another program, so the live page is on port "
    )
    assert line.endswith("instead (stop that program or choose one with --port)")
