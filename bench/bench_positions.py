"""Positions benchmark: what publishing the cars on the road twice a second costs the live simulator.

    .venv/bin/python bench/bench_positions.py            # about 2 x 30 s of live simulation
    .venv/bin/python bench/bench_positions.py --seconds 10
    .venv/bin/python -m bench positions

The town centre runs live exactly as ``parklotse simulate`` runs it (``simulator.live.run_live``,
publishing every bay change and the statuses to a local mosquitto), on the Markttag preset from 11:00
(its busiest hours, the most cars on the road) at 30x, once with nobody asking for positions and once
with a lease renewed every 2 s as the API renews it. The cost is the difference in the process's CPU
time (all threads: the loop and paho's network thread) divided by the wall time, as a share of one
core. Target (the simulator issue): positions on at 2 Hz cost <= 20 % of one core on the town centre.
Also: the time to build one message and its size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from parking.settings import PACKAGED_SITES_DIR, CommonSettings  # noqa: E402
from parklotse.servers import LocalMosquitto  # noqa: E402
from simulator.live import LiveRunner, build_runner, run_live  # noqa: E402
from simulator.positions import positions_message  # noqa: E402

TARGET_SHARE = 0.20
LEASE = b'{"vehicles_for_s": 10}'


def _runner() -> LiveRunner:
    return build_runner(
        "town-centre",
        PACKAGED_SITES_DIR,
        30.0,
        1,
        "native",
        preset="markttag",
        start_hour=11.0,
        typical_days=0,
    )


def _live_cpu(mqtt_url: str, seconds: float, positions: bool) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, positions messages) of ``seconds`` of live simulation."""
    runner = _runner()
    stop = threading.Event()
    settings = CommonSettings(mqtt_url=mqtt_url)

    def lease() -> None:
        while not stop.is_set():
            runner.want_positions(LEASE)
            stop.wait(2.0)

    threads = [threading.Thread(target=run_live, args=(settings, runner, stop), daemon=True)]
    if positions:
        threads.append(threading.Thread(target=lease, daemon=True))
    c0, t0 = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(30)
    return time.process_time() - c0, time.perf_counter() - t0, runner.positions.sent


def _message_cost(samples: int) -> dict[str, float]:
    runner = _runner()
    sizes, costs, cars = [], [], []
    for _ in range(samples):
        runner.step(0.5)  # half a second of wall time at 30x between messages, as live
        c0 = time.perf_counter()
        payload = positions_message("town-centre", runner.model, runner.bay_ids, 0.5)
        costs.append(time.perf_counter() - c0)
        sizes.append(len(payload))
        vehicles = runner.model.vehicles()
        cars.append(len(vehicles["without_sensors"]) + len(vehicles["with_sensors"]))
    costs.sort()
    return {
        "p50_ms": 1000 * statistics.median(costs),
        "p95_ms": 1000 * costs[int(0.95 * (len(costs) - 1))],
        "bytes": statistics.mean(sizes),
        "cars": statistics.mean(cars),
        "max_cars": max(cars),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="wall seconds of each live run (default 30)"
    )
    args = parser.parse_args(argv)
    print("Parklotse positions benchmark (town centre, Markttag from 11:00, 30x, local mosquitto)\n")
    message = _message_cost(120)
    print(
        f"one positions message: {message['p50_ms']:.2f} ms p50, {message['p95_ms']:.2f} ms p95 to build, "
        f"{message['bytes'] / 1024:.1f} KiB, {message['cars']:.0f} cars on average (both twins, "
        f"at most {message['max_cars']})"
    )
    with tempfile.TemporaryDirectory(prefix="parklotse-bench-positions-") as folder:
        broker = LocalMosquitto(Path(folder) / "mosquitto")
        broker.start()
        try:
            off_cpu, off_wall, _ = _live_cpu(broker.url, args.seconds, positions=False)
            on_cpu, on_wall, sent = _live_cpu(broker.url, args.seconds, positions=True)
        finally:
            broker.stop()
    off, on = off_cpu / off_wall, on_cpu / on_wall
    cost = on - off
    print(f"\nlive loop, positions off: {off:6.1%} of one core ({off_cpu:.1f} s CPU in {off_wall:.1f} s)")
    print(
        f"live loop, positions on:  {on:6.1%} of one core ({on_cpu:.1f} s CPU in {on_wall:.1f} s, "
        f"{sent} messages)"
    )
    print(f"positions at {sent / on_wall:.1f} Hz cost {cost:.1%} of one core")
    met = cost <= TARGET_SHARE
    print(
        f"  target positions on at 2 Hz <= {TARGET_SHARE:.0%} of one core on the town centre: "
        f"{'met' if met else 'MISSED'}"
    )
    print("  (CPU time, not wall time: this machine may be shared; the statuses are in both runs)")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
