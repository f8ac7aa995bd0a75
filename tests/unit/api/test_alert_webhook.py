"""The alert webhook never blocks: a bounded queue that drops the oldest, retries with backoff."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from api.alerts import AlertWebhook
from api.settings import ApiSettings


def webhook(handler: Any, **options: Any) -> AlertWebhook:
    defaults: dict[str, Any] = {"retry_initial_s": 0.001, "retry_max_s": 0.004, "attempts": 4}
    return AlertWebhook(
        "http://receiver.test/hook", transport=httpx.MockTransport(handler), **{**defaults, **options}
    )


async def drain(hook: AlertWebhook, done: Any) -> None:
    """Run the sender until ``done()`` holds, failing after a deadline of 5 s."""
    hook.start()
    try:
        for _ in range(5000):
            if done():
                return
            await asyncio.sleep(0.001)
        raise AssertionError("the webhook did not get there within 5 s")
    finally:
        await hook.stop()


def test_a_full_queue_drops_the_oldest_message_and_counts_it() -> None:
    received: list[int] = []

    def receive(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content)["n"])
        return httpx.Response(204)

    async def run() -> AlertWebhook:
        hook = webhook(receive, queue_size=2)
        for n in range(5):
            hook.offer({"n": n})
        await drain(hook, lambda: hook.pending == 0 and len(received) == 2)
        return hook

    hook = asyncio.run(run())
    assert received == [3, 4]
    assert hook.counts.dropped_overflow == 3 and hook.counts.sent == 2


def test_a_failing_receiver_is_retried_until_it_accepts() -> None:
    answers = iter([500, 503, 204])

    async def run() -> AlertWebhook:
        hook = webhook(lambda r: httpx.Response(next(answers)))
        hook.offer({"n": 1})
        await drain(hook, lambda: hook.counts.sent == 1)
        return hook

    hook = asyncio.run(run())
    assert hook.counts.failed_attempts == 2 and hook.counts.dropped_gave_up == 0


def test_an_unreachable_receiver_is_given_up_after_the_attempts_and_counted() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def run() -> AlertWebhook:
        hook = webhook(refuse, attempts=3)
        hook.offer({"n": 1})
        await drain(hook, lambda: hook.counts.dropped_gave_up == 1)
        return hook

    hook = asyncio.run(run())
    assert hook.counts.failed_attempts == 3 and hook.counts.sent == 0


def test_a_message_the_receiver_refuses_is_not_sent_again() -> None:
    calls: list[int] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400)

    async def run() -> AlertWebhook:
        hook = webhook(refuse)
        hook.offer({"n": 1})
        await drain(hook, lambda: hook.counts.dropped_gave_up == 1)
        return hook

    asyncio.run(run())
    assert calls == [1]


def test_a_webhook_url_that_is_not_http_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match=r"ftp://example\.org/hook"):
        ApiSettings(alert_webhook_url="ftp://example.org/hook")
    assert ApiSettings(alert_webhook_url="").alert_webhook_url is None
