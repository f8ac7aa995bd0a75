"""API latency on the city scenario (10,080 bays) at 50 concurrent clients, and SSE delivery to 200.

    python -m bench api [--clients 50] [--requests 400] [--sse-clients 200] [--changes 60]

A local influxd and mosquitto (Debian's, in a temporary folder) serve ``parklotse api``, run as a
subprocess with a sites folder holding only the synthetic city of ``simulator/scenarios/city.json``
(written as GeoJSON). InfluxDB gets a week of readings of every bay (a change about every two hours,
a heartbeat every three) and, before that, a coarse year as hourly rollup rows (what a year of
occupancy is read from); the API's rollup keeper builds the rollups of the week at start-up (timed).
The current state comes from InfluxDB at start-up. Then ``--clients`` concurrent clients send
``--requests`` requests per scenario:

- baseline: GET /healthz (no work: what the machine and the HTTP stack cost at this concurrency)
- summary:  GET /api/v1/sites/city                     (the site's totals and zones)
- bays:     GET /api/v1/sites/city/bays                (current state of all 10,080 bays)
- day:      GET /api/v1/sites/city/occupancy           (last 24 h)
- year:     GET /api/v1/sites/city/occupancy?start=-365d
- guidance: GET /api/v1/guidance?site=city&lat=&lon=   (random destinations in the city)

and ``--sse-clients`` clients hold /api/v1/stream?site=city open while ``--changes`` bay changes are
published (retained ``parking/state/city/{bay}``, as the ingester does): the latency from publish
to each client's receipt. Targets: p99 <= 50 ms for current state and guidance, <= 200 ms for a
year of occupancy, SSE p99 <= 500 ms. Everything (clients included) shares this machine's cores,
so the baseline row is printed next to the figures. Runs in about three minutes.

``--monitor compare`` runs the scenarios on the same data against an API with the fleet-health
monitor off (``PARKLOTSE_FLEET_ENABLED=false``) and one with it on, evaluating every
``--fleet-refresh`` seconds (5: twelve times the default, so that evaluations fall inside every
measurement; measured once its first evaluation, with the slow reads, is done; the rollup keeper is
off in both), ``--rounds`` times in alternating order (off, on; on, off; ...: a shared machine's
load falls on both), and prints the median p99 of each with the median of the rounds' ratios and
each round's ratio, and the API process's CPU seconds during the rows. Target (issue 13): the
monitor raises the current state's p99 (summary, bays) by at most 10 %. The monitor is in its first
hour: its first evaluation reads the hour's stored status changes once, later ones count the change
events heard (none arrive here: the data is written before the API starts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

# Runnable as a plain script from a checkout, without installing the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parking.events import ns_to_rfc3339
from parking.history.sums import Bucket, rollup_lines
from parking.history.windows import HOUR_NS
from parking.lineprotocol import BAY_STATUS
from parking.processes import stop_process
from parking.registry import Site
from parking.settings import DEFAULT_SITES_DIR, parse_mqtt_url
from parklotse.servers import LocalInfluxDB, LocalMosquitto, free_port
from simulator.grid import resolve_site
from simulator.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
S = 1_000_000_000
DAY = 24 * HOUR_NS
DB = "bench"
WIDTHS = (7, 10, 10, 11, 9, 12, 10)
TARGETS_MS = {"summary": 50.0, "bays": 50.0, "guidance": 50.0, "year": 200.0, "sse": 500.0}


# ---------------------------------------------------------------- data


def city_site() -> Site:
    return resolve_site(load_scenario("city"), DEFAULT_SITES_DIR)


def week_lines(site: Site, start: int, end: int, seed: int = 1) -> list[str]:
    """Each bay alternates free/occupied after exponential gaps (mean 2 h), heartbeats every 3 h."""
    rng = random.Random(seed)
    lines = []
    for bay in site.bays:
        t, occupied = start + rng.randrange(0, 3600) * S, rng.random() < 0.5
        while t < end:
            following = t + max(60, int(rng.expovariate(1 / 7200))) * S
            beat = t
            while beat < min(following, end):
                lines.append(f"{BAY_STATUS},bay={bay},site={site.id} occupied={int(occupied)}i {beat}")
                beat += 3 * 3600 * S
            occupied, t = not occupied, following
    return lines


def year_rollup_lines(site: Site, start: int, end: int) -> list[str]:
    """Hourly rollup rows (site and zones) of a coarse year: a daily occupancy curve, every bay known."""
    per_zone: dict[str, int] = {}
    for bay in site.bays.values():
        per_zone[bay.zone] = per_zone.get(bay.zone, 0) + 1
    lines: list[str] = []
    scopes: list[tuple[str | None, int]] = [(None, len(site.bays)), *per_zone.items()]
    for zone, bays in scopes:
        buckets = []
        for hour in range(start, end, HOUR_NS):
            local = (hour // HOUR_NS + 1) % 24
            share = 0.35 + 0.45 * max(0.0, math.sin(math.pi * (local - 6) / 14))
            samples = bays * 60
            buckets.append(Bucket(hour, round(share * samples), samples, bays, bays // 8))
        lines += rollup_lines(site.id, zone, buckets, dict.fromkeys(range(start, end, HOUR_NS), 0))
    return lines


def write(url: str, lines: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=300) as client:
        client.post("/query", params={"q": f'CREATE DATABASE "{DB}"'}).raise_for_status()
        for i in range(0, len(lines), 50_000):
            chunk = "\n".join(lines[i : i + 50_000])
            client.post("/write", params={"db": DB}, content=chunk).raise_for_status()


# ---------------------------------------------------------------- measuring


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(
    api: str,
    make: Callable[[int], tuple[str, dict[str, str]]],
    clients: int,
    total: int,
    interval_s: float = 0.0,
) -> tuple[list[float], float, int]:
    """Latencies (s) of ``total`` requests from ``clients`` clients at once, the wall time, and how
    many were sent a second time (the server had closed the connection).

    Each client sends a request every ``interval_s`` (from a random phase; at once if the last one
    took longer), or back to back with 0, which measures how many requests per second it takes.
    """
    latencies: list[float] = []
    resent: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    rng = random.Random(5)
    async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits) as client:
        counter = iter(range(total))

        async def one_client(phase: float) -> None:
            due = time.perf_counter() + phase
            for n in counter:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                path, params = make(n)
                started = time.perf_counter()
                try:
                    response = await client.get(path, params=params)
                except httpx.RemoteProtocolError:
                    # The server closed a kept-alive connection as it was reused (its keep-alive
                    # timeout, on a loaded machine): sent again once, as browsers do, and counted; the
                    # latency includes the failed attempt.
                    resent.append(n)
                    response = await client.get(path, params=params)
                await response.aread()
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:300]}")
                due = max(due + interval_s, time.perf_counter()) if interval_s else 0.0

        started = time.perf_counter()
        await asyncio.gather(*(one_client(rng.uniform(0, interval_s)) for _ in range(clients)))
        return latencies, time.perf_counter() - started, len(resent)


class SseClient:
    """One stream: waits for the snapshot, then notes when each bay event arrives (wall clock)."""

    def __init__(self) -> None:
        self.snapshot = asyncio.Event()
        self.received: dict[str, float] = {}

    async def run(self, client: httpx.AsyncClient, path: str) -> None:
        async with client.stream("GET", path) as response:
            if response.status_code != 200:
                raise RuntimeError(f"stream: {response.status_code}")
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    if event == "snapshot":
                        self.snapshot.set()
                    elif event == "bay":
                        self.received[json.loads(line[5:])["bay"]] = time.time()


def publisher(url: str) -> mqtt.Client:
    endpoint = parse_mqtt_url(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    return client


async def sse_latencies(
    api: str, mqtt_url: str, site: Site, clients: int, changes: int, rate: float
) -> tuple[list[float], float, int]:
    """Publish-to-receipt latencies (s) at every client; also the time to connect all, and misses."""
    path = f"/api/v1/stream?site={site.id}"
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    timeout = httpx.Timeout(120, read=None)
    async with httpx.AsyncClient(base_url=api, timeout=timeout, limits=limits) as http:
        streams = [SseClient() for _ in range(clients)]
        tasks = [asyncio.create_task(s.run(http, path)) for s in streams]
        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(s.snapshot.wait() for s in streams)), 300)
        connect_s = time.perf_counter() - started
        bays = random.Random(7).sample(sorted(site.bays), changes)
        sent: dict[str, float] = {}
        mq = publisher(mqtt_url)
        try:
            for bay in bays:
                now_ns = time.time_ns()
                stamp = ns_to_rfc3339(now_ns)
                payload = json.dumps({"status": "closed", "since": stamp, "last_seen": stamp})
                sent[bay] = now_ns / S
                mq.publish(f"parking/state/{site.id}/{bay}", payload, qos=1, retain=True)
                await asyncio.sleep(1 / rate)
            deadline = time.perf_counter() + 30
            while time.perf_counter() < deadline:
                if all(len(s.received) >= len(bays) for s in streams):
                    break
                await asyncio.sleep(0.1)
        finally:
            mq.disconnect()
            mq.loop_stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [s.received[bay] - t for s in streams for bay, t in sent.items() if bay in s.received]
    missed = clients * len(bays) - len(latencies)
    return latencies, connect_s, missed


# ---------------------------------------------------------------- the run


def start_api(
    root: Path,
    influx: LocalInfluxDB,
    broker: LocalMosquitto,
    sites: Path,
    extra: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PARKLOTSE_INFLUX_URL": influx.url,
        "PARKLOTSE_INFLUX_DB": DB,
        "PARKLOTSE_MQTT_URL": broker.url,
        "PARKLOTSE_SITES_DIR": str(sites),
        "PARKLOTSE_INFLUX_TIMEOUT_S": "120",
        "PARKLOTSE_LOG_LEVEL": "WARNING",
    }
    env.update(extra or {})
    log = (root / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "parklotse", "api", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_ready(api: str, process: subprocess.Popen[bytes], root: Path, site: Site, now: int) -> float:
    """Seconds until /readyz answers and the rollups reach the last full hour."""
    started = time.perf_counter()
    recent = {"start": ns_to_rfc3339(now - 2 * HOUR_NS), "end": ns_to_rfc3339(now), "every": "1h"}
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited: {(root / 'api.log').read_text()[-2000:]}")
        try:
            response = httpx.get(f"{api}/api/v1/sites/{site.id}/occupancy", params=recent, timeout=60)
            if response.status_code == 200 and response.json()["source"] == "rollup":
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started > 600:
            raise RuntimeError("the API was not ready with its rollups within 10 minutes")
        time.sleep(0.5)


def scenarios(site: Site, now: int) -> dict[str, Callable[[int], tuple[str, dict[str, str]]]]:
    rng = random.Random(3)
    lons = [b.lon for b in site.bays.values()]
    lats = [b.lat for b in site.bays.values()]
    spots = [
        {
            "site": site.id,
            "lon": f"{rng.uniform(min(lons), max(lons)):.6f}",
            "lat": f"{rng.uniform(min(lats), max(lats)):.6f}",
        }
        for _ in range(997)
    ]
    year = {"start": ns_to_rfc3339(now - 365 * DAY)}
    base = f"/api/v1/sites/{site.id}"
    return {
        "baseline": lambda n: ("/healthz", {}),
        "summary": lambda n: (base, {}),
        "bays": lambda n: (f"{base}/bays", {}),
        "day": lambda n: (f"{base}/occupancy", {}),
        "year": lambda n: (f"{base}/occupancy", year),
        "guidance": lambda n: ("/api/v1/guidance", spots[n % len(spots)]),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients (default 50)")
    parser.add_argument("--requests", type=int, default=400, help="requests per scenario (default 400)")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between a client's requests (default 1)"
    )
    parser.add_argument("--sse-clients", type=int, default=200, help="connected SSE clients (default 200)")
    parser.add_argument("--changes", type=int, default=60, help="bay changes published to them (default 60)")
    parser.add_argument("--rate", type=float, default=10.0, help="bay changes per second (default 10)")
    parser.add_argument("--only", default="", help="comma-separated scenarios to run (default all, and sse)")
    parser.add_argument(
        "--monitor",
        choices=("on", "off", "compare"),
        default="on",
        help="the fleet-health monitor: on (default, as deployed), off, or compare both (see above)",
    )
    parser.add_argument(
        "--fleet-refresh", type=float, default=5.0, help="compare: seconds between evaluations (default 5)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="compare: rounds of off and on, alternating (default 3)"
    )
    args = parser.parse_args(argv)
    if args.monitor == "compare":
        return compare_monitor(args)
    only = set(filter(None, args.only.split(",")))
    site = city_site()
    results: dict[str, float] = {}

    with tempfile.TemporaryDirectory(prefix="parklotse-bench-api-") as tmp:
        root = Path(tmp)
        sites = root / "sites"
        sites.mkdir()
        (sites / f"{site.id}.geojson").write_text(json.dumps(site.feature_collection()))
        influx, broker = LocalInfluxDB(root / "influxdb"), LocalMosquitto(root / "mosquitto")
        influx.start()
        broker.start()
        process: subprocess.Popen[bytes] | None = None
        try:
            now = time.time_ns()
            week_start = now - 7 * DAY
            year_start = (week_start - 358 * DAY) // HOUR_NS * HOUR_NS
            started = time.perf_counter()
            lines = week_lines(site, week_start, now)
            readings = len(lines)
            lines += year_rollup_lines(site, year_start, week_start // HOUR_NS * HOUR_NS)
            write(influx.url, lines)
            print(
                f"city: {len(site.bays):,} bays in {len(site.zones)} zones; wrote {readings:,} readings "
                f"(7 days) and {len(lines) - readings:,} hourly rollup rows (358 days) "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            del lines

            process, api = start_api(root, influx, broker, sites)
            results["ready_s"] = wait_ready(api, process, root, site, now)
            print(
                f"API up, current state loaded and the week rolled up in {results['ready_s']:.1f} s",
                flush=True,
            )

            rows = []
            print(
                f"{args.clients} clients, each one request every {args.interval:g} s "
                f"({args.requests} per scenario); then back to back for the most requests per second:"
            )
            for name, make in scenarios(site, now).items():
                if only and name not in only and name != "baseline":
                    continue
                asyncio.run(load(api, make, min(args.clients, 10), 20))  # warm up
                paced, _, resent = asyncio.run(load(api, make, args.clients, args.requests, args.interval))
                saturated, wall, more = asyncio.run(load(api, make, args.clients, args.requests // 2))
                if resent + more:
                    print(f"  ({name}: {resent + more} requests sent again on a connection the API closed)")
                p50, p99 = percentile(paced, 0.5) * 1000, percentile(paced, 0.99) * 1000
                most = len(saturated) / wall
                results.update({f"{name}_p50_ms": p50, f"{name}_p99_ms": p99, f"{name}_max_rps": most})
                rows.append((name, len(paced), p50, p99, most))
                print(
                    f"  {name:<9} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  at most {most:6.1f} req/s", flush=True
                )

            if not only or "sse" in only:
                latencies, connect_s, missed = asyncio.run(
                    sse_latencies(api, broker.url, site, args.sse_clients, args.changes, args.rate)
                )
                p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
                results.update(sse_p50_ms=p50, sse_p99_ms=p99, sse_connect_s=connect_s, sse_missed=missed)
                rows.append(("sse", len(latencies), p50, p99, 0.0))
                print(
                    f"  sse: {args.sse_clients} streams connected (snapshot of {len(site.bays):,} bays each) "
                    f"in {connect_s:.1f} s; {args.changes} changes at {args.rate:g}/s; "
                    f"{missed} deliveries missed",
                    flush=True,
                )
            print_table(rows, args)
        finally:
            if process is not None:
                stop_process(process, 15)
            broker.stop()
            influx.stop()
    return results


CURRENT_STATE = ("summary", "bays")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (Linux /proc; utime + stime in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def current_ready(api: str, process: subprocess.Popen[bytes], root: Path, site: Site, settle: bool) -> None:
    """Until the API serves the current state and, with ``settle``, has settled: under a tenth of a
    core over two seconds (its start-up work, such as loading the state from InfluxDB, would otherwise
    be measured). With the monitor on, its first evaluation comes after that work instead."""
    started = time.perf_counter()
    while process.poll() is None and time.perf_counter() - started < 600:
        try:
            if httpx.get(f"{api}/api/v1/sites/{site.id}/bays", timeout=60).status_code == 200:
                before = cpu_seconds(process.pid)
                time.sleep(2.0)
                if not settle or cpu_seconds(process.pid) - before < 0.2:
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"the API did not settle serving the current state: {(root / 'api.log').read_text()[-2000:]}"
    )


def sensors_ready(api: str, site: Site, process: subprocess.Popen[bytes], root: Path) -> float:
    """Seconds until the monitor's first evaluation (with its slow reads) has finished."""
    started = time.perf_counter()
    while process.poll() is None and time.perf_counter() - started < 900:
        try:
            if (
                httpx.get(f"{api}/api/v1/sites/{site.id}/sensors?problem=flapping", timeout=60).status_code
                == 200
            ):
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the monitor did not evaluate the city: {(root / 'api.log').read_text()[-2000:]}")


