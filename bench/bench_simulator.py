"""Simulator benchmark: speed, memory and how the cost grows with the number of bays.

    .venv/bin/python bench/bench_simulator.py            # everything, about half a minute on one core
    .venv/bin/python bench/bench_simulator.py --quick    # skips the 100,000-bay grid
    .venv/bin/python -m bench simulator [--quick]

Every case runs in a fresh process of its own, so that its peak memory (ru_maxrss) is its own.
Targets (the simulator issue): city, one day, at >= 10,000x real time on one core; peak memory
<= 1 GiB; cost growing no worse than linearly in bays x arrivals.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from parking.settings import PACKAGED_SITES_DIR  # noqa: E402
from simulator.demand import DAY_S  # noqa: E402
from simulator.engine import Engine, seed_entropy  # noqa: E402
from simulator.grid import build_network, resolve_site  # noqa: E402
from simulator.offline import run_offline  # noqa: E402
from simulator.report import build_report, report_html, report_json  # noqa: E402
from simulator.scenario import GridSite, Scenario, load_scenario  # noqa: E402

SITES = PACKAGED_SITES_DIR
SEED = 1
SCALING_NODES = {1_000: 7, 10_000: 21, 100_000: 65}  # 2·n·(n−1)·12 bays ≈ the label
TILE_M = 600.0  # one town centre (6 x 6 nodes of 100 m) per tile
TOWN_BAYS = 720


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _engine_case(scenario: Scenario, days: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    site = resolve_site(scenario, SITES)
    network = build_network(site, scenario.space)
    engine = Engine(scenario, network, seed_entropy(SEED), scenario.run.start_date)
    build_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    engine.run_until(days * DAY_S)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    arrivals = len(engine.record_arrays()["t_arrival"])
    return {
        "bays": network.n_bays,
        "days": days,
        "arrivals": arrivals,
        "bay_changes": engine.changes_total,
        "build_s": build_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "sim_per_wall": days * DAY_S / wall,
        "us_per_arrival": 1e6 * cpu / max(arrivals, 1),
        "peak_rss_mib": _peak_rss_mib(),
    }


def _offline_report_case(scenario: Scenario, days: int) -> dict[str, Any]:
    """What ``parklotse simulate --offline`` does: both variants, the sweeps and both reports."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_offline(scenario, resolve_site(scenario, SITES), SEED, days, progress=False)
    report = build_report(result)
    size = len(report_json(report)) + len(report_html(report))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    simulated = days * 2 + result.sweep_days * (len(result.latency_sweep) + len(result.share_sweep))
    return {
        "days": days,
        "simulated_days": simulated,
        "wall_s": wall,
        "cpu_s": cpu,
        "sim_per_wall": simulated * DAY_S / wall,
        "report_bytes": size,
        "peak_rss_mib": _peak_rss_mib(),
    }


def _scaling_scenario(bays: int) -> Scenario:
    """Town centres side by side: the calibrated town centre's market square and demand per bay, tiled
    every 600 m over a grid of the given size, so that every size sees the same local conditions."""
    town = load_scenario("town-centre")
    city = load_scenario("city")
    assert isinstance(city.site, GridSite)
    nodes = SCALING_NODES[bays]
    site = city.site.model_copy(update={"id": f"grid-{bays}", "nodes": nodes})
    extent = (nodes - 1) * site.block_m
    count = max(1, round(extent / TILE_M))
    offsets = [(k - (count - 1) / 2) * TILE_M for k in range(count)]
    square = town.space.attractors[0]
    attractors = [
        square.model_copy(update={"name": f"square {i}-{j}", "east_m": x, "north_m": y})
        for i, x in enumerate(offsets)
        for j, y in enumerate(offsets)
    ]
    n_bays = 2 * nodes * (nodes - 1) * site.bays_per_face
    per_bay = town.demand.weekday_arrivals_per_day / TOWN_BAYS
    demand = town.demand.model_copy(update={"weekday_arrivals_per_day": per_bay * n_bays})
    space = town.space.model_copy(update={"attractors": attractors})
    return town.model_copy(update={"site": site, "space": space, "demand": demand})


def run_case(name: str) -> dict[str, Any]:
    if name == "town-centre-week":
        return _engine_case(load_scenario("town-centre"), 7)
    if name == "town-centre-week-report":
        return _offline_report_case(load_scenario("town-centre"), 7)
    if name == "city-day":
        return _engine_case(load_scenario("city"), 1)
    if name.startswith("scaling-"):
        return _engine_case(_scaling_scenario(int(name.removeprefix("scaling-"))), 1)
    raise SystemExit(f"unknown case {name!r}")


def _in_child(name: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True, cwd=REPO
    )
    return dict(json.loads(out.stdout))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-bay grid")
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case)))
        return

    print("Parklotse simulator benchmark (one core, each case in its own process)\n")
    week = _in_child("town-centre-week")
    report = _in_child("town-centre-week-report")
    city = _in_child("city-day")
    print("case                                      bays  sim days     wall      cpu    sim/wall  peak RSS")
    for label, r, days, bays in (
        ("town-centre, one week (one run)", week, week["days"], week["bays"]),
        ("town-centre, one week, --offline report", report, report["simulated_days"], 720),
        ("city, one day (one run)", city, city["days"], city["bays"]),
    ):
        print(
            f"{label:<40} {bays:>6}  {days:>8}  {r['wall_s']:>6.2f} s  {r['cpu_s']:>5.2f} s"
            f"  {r['sim_per_wall']:>9,.0f}x  {r['peak_rss_mib']:>5.0f} MiB"
        )
    print(
        f"\n  city: {city['arrivals']:,} drivers, {city['bay_changes']:,} bay changes, "
        f"{city['us_per_arrival']:.1f} µs of CPU per driver; grid built in {city['build_s']:.2f} s"
    )
    verdict = "met" if city["sim_per_wall"] >= 10_000 and city["peak_rss_mib"] <= 1024 else "NOT met"
    print(f"  target city >= 10,000x real time and <= 1 GiB: {verdict}")
    print(
        f"  the --offline week report simulates {report['simulated_days']} days "
        "(two variants of 7 days and the sweep runs)\n"
    )

    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    rows = [(size, _in_child(f"scaling-{size}")) for size in sizes]
    print("scaling, one weekday: the calibrated town centre tiled every 600 m (same demand per bay)")
    print("   bays  arrivals     wall      cpu   sim/wall  µs cpu/arrival  ns cpu/(bay×arrival)  peak RSS")
    for _size, r in rows:
        per_pair = 1e9 * r["cpu_s"] / (r["bays"] * max(r["arrivals"], 1))
        print(
            f"{r['bays']:>7,} {r['arrivals']:>9,}  {r['wall_s']:>6.2f} s  {r['cpu_s']:>5.2f} s"
            f"  {r['sim_per_wall']:>8,.0f}x  {r['us_per_arrival']:>14.1f}  {per_pair:>20.4f}"
            f"  {r['peak_rss_mib']:>5.0f} MiB"
        )
    first, last = rows[0][1], rows[-1][1]
    growth = last["us_per_arrival"] / first["us_per_arrival"]
    bays_growth = last["bays"] / first["bays"]
    verdict = "met" if growth < bays_growth else "NOT met"
    print(
        f"\n  {bays_growth:.0f}x the bays: the cost per arrival grows {growth:.2f}x, so the total cost grows"
        f" about linearly with arrivals, within 'no worse than linear in bays x arrivals' ({verdict})"
    )


if __name__ == "__main__":
    main()
