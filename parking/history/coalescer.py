"""Identical history reads in flight at the same moment, made once (many screens ask the same)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")


# How old an answer reaching the present may be: a 10,000-bay site's last hour of raw readings
# takes InfluxDB a third of a second, which every screen would otherwise wait for.
LIVE_REUSE_S = 5.0


class Coalescer:
    """Identical reads in flight at the same time go to InfluxDB once (many screens ask the same).

    No caching, except at the live edge: a read whose range reaches the present may be given
    ``reuse_s`` (see ``LIVE_REUSE_S``); a result of it up to that old is then reused, and once it
    is older than a fifth of that a fresh read starts in the background. Ranges in the past are
    always read afresh. Kept results are bounded (``max_kept``) and dropped once too old.
    """

    def __init__(self, max_kept: int = 256) -> None:
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self._kept: dict[Hashable, tuple[float, float, Any]] = {}  # key -> (refresh at, expires, result)
        self.max_kept = max_kept

    async def run(self, key: Hashable, make: Callable[[], Awaitable[T]], *, reuse_s: float = 0.0) -> T:
        kept = self._kept.get(key) if reuse_s > 0 else None
        if kept is not None:
            refresh_at, expires, result = kept
            now = time.monotonic()
            if now < expires:
                if now >= refresh_at and key not in self._inflight:
                    self._start(key, make, reuse_s)
                return cast(T, result)
        shared = self._inflight.get(key) or self._start(key, make, reuse_s)
        # shield: a client going away must not cancel the read others wait for.
        return cast(T, await asyncio.shield(shared))

    def _start(
        self, key: Hashable, make: Callable[[], Awaitable[Any]], reuse_s: float
    ) -> asyncio.Future[Any]:
        started = time.monotonic()
        shared = asyncio.ensure_future(make())
        self._inflight[key] = shared
        shared.add_done_callback(lambda done: self._finish(key, done, started, reuse_s))
        return shared

    def _finish(self, key: Hashable, done: asyncio.Future[Any], started: float, reuse_s: float) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if done.cancelled():
            return
        # retrieved, so an error nobody awaited any more is not reported as lost
        if done.exception() is None and reuse_s > 0:
            now = time.monotonic()
            for old in [k for k, (_, expires, _) in self._kept.items() if expires <= now]:
                del self._kept[old]
            while len(self._kept) >= self.max_kept:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = (started + reuse_s / 5, started + reuse_s, done.result())
