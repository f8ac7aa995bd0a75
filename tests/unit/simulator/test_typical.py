"""The typical day: N days of the running settings in the background, mean and 10-90 % band."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np

from parking.settings import PACKAGED_SITES_DIR
from simulator.scenario import resolve_scenario_path
from simulator.typical import Chunk, Settings, TypicalDays, summarise
from tests.helpers import wait_for

TOWN = str(resolve_scenario_path("town-centre"))
WERKTAG = Settings(TOWN, "werktag", "app", 0.3, 30.0)


def _chunk(days: list[float]) -> Chunk:
    per_hour = [[[0.0, 0.0, 0.0] for _ in range(24)] for _ in days]
    for d, value in enumerate(days):
        per_hour[d][11] = [value, value / 10, value / 100]
    return Chunk([[v, v / 10, v / 100] for v in days], per_hour, [])


def test_the_band_is_the_mean_and_the_10_and_90_percent_quantiles_over_all_days() -> None:
    values = [float(v) for v in range(10)]
    day = summarise(WERKTAG, [_chunk(values[:5]), _chunk(values[5:])], datetime(2026, 11, 21, tzinfo=UTC))
    assert day.days == 10
    assert day.per_day.search_min.mean == 4.5
    assert day.per_day.search_min.p10 == round(float(np.quantile(values, 0.1)), 4)
    assert day.per_day.search_min.p90 == round(float(np.quantile(values, 0.9)), 4)
    assert [h.hour for h in day.per_hour] == [11]  # hours where nothing was saved on any day are left out
    assert day.preset == "werktag" and day.model_estimate is True


def test_curve_points_of_several_runs_are_weighted_by_their_searches() -> None:
    first = Chunk(
        [], [], [{"occupancy": 0.9, "without_sensors_min": 2.0, "with_sensors_min": 1.0, "searches": 30}]
    )
    second = Chunk(
        [], [], [{"occupancy": 0.9, "without_sensors_min": 4.0, "with_sensors_min": None, "searches": 10}]
    )
    merged = summarise(WERKTAG, [_chunk([1.0]), first, second], datetime.now(UTC)).curve
    assert len(merged) == 1 and merged[0].searches == 40
    assert merged[0].without_sensors_min == 2.5 and merged[0].with_sensors_min == 1.0


def test_with_nobody_steered_the_typical_day_saves_exactly_nothing() -> None:
    typical = TypicalDays(PACKAGED_SITES_DIR, days=2, per_task=1, executor=lambda: ThreadPoolExecutor(1))
    try:
        placebo = Settings(TOWN, "werktag", "app", 0.0, 30.0)
        typical.request(placebo)
        assert typical.progress is not None and typical.progress < 1.0
        day = wait_for(typical.poll, 120, "the typical day in the background")
        assert day is not None and day.days == 2 and typical.progress == 1.0
        assert all(
            band.mean == band.p10 == band.p90 == 0.0 for band in (day.per_day.search_min, day.per_day.km)
        )
    finally:
        typical.close()


def test_new_settings_drop_the_old_typical_day_at_once() -> None:
    typical = TypicalDays(PACKAGED_SITES_DIR, days=1, per_task=1, executor=lambda: ThreadPoolExecutor(1))
    try:
        typical.request(WERKTAG)
        wait_for(typical.poll, 120, "the first typical day")
        typical.request(WERKTAG)  # the same settings: kept
        assert typical.poll() is not None
        typical.request(Settings(TOWN, "werktag", "app", 0.5, 30.0))
        assert typical.result is None
        day = wait_for(typical.poll, 120, "the typical day of the new settings")
        assert day is not None and day.guidance_share == 0.5
    finally:
        typical.close()
