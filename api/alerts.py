"""The alert webhook: a JSON POST when bays get or lose a problem, sent without ever blocking.

Messages wait in a bounded queue; when it is full the oldest is dropped and counted (the metrics
say so), because the newest state matters most to whoever reads the alerts. A failed POST is
retried with exponential backoff, in order, then given up and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)


@dataclass
class WebhookCounts:
    sent: int = 0
    failed_attempts: int = 0
    dropped_overflow: int = 0
    dropped_gave_up: int = 0


class AlertWebhook:
    def __init__(
        self,
        url: str,
        *,
        queue_size: int = 100,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 300.0,
        attempts: int = 10,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.attempts = attempts
        self.counts = WebhookCounts()
        self._queue: deque[dict[str, Any]] = deque(maxlen=queue_size)
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), transport=transport)
        self._task: asyncio.Task[None] | None = None

    def offer(self, message: dict[str, Any]) -> None:
        """Queue a message; never waits. A full queue loses its oldest message."""
        if len(self._queue) == self._queue.maxlen:
            self.counts.dropped_overflow += 1
        self._queue.append(message)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alert-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._deliver(self._queue.popleft())

    async def _deliver(self, message: dict[str, Any]) -> None:
        delay = self.retry_initial_s
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post(self.url, json=message)
                if response.status_code < 300:
                    self.counts.sent += 1
                    return
                problem = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses this message; sending it again will not help
            except httpx.HTTPError as exc:
                problem = str(exc) or type(exc).__name__
            self.counts.failed_attempts += 1
            if attempt < self.attempts:
                log.info("alert webhook failed (%s), attempt %d, retrying in %.1f s", problem, attempt, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
        self.counts.dropped_gave_up += 1
        log.warning("alert webhook gave up on a message to %s: %s", self.url, problem)
