"""Simulator benchmark: speed and memory of the twin towns, the cost of car positions, and scaling.

    .venv/bin/python bench/bench_simulator.py            # everything but the 100,000-bay grid
    .venv/bin/python bench/bench_simulator.py --full     # with the 100,000-bay grid (minutes)
    .venv/bin/python -m bench simulator [--full]

Every case runs in a fresh process of its own, so that its peak memory (ru_maxrss) is its own. Every
run simulates both twins (the town without and with sensors) and, as every run does, the warm-up day
before the first reported day: "sim days" counts reported days. The CPU of the warm-up day is taken
apart (each twin runs to the first midnight, then on as run_twins runs it: the same run), so that two
figures stand side by side: a run of one day, warm-up included ("sim/cpu"), and a reported day itself,
what each further day of a longer run costs ("day only"). Turn tables fill mostly during the warm-up.

The city's day runs three times each, alternating: with the checkout's source (what ./run.sh's
editable install runs) and with the core compiled as ``pip install .`` builds it (bench/compiled_core.py
builds that wheel once per version of the sources, a minute or two, into build/bench-compiled/). Both
must simulate the same drivers and bay changes; the ratio of their CPU times is measured pair by pair.
The table shows the run of median CPU time and the target is judged on it: this machine's speed drifts
by more than half within minutes (the reference loop below), so one run says little.

Targets (issue 10): the city's day at >= 10,000x real time on one core and <= 1 GiB with positions
off (judged on the compiled core); positions on at 2 Hz cost no more than 20 % of one core on the
town centre.

CPU time (process_time) is the measure: the machine this runs on may be shared, and wall time then
says more about the neighbours than about the simulator. Each case also times a fixed reference loop
(``sum(range(10**6))``) in the same process, so that figures from a busy and an idle machine can be
compared: scale by the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
if os.environ.get("PARKLOTSE_BENCH_SITE"):  # bench.compiled_core: the wheel's modules come first
    sys.path.insert(0, os.environ["PARKLOTSE_BENCH_SITE"])

import simulator.engine  # noqa: E402
from bench import compiled_core  # noqa: E402
from parking.settings import PACKAGED_SITES_DIR  # noqa: E402
from simulator.collector import collector_paused  # noqa: E402
from simulator.demand import DAY_S  # noqa: E402
from simulator.engine import Engine, Simulation, TwinName, seed_entropy, twin_engines  # noqa: E402
from simulator.grid import Network, build_network, resolve_site  # noqa: E402
from simulator.offline import TAIL_S, run, run_offline, settings_for  # noqa: E402
from simulator.positions import MIN_INTERVAL_S, positions_message  # noqa: E402
from simulator.report import build_report, report_html, report_json  # noqa: E402
from simulator.scenario import GridSite, Scenario, load_scenario  # noqa: E402

SITES = PACKAGED_SITES_DIR
SEED = 1
SCALING_NODES = {1_000: 7, 10_000: 21, 100_000: 65}  # 2·n·(n−1)·12 bays ≈ the label
TILE_M = 600.0  # one town centre (6 x 6 nodes of 100 m) per tile
TOWN_BAYS = 720
TOWN_EDGE_M = 250.0  # the town centre's entrances and garage lie this far out
LIVE_SPEEDS = (30.0, 60.0, 600.0)  # the demo's default, the live default, the fastest allowed
LIVE_SIM_S = 2 * 3600.0  # two simulated hours of the market morning per speed
# The reference loop on a fast idle core: an assumption, not this machine. The project's shared 2-core
# machine takes about 21 ms nearly idle (2026-12-01), so there the "scaled" figure is not reachable.
IDLE_REFERENCE_MS = 12.0
SLICE_S = 14 * 3600.0  # the city-slice case runs the warm-up day to 14 h
CITY_RUNS = 3  # the city's day, source and compiled alternating; judged on the median


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _reference_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop: how fast this machine runs Python right now."""
    c0 = time.process_time()
    for _ in range(10):
        sum(range(10**6))
    return (time.process_time() - c0) * 100.0