def monitor_run(
    mode: str,
    args: argparse.Namespace,
    root: Path,
    influx: LocalInfluxDB,
    broker: LocalMosquitto,
    sites: Path,
    site: Site,
    names: list[str],
    now: int,
    samples: dict[str, list[float]],
) -> dict[str, float]:
    """One API with the monitor ``mode`` (off/on): the p99 (ms) of each scenario, the first
    evaluation's wall time (on) and the API process's CPU seconds during the rows; each scenario's
    latencies (s) are added to ``samples`` under "scenario/mode"."""
    # The current state only: no rollup keeper and no forecasts, whose start-up work (the forecasts'
    # in a worker process, unseen by the settling below) would blur both runs.
    extra = {"PARKLOTSE_ROLLUP_ENABLED": "false", "PARKLOTSE_FORECAST_ENABLED": "false"}
    if mode == "off":
        extra["PARKLOTSE_FLEET_ENABLED"] = "false"
    else:
        extra["PARKLOTSE_FLEET_REFRESH_S"] = f"{args.fleet_refresh:g}"
    found: dict[str, float] = {}
    process, api = start_api(root, influx, broker, sites, extra)
    try:
        current_ready(api, process, root, site, settle=mode == "off")
        if mode == "on":
            found["first_evaluation_s"] = sensors_ready(api, site, process, root)
            current_ready(api, process, root, site, settle=True)  # and the first report made
        cpu = cpu_seconds(process.pid)
        for name in names:
            make = scenarios(site, now)[name]
            asyncio.run(load(api, make, min(args.clients, 10), 20))  # warm up
            paced, _, resent = asyncio.run(load(api, make, args.clients, args.requests, args.interval))
            found[name] = percentile(paced, 0.99) * 1000
            samples.setdefault(f"{name}/{mode}", []).extend(paced)
            if resent:
                print(
                    f"  monitor {mode}, {name}: {resent} requests sent again on a connection the API closed"
                )
        found["api_cpu_s"] = cpu_seconds(process.pid) - cpu
    finally:
        process.terminate()
        process.wait(30)
    return found


