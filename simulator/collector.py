"""Python's cyclic garbage collector, held off while a batch run simulates.

A city day allocates millions of short-lived tuples and floats (events, turns, records) and keeps
hundreds of MiB of long-lived ones (turn tables, parked cars). Every few hundred allocations the
collector walks the young objects, and now and then all of them: a fifth of a compiled city day's
CPU went there (perf, 2026-12-02), yet the engine makes no reference cycles it relies on the
collector to free (a city day's peak memory is the same with it off). Batch runs therefore pause
it; the live simulator, which runs a few seconds of the town at a time, leaves it alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block; it runs again as before afterwards (nested: the outer
    block decides). Reference counting, which frees almost everything the engine drops, goes on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
