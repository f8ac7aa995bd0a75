"""The ingest process notices a core that ended by itself and stops with it."""

from __future__ import annotations

import asyncio

import pytest

from ingest.main import _run_until_stopped


class _Crashing:
    async def run(self, stop: asyncio.Event) -> None:
        raise RuntimeError("core crashed")


class _Returning:
    async def run(self, stop: asyncio.Event) -> None:
        return None


def test_a_crashed_ingester_ends_the_process_with_its_error() -> None:
    stop = asyncio.Event()
    with pytest.raises(RuntimeError, match="core crashed"):
        asyncio.run(_run_until_stopped(_Crashing(), stop, []))  # type: ignore[arg-type]
    assert stop.is_set()


def test_an_ingester_that_returns_without_a_stop_ends_the_process_non_zero() -> None:
    with pytest.raises(SystemExit) as ended:
        asyncio.run(_run_until_stopped(_Returning(), asyncio.Event(), []))  # type: ignore[arg-type]
    assert ended.value.code == 1