def compare_monitor(args: argparse.Namespace) -> dict[str, float]:
    """The same scenarios against the API with the fleet monitor off and on, ``--rounds`` times in
    alternating order (off, on; on, off; ...), so that a shared machine's load falls on both; the
    median p99 of each, and each round's ratio."""
    site = city_site()
    only = set(filter(None, args.only.split(","))) or set(CURRENT_STATE)
    names = [n for n in scenarios(site, 0) if n == "baseline" or n in only]
    rounds: list[dict[str, dict[str, float]]] = []
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="parklotse-bench-api-") as tmp:
        root = Path(tmp)
        sites = root / "sites"
        sites.mkdir()
        (sites / f"{site.id}.geojson").write_text(json.dumps(site.feature_collection()))
        influx, broker = LocalInfluxDB(root / "influxdb"), LocalMosquitto(root / "mosquitto")
        influx.start()
        broker.start()
        try:
            now = time.time_ns()
            write(influx.url, week_lines(site, now - 7 * DAY, now))
            for r in range(args.rounds):
                row: dict[str, dict[str, float]] = {}
                for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
                    row[mode] = monitor_run(
                        mode, args, root, influx, broker, sites, site, names, now, samples
                    )
                    if mode == "on":
                        print(
                            f"round {r + 1}, monitor on: first evaluation (slow reads included) "
                            f"{row['on']['first_evaluation_s']:.1f} s",
                            flush=True,
                        )
                rounds.append(row)
                cells = "  ".join(
                    f"{n} {row['off'][n]:.1f} -> {row['on'][n]:.1f} ms ({row['on'][n] / row['off'][n]:.2f}x)"
                    for n in names
                )
                print(f"round {r + 1} ({' then '.join(row)}): {cells}", flush=True)
        finally:
            broker.stop()
            influx.stop()
    print()
    print(
        f"{args.clients} clients x 1 request / {args.interval:g} s, {args.requests} requests per row, "
        f"{args.rounds} rounds (off and on in alternating order); monitor on: an evaluation every "
        f"{args.fleet_refresh:g} s (the default is 60 s), measured after its first"
    )
    print(
        "p99 off/on: medians of the rounds; on/off: the median of the rounds' ratios, then each round's; "
        "API CPU s: the API's own process during the rows (a worker process of it not included)"
    )
    print(f"{'scenario':<10}{'p99 off ms':>12}{'p99 on ms':>12}{'on/off':>9}{'target':>9}   rounds")
    results: dict[str, float] = {}
    for name in [*names, "api_cpu_s"]:
        off = statistics.median(row["off"][name] for row in rounds)
        on = statistics.median(row["on"][name] for row in rounds)
        each = [row["on"][name] / row["off"][name] for row in rounds]
        ratio = statistics.median(each)
        target = "<= 1.10" if name in CURRENT_STATE else "-"
        label = "API CPU s" if name == "api_cpu_s" else name
        print(
            f"{label:<10}{off:12.1f}{on:12.1f}{ratio:9.2f}{target:>9}   "
            + ", ".join(f"{x:.2f}" for x in each)
        )
        results.update({f"{name}_off": off, f"{name}_on": on, f"{name}_ratio": ratio})
    results["fleet_first_evaluation_s"] = statistics.median(row["on"]["first_evaluation_s"] for row in rounds)
    # A row's p99 is its 1 % slowest answers, a handful: one stall of a shared machine moves it. The
    # rounds' answers pooled give a p99 of three times as many.
    print(f"pooled over the rounds ({len(rounds)} x {args.requests} answers per scenario and mode):")
    for name in names:
        off = percentile(samples[f"{name}/off"], 0.99) * 1000
        on = percentile(samples[f"{name}/on"], 0.99) * 1000
        results[f"{name}_pooled_ratio"] = on / off
        target = "<= 1.10" if name in CURRENT_STATE else "-"
        print(f"{name:<10}{off:12.1f}{on:12.1f}{on / off:9.2f}{target:>9}")
    return results


