"""Forecast: fitting a site's model on a year of hourly history, and answering forecast requests.

    python -m bench forecast [--requests 2000] [--clients 10] [--skip-api] [--skip-fit]

1. Fit: a year of hourly occupied shares for the city's scopes (``bench_api``'s synthetic city of
   10,080 bays: the site and its 24 zones, as the hourly rollup holds them), shaped like a town
   (weekday and Saturday peaks, quiet Sundays, noise), then the training as the API runs it daily,
   alone and with the back-test of the last 7 days (a second fit). Target: training under 30 s. A
   reference loop timed in the same run says how busy the machine was.
2. Requests: a local influxd gets three weeks of the town model's simulated showroom history (as the
   backfill writes it), ``parklotse api`` runs against it and fits in the background; then
   ``--clients`` concurrent clients send ``--requests`` forecast requests (zones and horizons
   mixed), interleaved with as many to the site summary (``GET /api/v1/sites/showroom``), the
   baseline.
   Target: p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np

# Runnable as a plain script from a checkout, without installing the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_api import city_site
from forecast.calendar import HolidayCalendar
from forecast.features import Frame, build_frame
from forecast.model import QuantileModel, training_origins, training_rows
from forecast.site import fit_site, forecast_scope, series_from_shares
from forecast.timeseries import DAY, WeekProfile
from parking.history.sums import HEATMAP_TZ
from parking.processes import stop_process
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parking.store import InfluxStore
from parklotse.backfill import DEFAULT_SEED, Target, lines_for, load_model, plan_span, simulate
from parklotse.servers import LocalInfluxDB, free_port

SITE = "town-centre"  # the model whose simulated showroom history the request benchmark serves


def year_of_hours(scopes: int, seed: int = 1) -> list[tuple[list[int], list[float]]]:
    rng = np.random.default_rng(seed)
    end = int(datetime(2026, 11, 30, tzinfo=UTC).timestamp())
    times = np.arange(end - 365 * DAY, end, 3600)
    hours = ((times + 3600) % DAY) / 3600
    weekday = (times // DAY + 3) % 7
    found = []
    for i in range(scopes):
        peak = np.where(weekday < 5, 0.55, np.where(weekday == 5, 0.7, 0.2)) * (0.8 + 0.03 * (i % 8))
        shares = 0.2 + peak * np.exp(-(((hours - 12 - i % 3) / 3.0) ** 2)) + rng.normal(0, 0.03, len(times))
        found.append((times.tolist(), shares.tolist()))
    return found


def reference_loop() -> float:
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i % 7
    return time.perf_counter() - started


def bench_fit() -> None:
    site = city_site()
    scopes = 1 + len(site.zones)
    zone = ZoneInfo(HEATMAP_TZ)
    reference = reference_loop()
    started = time.perf_counter()
    series = [
        series_from_shares(str(i), times, shares, 100, zone)
        for i, (times, shares) in enumerate(year_of_hours(scopes))
    ]
    built = time.perf_counter() - started
    calendar = HolidayCalendar("DE-SH")
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    candidates = Frame.concat(
        [
            build_frame(s, WeekProfile.build(s.local, s.share), calendar, *training_origins(s, rng))
            for s in series
        ]
    )
    QuantileModel().fit(training_rows(candidates, int(max(s.times[-1] for s in series)) + 1, rng))
    trained = time.perf_counter() - started
    started = time.perf_counter()
    model = fit_site(series, calendar, backtest_days=7)
    fitted = time.perf_counter() - started
    started = time.perf_counter()
    for s in series:
        forecast_scope(model, s)
    predicted = time.perf_counter() - started
    print(f"fit on a year of hourly shares, {scopes} scopes of the city, {sum(map(len, series)):,} readings:")
    print(f"  series built        {built:6.2f} s")
    print(f"  training            {trained:6.2f} s   (target < 30 s)")
    print(f"  training + 7-day back-test {fitted:6.2f} s   (what the API does daily, in the background)")
    print(f"  forecasts, {scopes} scopes {predicted:6.2f} s   (the background refresh every 5 min)")
    print(f"  reference loop      {reference:6.2f} s   (about 0.15 s on an idle core)")
    if model.backtest is not None:
        row = next(s for s in model.backtest.scores if s.horizon_min == 60)
        mae = row.mae
        print(f"  back-test 60 min: model {mae['model']:.2f}, persistence {mae['persistence']:.2f} points")


async def fill_showroom(influx_url: str, db: str) -> None:
    model = load_model(SITE, DEFAULT_SITES_DIR, DEFAULT_SEED)
    zone = ZoneInfo(HEATMAP_TZ)
    now = time.time_ns()
    span = plan_span(now, None, 3, zone)
    assert span is not None
    view = model.views["showroom"]
    target = Target("showroom", {town: own for own, town in view.items()}, span[0])
    async with InfluxStore(influx_url, db, timeout_s=60) as store:
        await store.ensure_database()
        for readings in simulate(model, [target], now, zone):
            await store.write(lines_for(readings))


async def load(url: str, paths: list[str], clients: int) -> dict[str, list[float]]:
    """Latencies per endpoint (the path before ``?``)."""
    latencies: dict[str, list[float]] = {}
    queue = list(reversed(paths))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while queue:
                path = queue.pop()
                started = time.perf_counter()
                response = await http.get(path)
                latencies.setdefault(path.split("?")[0], []).append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def percentiles(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:6.1f} ms   p99 {p99(values) * 1000:6.1f} ms"


def bench_requests(requests: int, clients: int) -> None:
    site = load_registry(DEFAULT_SITES_DIR).site("showroom")
    assert site is not None
    with tempfile.TemporaryDirectory() as folder:
        influx = LocalInfluxDB(Path(folder) / "influxdb")
        influx.start()
        try:
            started = time.perf_counter()
            asyncio.run(fill_showroom(influx.url, "bench"))
            took = time.perf_counter() - started
            print(f"three weeks of simulated showroom history written in {took:.0f} s")
            port = free_port()
            env = {
                "PARKLOTSE_INFLUX_URL": influx.url,
                "PARKLOTSE_INFLUX_DB": "bench",
                "PARKLOTSE_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
                "PARKLOTSE_LOG_LEVEL": "WARNING",
            }
            api = subprocess.Popen(
                [sys.executable, "-m", "parklotse", "api", "--port", str(port)],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                started = time.perf_counter()
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    try:
                        if httpx.get(f"{url}/api/v1/sites/showroom/forecast", timeout=5).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(1)
                else:
                    raise RuntimeError("the forecast was not ready within 10 minutes")
                print(f"API up, rollups built and model fitted after {time.perf_counter() - started:.0f} s")
                zones = [None, *site.zones]
                horizons = [30, 60, 120, 1440]
                paths = [
                    "/api/v1/sites/showroom/forecast?"
                    + (f"zone={zones[i % len(zones)]}&" if zones[i % len(zones)] else "")
                    + f"horizon={horizons[i % len(horizons)]}"
                    for i in range(requests)
                ]
                asyncio.run(load(url, paths[:100], clients))  # warm-up
                # Interleaved, so that both see the same machine and the same background work.
                summaries = ["/api/v1/sites/showroom"] * requests
                mixed = [p for pair in zip(paths, summaries, strict=True) for p in pair]
                found = asyncio.run(load(url, mixed, clients))
                forecast = found["/api/v1/sites/showroom/forecast"]
                summary = found["/api/v1/sites/showroom"]
                print(f"{requests} requests each, interleaved, {clients} clients at once:")
                print(f"  forecast        {percentiles(forecast)}   (target p99 < 50 ms)")
                print(f"  site summary    {percentiles(summary)}   (baseline: the cheapest read)")
                print(f"  p99 ratio forecast / summary {p99(forecast) / p99(summary):.2f}")
            finally:
                stop_process(api)
        finally:
            influx.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench forecast")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--skip-api", action="store_true", help="only the fit")
    parser.add_argument("--skip-fit", action="store_true", help="only the requests")
    args = parser.parse_args(argv)
    if not args.skip_fit:
        bench_fit()
    if not args.skip_api:
        bench_requests(args.requests, args.clients)


if __name__ == "__main__":
    main()
