"""A fingerprint of fixed-seed simulator runs: prove that a speed change keeps results bit-identical.

    .venv/bin/python bench/sim_fingerprint.py            # town centre in several settings + a city day
    .venv/bin/python bench/sim_fingerprint.py --quick    # without the city day
    .venv/bin/python bench/sim_fingerprint.py --save before.json; ...; --compare before.json

Each case hashes everything a run produces: both twins' records, samples and daily totals, the bay
changes the live interface returns, the cars on the road, the occupied strings, the signs and the
KPIs. Take the fingerprint on the current tree right before a change and compare right after: model
or calibration changes by others alter it too, so it is a dev tool, not a test that pins values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# DayTotals' fields, named here: a class compiled by mypyc (setup.py) has no __slots__ to read them from
_DAY_TOTALS = ("gave_up", "misses", "no_search", "search_m", "searches", "to_garage")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
if "--tree" in sys.argv:  # a copy of the simulator package to fingerprint (a snapshot before a change)
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])

from parking.settings import PACKAGED_SITES_DIR  # noqa: E402
from simulator.engine import Engine, Simulation  # noqa: E402
from simulator.grid import build_network, resolve_site  # noqa: E402
from simulator.metrics import live_kpis  # noqa: E402
from simulator.offline import run_twins, settings_for  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

SITES = PACKAGED_SITES_DIR


class _Hash:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def add(self, value: Any) -> None:
        self.h.update(repr(value).encode())
        self.h.update(b"|")

    def engine(self, engine: Engine) -> None:
        if engine.records is not None:
            for name, values in engine.record_arrays().items():
                self.add(name)
                self.h.update(values.tobytes())
        for name, values in engine.samples.arrays().items():
            self.add(name)
            self.h.update(values.tobytes())
        for day in sorted(engine.daily):
            totals = engine.daily[day]
            self.add((day, *(getattr(totals, name) for name in _DAY_TOTALS)))
        self.add((engine.changes_total, engine.occupied, engine.core_occupied, engine.on_road))
        self.add((bytes(engine.state), bytes(engine.reading), engine.garage_used, engine.next_id))

    def digest(self) -> str:
        return self.h.hexdigest()[:16]


def _offline(scenario_name: str, days: int, **settings: Any) -> Callable[[], str]:
    def case() -> str:
        scenario = load_scenario(scenario_name)
        network = build_network(resolve_site(scenario, SITES), scenario.space)
        twins = run_twins(settings_for(scenario, days, **settings), network, 7)
        h = _Hash()
        for name, engine in twins.items():
            h.add(name)
            h.engine(engine)
        return h.digest()

    return case


def _live(preset: str, start_hour: float, steps: int, **steer: Any) -> Callable[[], str]:
    """The live interface: advance in 0.5 s-of-wall-like steps of 15 simulated seconds, hash all it shows."""

    def case() -> str:
        scenario = load_scenario("town-centre")
        sim = Simulation(scenario, resolve_site(scenario, SITES), 5, preset=preset, start_hour=start_hour)
        if "steering" in steer:
            sim.set_steering(steer["steering"])
        if "share" in steer:
            sim.set_guidance_share(steer["share"])
        h = _Hash()
        bay = sim.network.bay_ids[3]
        for step in range(1, steps + 1):
            if step == steps // 3:
                sim.set_external(bay, True)
            if step == 2 * steps // 3:
                sim.set_external(bay, False)
            h.add([(c.bay, c.occupied, c.t_s) for c in sim.advance(step * 15.0)])
            if step % 4 == 0:
                h.add(sim.vehicles())
                h.add(sim.occupied())
                h.add([s.model_dump() for s in sim.signs()])
                h.add(live_kpis(sim).model_dump())  # the same repr as the dict it was
        sim.jump_to(start_hour + 2.0)
        h.add([(c.bay, c.occupied, c.t_s) for c in sim.advance(1800.0)])
        h.add(sim.vehicles())
        for name, engine in sim.twins.items():
            h.add(name)
            h.engine(engine)
        return h.digest()

    return case


CASES: dict[str, Callable[[], str]] = {
    "town week, calendar days, app 0.3": _offline("town-centre", 7),
    "town markttag x2, signs 0.9": _offline("town-centre", 2, preset="markttag", steering="signs", share=0.9),
    "town werktag, both 0.6, latency 300": _offline(
        "town-centre", 1, preset="werktag", steering="both", share=0.6, latency_s=300.0
    ),
    "town over-full 1.3, signs 0.9": _offline(
        "town-centre", 1, preset="werktag", steering="signs", share=0.9, demand_factor=1.3
    ),
    "town ausfall, app 1.0": _offline("town-centre", 1, preset="ausfall", steering="app", share=1.0),
    "town live markttag, app": _live("markttag", 10.0, 240),
    "town live werktag, signs 0.7": _live("werktag", 16.0, 240, steering="signs", share=0.7),
    "showroom day": _offline("showroom", 1),
    "city day": _offline("city", 1),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the city day")
    parser.add_argument("--tree", help="a folder holding a copy of the simulator package to use instead")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--save", type=Path, help="write the fingerprints to this JSON file")
    parser.add_argument(
        "--compare", type=Path, help="compare with fingerprints saved earlier (exit 1 if any differs)"
    )
    args = parser.parse_args(argv)
    out: dict[str, str] = {}
    for name, case in CASES.items():
        if (args.quick and name.startswith("city")) or (args.only and args.only not in name):
            continue
        c0 = time.process_time()
        out[name] = case()
        print(f"{name:<40} {out[name]}  ({time.process_time() - c0:.2f} s cpu)", flush=True)
    if args.save:
        args.save.write_text(json.dumps(out, indent=1))
    if args.compare:
        before = json.loads(args.compare.read_text())
        differ = [name for name in out if name in before and before[name] != out[name]]
        for name in differ:
            print(f"DIFFERS: {name}: {before[name]} -> {out[name]}")
        print("identical" if not differ else f"{len(differ)} case(s) differ")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