def print_table(rows: list[tuple[str, int, float, float, float]], args: argparse.Namespace) -> None:
    base = next((r for r in rows if r[0] == "baseline"), None)
    print()
    print(
        f"{args.clients} clients x 1 request / {args.interval:g} s, {args.requests} requests per row; "
        f"sse: {args.sse_clients} streams x {args.changes} changes; "
        f"max req/s: {args.clients} clients back to back"
    )
    heads = ("n", "p50 ms", "p99 ms", "max req/s", "target", "p99/target", "p50/base")
    print(f"{'scenario':<10}" + "".join(f"{h:>{w}}" for h, w in zip(heads, WIDTHS, strict=True)))
    for name, n, p50, p99, most in rows:
        target = TARGETS_MS.get(name)
        ratio = f"{p99 / target:.2f}" if target else "-"
        vs_base = f"{p50 / base[2]:.1f}x" if base and name not in ("baseline", "sse") else "-"
        most_text = f"{most:.0f}" if most else "-"
        target_text = f"{target:.0f}" if target else "-"
        cells = (str(n), f"{p50:.1f}", f"{p99:.1f}", most_text, target_text, ratio, vs_base)
        print(f"{name:<10}" + "".join(f"{c:>{w}}" for c, w in zip(cells, WIDTHS, strict=True)))


if __name__ == "__main__":
    main()
