"""Identical history reads in flight at once are made once."""

from __future__ import annotations

import asyncio

import pytest

from parking.history.coalescer import Coalescer


def test_identical_reads_in_flight_share_one_call() -> None:
    calls: list[str] = []

    async def read(name: str) -> str:
        calls.append(name)
        await asyncio.sleep(0.01)
        return name.upper()

    async def scenario() -> list[str]:
        reads = Coalescer()
        results = await asyncio.gather(
            reads.run("a", lambda: read("a")),
            reads.run("a", lambda: read("a")),
            reads.run("b", lambda: read("b")),
        )
        later = await reads.run("a", lambda: read("a"))  # after the first finished: read again
        return [*results, later]

    assert asyncio.run(scenario()) == ["A", "A", "B", "A"]
    assert calls == ["a", "b", "a"]


def test_a_failure_reaches_every_waiter_and_a_cancelled_waiter_cancels_nothing() -> None:
    async def failing() -> str:
        await asyncio.sleep(0.01)
        raise RuntimeError("InfluxDB went away")

    async def slow() -> str:
        await asyncio.sleep(0.02)
        return "done"

    async def scenario() -> str:
        reads = Coalescer()
        first = asyncio.ensure_future(reads.run("x", failing))
        second = asyncio.ensure_future(reads.run("x", failing))
        for waiter in (first, second):
            with pytest.raises(RuntimeError, match="went away"):
                await waiter
        impatient = asyncio.ensure_future(reads.run("y", slow))
        patient = asyncio.ensure_future(reads.run("y", slow))
        await asyncio.sleep(0)
        impatient.cancel()
        return await patient

    assert asyncio.run(scenario()) == "done"
