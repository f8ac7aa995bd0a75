"""The forecast endpoint against a real InfluxDB: fitted on backfilled history, refused without it.

Three weeks of the town model's simulated history (tagged source=sim, as the backfill writes it) for the
showroom, the town's block face; the town-centre itself gets none, so it shows the refusal. The API
started after it builds its rollups, then fits the showroom's model in the background and back-tests it
on the last two days (PARKLOTSE_FORECAST_BACKTEST_DAYS, to keep the suite fast).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from parking.history.sums import HEATMAP_TZ
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parking.store import InfluxStore
from parklotse.backfill import DEFAULT_SEED, Target, lines_for, load_model, plan_span, simulate
from parklotse.servers import free_port
from tests.conftest import Servers
from tests.helpers import Service, wait_for

pytestmark = pytest.mark.integration

WEEKS = 3  # the model needs 14 days; the rest is the back-test's
FIT_DEADLINE_S = 240.0  # backfill's rollups, two sites' fits and back-tests on a busy two-core machine


def forecast(url: str, site: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}/api/v1/sites/{site}/forecast", params=params, timeout=30)


@pytest.fixture(scope="module")
def fitted(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = f"test_forecast_{uuid.uuid4().hex[:8]}"

    async def fill() -> None:
        # The backfill's own pieces, for the showroom only: the town's 720 bays would take minutes to roll up.
        model = load_model("town-centre", DEFAULT_SITES_DIR, DEFAULT_SEED)
        zone = ZoneInfo(HEATMAP_TZ)
        now = time.time_ns()
        start = plan_span(now, None, WEEKS, zone)
        assert start is not None
        view = model.views["showroom"]
        target = Target("showroom", {town: own for own, town in view.items()}, start[0])
        async with InfluxStore(servers.influx_url, db, timeout_s=60) as store:
            await store.ensure_database()
            for readings in simulate(model, [target], now, zone):
                await store.write(lines_for(readings))

    asyncio.run(fill())
    env = {
        "PARKLOTSE_MQTT_URL": servers.mqtt_url,
        "PARKLOTSE_INFLUX_URL": servers.influx_url,
        "PARKLOTSE_INFLUX_DB": db,
        "PARKLOTSE_FORECAST_BACKTEST_DAYS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    log = tmp_path_factory.mktemp("api") / "api.log"
    api = Service("api", ["api", "--port", str(port)], env, log).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: _answers(url, "showroom") or not api.alive(),
            FIT_DEADLINE_S,
            "forecasts fitted",
            interval_s=1.0,
        )
        assert api.alive(), api.output()
        yield url
    finally:
        api.stop()


def _answers(url: str, site: str) -> bool:
    try:
        return forecast(url, site).status_code == 200
    except httpx.HTTPError:
        return False


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_zone_forecast_has_a_point_every_15_minutes_up_to_the_horizon(fitted: str) -> None:
    site = load_registry(DEFAULT_SITES_DIR).site("showroom")
    assert site is not None
    zone = site.zones[0]
    body = forecast(fitted, "showroom", zone=zone, horizon=60).json()
    assert body["zone"] == zone
    assert body["bays"] == sum(1 for b in site.bays.values() if b.zone == zone)
    assert [p["horizon_min"] for p in body["points"]] == [15, 30, 45, 60]
    start = _seconds(body["latest_reading"])
    assert [_seconds(p["time"]) - start for p in body["points"]] == [900, 1800, 2700, 3600]


def test_each_point_has_its_band_in_share_and_in_free_bays(fitted: str) -> None:
    body = forecast(fitted, "showroom", horizon=1440).json()
    assert len(body["points"]) == 96 and body["zone"] is None
    for p in body["points"]:
        assert 0 <= p["occupancy_low"] <= p["occupancy"] <= p["occupancy_high"] <= 1
        assert p["free_low"] <= p["free"] <= p["free_high"] <= body["bays"]
        assert p["free"] == pytest.approx(body["bays"] * (1 - p["occupancy"]), abs=0.06)


def test_the_forecast_says_when_it_was_computed_from_what(fitted: str) -> None:
    body = forecast(fitted, "showroom").json()
    assert "model estimate" in body["kind"]
    assert time.time() - _seconds(body["computed_at"]) < 15 * 60
    assert _seconds(body["latest_reading"]) <= _seconds(body["computed_at"])
    assert _seconds(body["trained_from"]) < _seconds(body["trained_to"]) <= _seconds(body["trained_at"])


def test_the_forecast_carries_the_sites_backtest(fitted: str) -> None:
    body = forecast(fitted, "showroom").json()
    backtest = body["backtest"]
    assert body["backtest_note"] is None and backtest["refits"] == 1
    assert _seconds(backtest["test_to"]) - _seconds(backtest["test_from"]) == pytest.approx(
        2 * 86400, abs=600
    )
    rows = {row["horizon_min"]: row for row in backtest["horizons"]}
    assert sorted(rows) == [15, 30, 60, 120, 1440]
    for row in rows.values():
        assert row["n"] > 0
        assert row["model"] >= 0 and row["persistence"] >= 0
        assert row["model_beats_persistence"] == (row["model"] < row["persistence"])


def test_an_unknown_zone_or_a_horizon_out_of_range_is_refused(fitted: str) -> None:
    unknown = forecast(fitted, "showroom", zone="no-such-zone")
    assert unknown.status_code == 404 and "no-such-zone" in unknown.json()["detail"]
    assert forecast(fitted, "showroom", horizon=10).status_code == 422
    assert forecast(fitted, "showroom", horizon=1441).status_code == 422


def test_the_forecast_is_in_the_openapi_document(fitted: str) -> None:
    document = httpx.get(f"{fitted}/openapi.json", timeout=30).json()
    operation = document["paths"]["/api/v1/sites/{site}/forecast"]["get"]
    assert {"200", "404", "422", "501", "503"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} >= {"site", "zone", "horizon"}


def test_without_history_the_forecast_says_how_much_is_missing(fitted: str) -> None:
    answer = wait_for(lambda: _refusal(fitted, "town-centre"), FIT_DEADLINE_S, "the refusal", interval_s=0.5)
    assert answer is not None
    assert "not enough history" in answer["detail"] and "needs 14" in answer["detail"], answer


def _refusal(url: str, site: str) -> dict[str, Any] | None:
    response = forecast(url, site)
    if response.status_code != 503 or "not enough history" not in response.text:
        return None
    assert int(response.headers["Retry-After"]) > 0
    body: dict[str, Any] = response.json()
    return body


def test_the_list_says_per_site_whether_a_forecast_is_there(fitted: str) -> None:
    states = wait_for(
        lambda: (
            (found := {s["site"]: s for s in httpx.get(f"{fitted}/api/v1/forecasts", timeout=30).json()})
            and found["town-centre"]["state"] == "not_enough_history"
            and found
        ),
        FIT_DEADLINE_S,
        "both sites' states",
        interval_s=0.5,
    )
    assert states["showroom"]["state"] == "ready" and states["showroom"]["detail"] == "ready"
    body = forecast(fitted, "showroom").json()
    thirty = next(row for row in body["backtest"]["horizons"] if row["horizon_min"] == 30)
    assert states["showroom"]["beats_persistence_at_30_min"] == thirty["model_beats_persistence"]
    assert "needs 14" in states["town-centre"]["detail"]
    assert states["town-centre"]["beats_persistence_at_30_min"] is False
