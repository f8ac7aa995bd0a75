"""Occupancy history latency: a day (raw readings) against a year (hourly rollup), 50 clients at once.

    python -m bench history [--clients 50] [--requests 300] [--year-days 358]

A local influxd (Debian's, in a temporary folder) gets synthetic readings of the 720-bay site
``town-centre``: the last 7 days in detail (a change about every 75 minutes per bay and an hourly
heartbeat) and the year before coarser (a change about every 3 hours, a heartbeat every 6 hours).
``parklotse api`` runs as a subprocess against it; its rollup keeper backfills the rollups at
start-up (timed). Then ``--clients`` concurrent HTTP clients send ``--requests`` requests in all for

- day:  GET /api/v1/sites/town-centre/occupancy[?zone=…]               (last 24 h, every 5m)
- year: GET /api/v1/sites/town-centre/occupancy?start=-365d[&zone=…]   (every 1d)

client i asking for the whole site or one of its 6 zones (i mod 7), as different screens would;
identical reads in flight at once are shared by the API, so 7 scopes keep that from flattering the
figures too much. A day comes from the 5-minute rollup, a year from the hourly one, both plus the
raw readings since the rollups' last pass. The p50/p99 latencies and the ratio year/day are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

# Runnable as a plain script from a checkout, without installing the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parking.events import ns_to_rfc3339
from parking.processes import stop_process
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parklotse.servers import LocalInfluxDB, LocalMosquitto, free_port

SITE = "town-centre"
S = 1_000_000_000
HOUR = 3600 * S
DAY = 24 * HOUR


def readings(
    bays: list[str], start: int, end: int, change_s: float, heartbeat_s: int, seed: int
) -> list[str]:
    """Line protocol: each bay alternates free/occupied after exponential gaps, with heartbeats."""
    rng = random.Random(seed)
    lines = []
    for bay in bays:
        t, occupied = start + rng.randrange(0, 600) * S, rng.random() < 0.5
        while t < end:
            following = t + max(60, int(rng.expovariate(1 / change_s))) * S
            beat = t
            while beat < min(following, end):
                lines.append(f"bay_status,bay={bay},site={SITE} occupied={int(occupied)}i {beat}")
                beat += heartbeat_s * S
            occupied, t = not occupied, following
    return lines


def write(url: str, db: str, lines: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        client.post("/query", params={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
        for i in range(0, len(lines), 50_000):
            client.post(
                "/write", params={"db": db}, content="\n".join(lines[i : i + 50_000])
            ).raise_for_status()


async def load(
    api: str, path: str, variants: list[dict[str, str]], clients: int, per_client: int
) -> list[float]:
    """Latencies of ``clients`` x ``per_client`` requests, ``clients`` of them in flight at once."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits) as client:

        async def one_client(params: dict[str, str]) -> None:
            for _ in range(per_client):
                started = time.perf_counter()
                response = await client.get(path, params=params)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(one_client(variants[i % len(variants)]) for i in range(clients)))
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, latencies: list[float], wall_s: float) -> tuple[float, float]:
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"  {name:<5} {len(latencies):>5} requests  p50 {p50 * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms  "
        f"mean {statistics.fmean(latencies) * 1000:8.1f} ms  {len(latencies) / wall_s:7.1f} req/s",
        flush=True,
    )
    return p50, p99


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m bench history", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--requests", type=int, default=300, help="requests per scenario (default 300)")
    parser.add_argument("--year-days", type=int, default=358, help="coarse days before the detailed week")
    args = parser.parse_args(argv)
    per_client = max(1, args.requests // args.clients)
    site = load_registry(DEFAULT_SITES_DIR).sites[SITE]
    bays = sorted(site.bays)
    scopes: list[dict[str, str]] = [{}, *({"zone": zone} for zone in site.zones)]
    results: dict[str, float] = {}

    with tempfile.TemporaryDirectory(prefix="parklotse-bench-history-") as tmp:
        root = Path(tmp)
        influx, broker = LocalInfluxDB(root / "influxdb"), LocalMosquitto(root / "mosquitto")
        influx.start()
        broker.start()
        api_process: subprocess.Popen[bytes] | None = None
        try:
            now = time.time_ns()
            week_start = now - 7 * DAY
            started = time.perf_counter()
            lines = readings(bays, week_start - args.year_days * DAY, week_start, 3 * 3600, 6 * 3600, seed=1)
            lines += readings(bays, week_start, now, 75 * 60, 3600, seed=2)
            write(influx.url, "bench", lines)
            print(
                f"wrote {len(lines):,} readings of {len(bays)} bays ({args.year_days} + 7 days) "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            del lines

            port = free_port()
            env = {
                **os.environ,
                "PARKLOTSE_INFLUX_URL": influx.url,
                "PARKLOTSE_INFLUX_DB": "bench",
                "PARKLOTSE_MQTT_URL": broker.url,
                "PARKLOTSE_INFLUX_TIMEOUT_S": "120",
                "PARKLOTSE_LOG_LEVEL": "WARNING",
            }
            log = (root / "api.log").open("wb")
            api_process = subprocess.Popen(
                [sys.executable, "-m", "parklotse", "api", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
            )
            api = f"http://127.0.0.1:{port}"
            year = {"start": ns_to_rfc3339(now - 365 * DAY), "end": ns_to_rfc3339(now)}
            path = f"/api/v1/sites/{SITE}/occupancy"

            started = time.perf_counter()
            deadline = started + 600
            # The last two hours come from the rollup once the keeper's backfill has reached now.
            recent = {"start": ns_to_rfc3339(now - 2 * HOUR), "end": ns_to_rfc3339(now), "every": "1h"}
            while True:
                if api_process.poll() is not None:
                    raise RuntimeError(f"the API exited: {(root / 'api.log').read_text()[-2000:]}")
                try:
                    response = httpx.get(api + path, params=recent, timeout=30)
                    if response.status_code == 200 and response.json()["source"] == "rollup":
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() > deadline:
                    raise RuntimeError("the rollup was not built within 10 minutes")
                time.sleep(0.5)
            results["rollup_backfill_s"] = time.perf_counter() - started
            print(f"API up and rollups backfilled in {results['rollup_backfill_s']:.1f} s", flush=True)

            print(
                f"{args.clients} concurrent clients over {len(scopes)} scopes (site and zones), "
                f"{per_client * args.clients} requests each scenario:"
            )
            for name, params in (("day", {}), ("year", year)):
                variants = [{**params, **scope} for scope in scopes]
                asyncio.run(load(api, path, variants, len(variants), 1))  # warm up
                started = time.perf_counter()
                latencies = asyncio.run(load(api, path, variants, args.clients, per_client))
                p50, p99 = report(name, latencies, time.perf_counter() - started)
                results[f"{name}_p50_ms"], results[f"{name}_p99_ms"] = p50 * 1000, p99 * 1000
            results["ratio_p50"] = results["year_p50_ms"] / results["day_p50_ms"]
            results["ratio_p99"] = results["year_p99_ms"] / results["day_p99_ms"]
            print(f"  year/day: p50 {results['ratio_p50']:.2f}  p99 {results['ratio_p99']:.2f}")
        finally:
            if api_process is not None:
                stop_process(api_process, 15)
            broker.stop()
            influx.stop()
    return results


if __name__ == "__main__":
    main()
