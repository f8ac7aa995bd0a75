"""Child processes: stopping them (ask with SIGTERM, or SIGINT for a command that expects Ctrl-C,
wait, then kill), and setting up the worker processes that do background work for a service."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

BACKGROUND_NICENESS = 10  # background work: requests, ingest and the live simulator come first
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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


def background_worker(niceness: int = BACKGROUND_NICENESS) -> None:
    """A ``ProcessPoolExecutor`` worker's set-up (its ``initializer``): a lower priority, and an end
    with the process it works for (``end_with_parent``)."""
    with contextlib.suppress(OSError):  # not allowed here: run at the same priority
        os.nice(niceness)
    end_with_parent()


def end_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent ends (Linux; elsewhere nothing).

    A pool's worker whose parent was killed while the worker ran a task (SIGKILL, or a signal before
    the pool was shut down) otherwise lives on, waiting for a next task that never comes, with its
    memory and a resource tracker. The signal comes when the parent's *thread* that started the worker
    ends: the pools here are fed from the thread of the event loop or of the simulator's loop, which
    lives as long as the process.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent ended before the request
        os.kill(os.getpid(), signal.SIGTERM)
