"""Stopping child processes: ask (SIGTERM, or SIGINT for a command that expects Ctrl-C), wait, then kill."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from typing import Any


def stop_process(
    process: subprocess.Popen[Any],
    timeout_s: float = 15.0,
    *,
    sig: int = signal.SIGTERM,
    kill_wait_s: float = 5.0,
) -> int | None:
    """Send ``sig``, wait up to ``timeout_s`` for the process to exit, else SIGKILL it.

    Returns its exit code; ``subprocess.TimeoutExpired`` if even SIGKILL did not end it in ``kill_wait_s``.
    """
    stop_processes([process], timeout_s, sig=sig, kill_wait_s=kill_wait_s)
    return process.returncode


def stop_processes(
    processes: Sequence[subprocess.Popen[Any]],
    timeout_s: float = 15.0,
    *,
    sig: int = signal.SIGTERM,
    kill_wait_s: float = 5.0,
) -> None:
    """``stop_process`` for several, in order: all are signalled first, so they stop side by side."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send_signal(sig)
    for process in running:
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(kill_wait_s)