def _twins(scenario: Scenario, days: int) -> tuple[Network, dict[TwinName, Engine], float]:
    """Both twins of a run as simulator.offline.run_twins sets them up; the network's build time."""
    t0 = time.perf_counter()
    network = build_network(resolve_site(scenario, SITES), scenario.space)
    build_s = time.perf_counter() - t0
    settings = settings_for(scenario, days)
    twins = twin_engines(
        settings.scenario, network, seed_entropy(SEED), settings.first_day, day_kind=settings.day_kind
    )
    return network, twins, build_s


def _twins_case(scenario: Scenario, days: int) -> dict[str, Any]:
    # simulator.offline.run_twins, with a stop at the first midnight to time the warm-up day apart
    network, twins, build_s = _twins(scenario, days)
    t0, c0 = time.perf_counter(), time.process_time()
    warmup_cpu = 0.0
    with collector_paused():  # as run_twins runs
        for engine in twins.values():
            w0 = time.process_time()
            engine.run_until(0.0)
            warmup_cpu += time.process_time() - w0
            run(engine, days, lambda _h: None)
            engine.run_until(days * DAY_S + TAIL_S)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    with_sensors = twins["with_sensors"]
    return {
        "bays": network.n_bays,
        "days": days,
        "drivers": sum(engine.next_id for engine in twins.values()),
        "bay_changes": sum(engine.changes_total for engine in twins.values()),
        "reported_drivers": len(with_sensors.record_arrays()["t_arrival"]),
        "build_s": build_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "warmup_cpu_s": warmup_cpu,
        "sim_per_cpu": days * DAY_S / cpu,
        "day_per_cpu": days * DAY_S / (cpu - warmup_cpu),
        "sim_per_wall": days * DAY_S / wall,
        "us_per_driver": 1e6 * cpu / max(sum(engine.next_id for engine in twins.values()), 1),
        "peak_rss_mib": _peak_rss_mib(),
        "reference_ms": _reference_ms(),
        "compiled": _compiled(),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median CPU time (of an even number, the faster of the middle two)."""
    return sorted(runs, key=lambda run: run["cpu_s"])[(len(runs) - 1) // 2]


def _runs(runs: list[dict[str, Any]]) -> str:
    """The CPU and real-time factors of repeated runs, in the order they ran."""
    return ", ".join(
        f"{run['cpu_s']:.2f} s ({run['sim_per_cpu']:,.0f}x, the day itself {run['day_per_cpu']:,.0f}x;"
        f" ref {run['reference_ms']:.0f} ms)"
        for run in runs
    )


def _compiled() -> bool:
    """Whether this process runs the engine compiled (an extension module) rather than its source."""
    return not str(simulator.engine.__file__).endswith(".py")


def _city_slice_case() -> dict[str, Any]:
    """A fixed slice of the city case (both twins up to 14 h of the warm-up day), to count instructions:
    ``valgrind --tool=cachegrind --cache-sim=no python bench/bench_simulator.py --case city-slice``
    (minutes). Unlike CPU time the count does not depend on the neighbours, so it shows changes of a few
    per cent that side-by-side timings on a shared machine cannot."""
    _network, twins, _build_s = _twins(load_scenario("city"), 1)
    c0 = time.process_time()
    with collector_paused():  # as run_twins runs
        for engine in twins.values():
            engine.run_until(-DAY_S + SLICE_S)
    return {
        "drivers": sum(engine.next_id for engine in twins.values()),
        "cpu_s": time.process_time() - c0,
    }


def _offline_report_case(scenario: Scenario, days: int) -> dict[str, Any]:
    """What ``parklotse simulate --offline`` does: both twins, the sweeps and both reports."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_offline(scenario, resolve_site(scenario, SITES), SEED, days, progress=False)
    report = build_report(result)
    size = len(report_json(report)) + len(report_html(report))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    report_settings = scenario.report
    sweep_runs = len(report_settings.sweep_latencies_s) + len(report_settings.sweep_shares)
    simulated = 2 * days + 2 * result.sweep_days * sweep_runs  # engine-days, both twins of every run
    return {
        "days": days,
        "simulated_days": simulated,
        "wall_s": wall,
        "cpu_s": cpu,
        "sim_per_cpu": days * DAY_S / cpu,
        "sim_per_wall": days * DAY_S / wall,
        "report_bytes": size,
        "peak_rss_mib": _peak_rss_mib(),
        "reference_ms": _reference_ms(),
    }


def _live_case() -> dict[str, Any]:
    """The live town centre on a market morning: CPU per second of wall time at each speed, without and
    with the positions message (both twins' cars and bays, as simulator.positions builds it) at 2 Hz."""
    scenario = load_scenario("town-centre")
    site = resolve_site(scenario, SITES)
    network = build_network(site, scenario.space)
    out: dict[str, Any] = {"interval_s": MIN_INTERVAL_S, "speeds": []}
    for speed in LIVE_SPEEDS:
        step = speed * MIN_INTERVAL_S  # simulated seconds per tick of 0.5 s
        ticks = int(LIVE_SIM_S / step)
        row: dict[str, Any] = {"speed": speed, "ticks": ticks}
        for positions in (False, True):
            sim = Simulation(scenario, site, SEED, preset="markttag", start_hour=10.0, network=network)
            cpu_message = 0.0
            size = cars = 0
            c0 = time.process_time()
            for tick in range(1, ticks + 1):
                sim.advance(tick * step)
                if positions:
                    m0 = time.process_time()
                    payload = positions_message(site.id, sim, network.bay_ids, MIN_INTERVAL_S)
                    cpu_message += time.process_time() - m0
                    size += len(payload)
                    cars += sum(len(v) for v in sim.vehicles().values())
            cpu = time.process_time() - c0
            key = "on" if positions else "off"
            row[f"core_{key}"] = cpu / (ticks * MIN_INTERVAL_S)  # share of one core while running live
            if positions:
                row["core_message"] = cpu_message / (ticks * MIN_INTERVAL_S)
                row["ms_per_message"] = 1000.0 * cpu_message / ticks
                row["bytes_per_message"] = size / ticks
                row["cars_per_message"] = cars / ticks
        out["speeds"].append(row)
    out["peak_rss_mib"] = _peak_rss_mib()
    out["reference_ms"] = _reference_ms()
    return out


def _scaling_scenario(bays: int) -> Scenario:
    """Town centres side by side: the town centre's market square and demand per bay, tiled every 600 m
    over a grid of the given size, so that every size sees the same local conditions; the entrances,
    the garage and the sign junctions move out to the edge of the grid with it."""
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
    factor = extent / 2 / TOWN_EDGE_M

    def out(place: Any) -> Any:
        return place.model_copy(update={"east_m": place.east_m * factor, "north_m": place.north_m * factor})

    steering = town.steering.model_copy(
        update={"sign_junctions": [out(p) for p in town.steering.sign_junctions]}
    )
    return town.model_copy(
        update={
            "site": site,
            "space": space,
            "demand": demand,
            "entrances": [out(e) for e in town.entrances],
            "garages": [out(g) for g in town.garages],
            "steering": steering,
        }
    )


def run_case(name: str) -> dict[str, Any]:
    if name == "town-centre-week":
        return _twins_case(load_scenario("town-centre"), 7)
    if name == "town-centre-week-report":
        return _offline_report_case(load_scenario("town-centre"), 7)
    if name == "city-day":
        return _twins_case(load_scenario("city"), 1)
    if name == "city-slice":
        return _city_slice_case()
    if name == "live":
        return _live_case()
    if name.startswith("scaling-"):
        return _twins_case(_scaling_scenario(int(name.removeprefix("scaling-"))), 1)
    raise SystemExit(f"unknown case {name!r}")


def _in_child(name: str, site: Path | None = None) -> dict[str, Any]:
    """A case in a fresh process: of the checkout's source, or of the wheel installed in ``site``."""
    env = {k: v for k, v in os.environ.items() if k != compiled_core.ENV}
    if site is not None:
        env[compiled_core.ENV] = str(site)
    out = subprocess.run(
        [sys.executable, __file__, "--case", name],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
    )
    result = dict(json.loads(out.stdout))
    if "compiled" in result and result["compiled"] != (site is not None):
        raise SystemExit(
            f"case {name}: expected the {'compiled' if site else 'source'} engine, ran the other"
        )
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help="add the 100,000-bay grid (minutes)")
    parser.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)  # the default now
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case)))
        return

    print("Parklotse simulator benchmark (one core, each case in its own process, both twins)\n")
    try:
        site: Path | None = compiled_core.compiled_site(REPO)
    except RuntimeError as error:
        site = None
        print(f"  the compiled core could not be built, so only the source is measured: {error}\n")
    week = _in_child("town-centre-week")
    report = _in_child("town-centre-week-report")
    # The city's day runs CITY_RUNS times, source and compiled alternating, so that a neighbour's burst
    # lands on both sides; the table shows the run of median CPU, and the target is judged on it.
    city_runs: list[dict[str, Any]] = []
    compiled_runs: list[dict[str, Any]] = []
    for _ in range(CITY_RUNS):
        city_runs.append(_in_child("city-day"))
        if site is not None:
            compiled_runs.append(_in_child("city-day", site))
    city = _median_run(city_runs)
    compiled = _median_run(compiled_runs) if compiled_runs else None
    cases = [
        ("town-centre, one week (both twins)", week, week["bays"]),
        ("town-centre, one week, --offline report", report, TOWN_BAYS),
        ("city, one day (both twins), source", city, city["bays"]),
    ]
    if compiled is not None:
        cases.append(("city, one day, compiled (pip install .)", compiled, compiled["bays"]))
    print(
        "case                                         bays  sim days    cpu      wall   sim/cpu  peak RSS ref"
    )
    for label, r, bays in cases:
        print(
            f"{label:<43} {bays:>6}  {r['days']:>8}  {r['cpu_s']:>5.2f} s  {r['wall_s']:>6.2f} s"
            f"  {r['sim_per_cpu']:>8,.0f}x  {r['peak_rss_mib']:>5.0f} MiB {r['reference_ms']:.0f} ms"
        )
    print(
        f"\n  city: {city['drivers']:,} drivers in both twins (warm-up day included),"
        f" {city['bay_changes']:,} bay changes, {city['us_per_driver']:.0f} µs of CPU per driver (source);"
        f" grid built in {city['build_s']:.2f} s"
    )
    print(f"  city, {CITY_RUNS} runs each, the table shows the median:")
    print(f"    source:   {_runs(city_runs)}")
    if compiled is not None:
        print(f"    compiled: {_runs(compiled_runs)}")
        same = all(
            run[k] == city[k]
            for run in city_runs + compiled_runs
            for k in ("drivers", "bay_changes", "reported_drivers")
        )
        ratios = sorted(c["cpu_s"] / r["cpu_s"] for c, r in zip(city_runs, compiled_runs, strict=True))
        print(
            f"  city, compiled: {ratios[len(ratios) // 2]:.2f}x the source's speed (median of the"
            f" {CITY_RUNS} side-by-side pairs, {ratios[0]:.2f}-{ratios[-1]:.2f}x);"
            f" the same drivers and bay changes in every run: {'yes' if same else 'NO'}"
        )
        if not same:
            raise SystemExit("the compiled engine simulated another day than the source: a bug")
    elif any(run[k] != city[k] for run in city_runs for k in ("drivers", "bay_changes")):
        raise SystemExit("two runs of the same day simulated different drivers: a bug")
    measured = compiled if compiled is not None else city
    what_ran = "compiled, as pip install . installs it" if compiled is not None else "source"
    day_cpu = measured["cpu_s"] - measured["warmup_cpu_s"]
    print(
        f"  city ({what_ran}): the warm-up day takes {measured['warmup_cpu_s']:.2f} s of the CPU (turn tables"
        f" fill in it); the reported day itself {day_cpu:.2f} s ({measured['day_per_cpu']:,.0f}x real time)"
    )
    idle = IDLE_REFERENCE_MS / measured["reference_ms"]  # an estimate: CPU scaled by the reference loop
    memory_ok = measured["peak_rss_mib"] <= 1024
    runs = compiled_runs or city_runs
    for what, key in (
        ("a one-day run, warm-up day included", "sim_per_cpu"),
        ("the day itself (each day of a longer run)", "day_per_cpu"),
    ):
        per_cpu = measured[key]
        verdict = "met" if per_cpu >= 10_000 and memory_ok else "NOT met"
        reached = sum(run[key] >= 10_000 for run in runs)
        print(
            f"  target city day >= 10,000x real time on one core and <= 1 GiB, {what} ({what_ran}):"
            f" {verdict} here ({per_cpu:,.0f}x in the median run, {reached} of {len(runs)} runs at or above"
            f" it; {measured['peak_rss_mib']:.0f} MiB; about {per_cpu / idle:,.0f}x on a core where ref"
            f" takes {IDLE_REFERENCE_MS:.0f} ms, an estimate)"
        )
    print(
        f"  the --offline week report simulates {report['simulated_days']} twin-days "
        "(both twins of 7 days and of the sweep runs)"
    )
    print(
        "  ref: CPU of sum(range(10**6)) in the same process; the figures scale with it "
        f"(about {IDLE_REFERENCE_MS:.0f} ms on a fast idle core, an assumption: a core that is merely idle"
        " may be slower)\n"
    )

    live = _in_child("live")
    print(
        "live town centre, market morning (10-12 h), both twins, one tick of simulated time every "
        f"{live['interval_s']:g} s of wall time:"
    )
    print(
        "  speed   cpu, positions off   cpu, positions on   of which the message   per message  cars  bytes"
    )
    for row in live["speeds"]:
        print(
            f"  {row['speed']:>4.0f}x  {100 * row['core_off']:>15.1f} %  {100 * row['core_on']:>17.1f} %"
            f"  {100 * row['core_message']:>19.1f} %  {row['ms_per_message']:>8.2f} ms"
            f"  {row['cars_per_message']:>4.0f}  {row['bytes_per_message']:>6,.0f}"
        )
    worst = max(row["core_on"] for row in live["speeds"] if row["speed"] <= 60)
    verdict = "met" if worst <= 0.20 else "NOT met"
    print(
        f"  target positions on at 2 Hz <= 20 % of one core (demo and live speeds, 30x and 60x): {verdict}"
        f" ({100 * worst:.1f} %); ref {live['reference_ms']:.0f} ms\n"
    )

    sizes = [1_000, 10_000, 100_000] if args.full else [1_000, 10_000]
    rows = [(size, _in_child(f"scaling-{size}")) for size in sizes]
    print(
        "scaling, one weekday, both twins: the town centre tiled every 600 m (same demand per bay),"
        " entrances at the edge"
    )
    print("   bays   drivers      cpu     wall   sim/cpu  µs cpu/driver  peak RSS  ref")
    for _size, r in rows:
        print(
            f"{r['bays']:>7,} {r['drivers']:>9,}  {r['cpu_s']:>5.2f} s  {r['wall_s']:>5.2f} s"
            f"  {r['sim_per_cpu']:>8,.0f}x  {r['us_per_driver']:>13.1f}  {r['peak_rss_mib']:>5.0f} MiB"
            f"  {r['reference_ms']:.0f} ms"
        )
    first, last = rows[0][1], rows[-1][1]
    growth = last["us_per_driver"] / first["us_per_driver"]
    print(
        f"\n  {last['bays'] / first['bays']:.0f}x the bays: the cost per driver grows {growth:.2f}x (drivers"
        " also drive farther on a larger grid)"
    )


if __name__ == "__main__":
    main()
