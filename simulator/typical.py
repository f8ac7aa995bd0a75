"""A typical day, with its spread: N simulated days of the running settings, computed in the background.

The live day is one draw of the drivers; the headline is what the same settings give on N days of the
same kind (the preset's), the mean and the 10-90 % band of what the sensors saved, per day and per
clock hour. It is recomputed at start and whenever preset, steering, share or latency change. The days
run in a separate, low-priority process, a few days per task, so that the live loop keeps its pace and
the status can report progress; a result for settings that changed meanwhile is thrown away.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from parking.processes import background_worker
from parking.simulator_messages import Band, CurvePoint, HourSaved, SavedBand, Steering, TypicalDay

log = logging.getLogger(__name__)

FIGURES = ("search_min", "km", "co2_kg")
DEFAULT_DAYS = 14
DAYS_PER_TASK = 2


@dataclass(frozen=True, slots=True)
class Settings:
    scenario_path: str
    preset: str
    steering: Steering
    guidance_share: float
    sensor_latency_s: float


@dataclass(frozen=True, slots=True)
class Chunk:
    """What one task returns: a few days' figures (plain data, so it crosses process borders cheaply)."""

    per_day: list[list[float]]  # (days, 3)
    per_hour: list[list[list[float]]]  # (days, 24, 3)
    curve: list[dict[str, Any]]


@lru_cache(maxsize=4)
def _model(scenario_path: str, sites_dir: str) -> tuple[Any, Any, Any]:
    from simulator.grid import build_network, resolve_site
    from simulator.scenario import load_scenario

    scenario = load_scenario(Path(scenario_path))
    site = resolve_site(scenario, Path(sites_dir), scenario_path)
    return scenario, site, build_network(site, scenario.space)


def simulate_chunk(sites_dir: str, settings: Settings, seed: int, days: int) -> Chunk:
    """``days`` days of the preset's kind with these settings (runs in the worker process)."""
    from simulator.offline import saved_days

    scenario, site, network = _model(settings.scenario_path, sites_dir)
    result = saved_days(
        scenario,
        site,
        seed,
        days,
        preset=settings.preset,
        steering=settings.steering,
        share=settings.guidance_share,
        latency_s=settings.sensor_latency_s,
        network=network,
    )
    return Chunk(result.per_day.tolist(), result.per_hour.tolist(), list(result.curve))


def _band(values: np.ndarray) -> Band:
    return Band(
        mean=round(float(values.mean()), 4),
        p10=round(float(np.quantile(values, 0.1)), 4),
        p90=round(float(np.quantile(values, 0.9)), 4),
    )


def _merge_curves(curves: list[list[dict[str, Any]]]) -> list[CurvePoint]:
    """Points of the same occupancy bin from several tasks, weighted by their searches."""
    sums: dict[float, list[float]] = {}
    for curve in curves:
        for point in curve:
            n = float(point.get("searches") or 0)
            entry = sums.setdefault(float(point["occupancy"]), [0.0, 0.0, 0.0, 0.0, 0.0])
            for k, key in ((0, "without_sensors_min"), (2, "with_sensors_min")):
                value = point.get(key)
                if value is not None and n > 0:
                    entry[k] += value * n
                    entry[k + 1] += n
            entry[4] += n
    points = []
    for occupancy in sorted(sums):
        without, n_without, with_, n_with, searches = sums[occupancy]
        points.append(
            CurvePoint(
                occupancy=min(max(occupancy, 0.0), 1.0),
                without_sensors_min=round(without / n_without, 3) if n_without else None,
                with_sensors_min=round(with_ / n_with, 3) if n_with else None,
                searches=int(searches),
            )
        )
    return points


def summarise(settings: Settings, chunks: list[Chunk], computed_at: datetime) -> TypicalDay:
    """Mean and 10-90 % band over all days of the chunks (pure)."""
    per_day = np.array([row for chunk in chunks for row in chunk.per_day], dtype=float)
    per_hour = np.array([day for chunk in chunks for day in chunk.per_hour], dtype=float)
    return TypicalDay(
        preset=settings.preset,
        steering=settings.steering,
        guidance_share=settings.guidance_share,
        sensor_latency_s=settings.sensor_latency_s,
        days=len(per_day),
        per_day=SavedBand(**{name: _band(per_day[:, k]) for k, name in enumerate(FIGURES)}),
        per_hour=[
            HourSaved(hour=hour, **{name: _band(per_hour[:, hour, k]) for k, name in enumerate(FIGURES)})
            for hour in range(24)
            if per_hour[:, hour, :].any()
        ],
        curve=_merge_curves([chunk.curve for chunk in chunks]),
        computed_at=computed_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def background_executor() -> Executor:
    """One worker process, started fresh (spawn: the parent runs MQTT threads), at low priority."""
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=background_worker
    )


class TypicalDays:
    """Keeps the typical day of the running settings up to date; poll it from the live loop."""

    def __init__(
        self,
        sites_dir: Path,
        *,
        days: int = DEFAULT_DAYS,
        per_task: int = DAYS_PER_TASK,
        seed: int = 1,
        executor: Callable[[], Executor] = background_executor,
    ) -> None:
        self._sites_dir = str(sites_dir)
        self.days = days
        self.per_task = per_task
        self.seed = seed
        self._make_executor = executor
        self._executor: Executor | None = None
        self.settings: Settings | None = None
        self._futures: list[Future[Chunk]] = []
        self._chunks: list[Chunk] = []
        self.result: TypicalDay | None = None
        self._computed_for: Settings | None = None
        self.error: str | None = None

    @property
    def progress(self) -> float | None:
        """Share of the current settings' days done, None when there is nothing to compute."""
        if self.settings is None:
            return None
        tasks = len(self._futures)
        return 1.0 if tasks == 0 else sum(f.done() for f in self._futures) / tasks

    def request(self, settings: Settings) -> None:
        """Compute for these settings, unless they are the ones already computed or being computed."""
        if settings == self.settings:
            return
        for future in self._futures:
            future.cancel()  # a task already running finishes and is ignored
        self.settings = settings
        self._chunks = []
        self.error = None
        if self._computed_for != settings:
            self.result = None  # never show a typical day of other settings
        if self._executor is None:
            self._executor = self._make_executor()
        sizes = [min(self.per_task, self.days - start) for start in range(0, self.days, self.per_task)]
        self._futures = [
            self._executor.submit(simulate_chunk, self._sites_dir, settings, self.seed + 1000 * k, size)
            for k, size in enumerate(sizes)
        ]

    def poll(self) -> TypicalDay | None:
        """Collect what finished; the typical day once every task of the current settings is done."""
        if self.settings is None or not self._futures or not all(f.done() for f in self._futures):
            return self.result
        try:
            chunks = [future.result() for future in self._futures]
        except Exception as exc:  # a failed background run must not stop the live demo
            self.error = f"typical day not computed: {exc}"
            log.warning("%s", self.error)
            self._futures = []
            return self.result
        self._futures = []
        self.result = summarise(self.settings, chunks, datetime.now(UTC))
        self._computed_for = self.settings
        return self.result

    def close(self) -> None:
        """Stop at once: a running task is of no use any more, and exit would wait for it."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # ProcessPoolExecutor keeps its workers in _processes (cleared by shutdown); terminating them
        # lets this process exit now instead of after the running task.
        workers = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
