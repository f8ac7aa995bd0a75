"""Stopping child processes: a polite one exits on the signal, a stubborn one is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from parking.processes import stop_process, stop_processes

STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
    "time.sleep(60)"
)
POLITE = "import time; print('ready', flush=True); time.sleep(60)"


def _start(code: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    return process


def test_a_process_that_obeys_sigterm_exits_with_it() -> None:
    with _start(POLITE) as process:
        assert stop_process(process) == -signal.SIGTERM


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    with _start(STUBBORN) as process:
        started = time.monotonic()
        assert stop_process(process, timeout_s=0.5) == -signal.SIGKILL
        assert time.monotonic() - started < 30


def test_several_are_stopped_each_as_it_needs() -> None:
    with _start(STUBBORN) as stubborn, _start(POLITE) as polite:
        stop_processes([stubborn, polite], timeout_s=0.5)
        assert (stubborn.returncode, polite.returncode) == (-signal.SIGKILL, -signal.SIGTERM)


def test_a_process_that_has_exited_is_left_alone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(30)
    assert stop_process(process) == 0
