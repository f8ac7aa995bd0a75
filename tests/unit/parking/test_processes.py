"""Stopping child processes: a polite one exits on the signal, a stubborn one is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from parking.processes import stop_process, stop_processes

REPO = Path(__file__).resolve().parents[3]

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


# A parent that starts a pool worker on a long task, says both pids, and waits to be killed.
ORPHANING_PARENT = """
import multiprocessing, os, time
from concurrent.futures import ProcessPoolExecutor
from parking.processes import background_worker
if __name__ == "__main__":
    spawn = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=spawn, initializer=background_worker)
    pool.submit(time.sleep, 60)
    while not pool._processes:  # started with the first task
        time.sleep(0.01)
    print(os.getpid(), next(iter(pool._processes)), flush=True)
    time.sleep(60)
"""


def test_a_background_worker_ends_with_its_killed_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(ORPHANING_PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=REPO)
    assert parent.stdout is not None
    _, worker = (int(pid) for pid in parent.stdout.readline().split())
    assert Path(f"/proc/{worker}").exists()
    parent.kill()
    parent.wait(5)
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(worker)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its (new) parent to reap it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"
