"""``parklotse simulate``: offline runs with reports, and the calibration table.

    parklotse simulate --offline --scenario NAME|PATH --seed N --days D [--preset P]
        [--steering app|signs|both] [--guidance-share X] [--demand-factor F]
        --report-json PATH --report-html PATH
    parklotse simulate calibrate [--seed N] [--scenario NAME|PATH]
    parklotse simulate [--scenario ...]            (live: publishes as sensors; see simulator.live)

Exit codes: 0 done, 1 calibration targets missed, 2 bad input (one line naming the file or flag).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from parking.registry import Site, SiteFileError
from simulator import calibrate as calibration
from simulator.calibrate import format_table
from simulator.grid import resolve_site
from simulator.offline import RunSettings, progress_bar, run_offline, settings_for
from simulator.report import build_report, report_html, report_json
from simulator.scenario import (
    DEFAULT_SCENARIO,
    STEERING_MODES,
    Scenario,
    ScenarioError,
    load_scenario,
    resolve_scenario_path,
)

EXIT_OK, EXIT_MISSED, EXIT_BAD_INPUT = 0, 1, 2
MAX_DAYS = 366
DEFAULT_SEED = 1


class InputError(ValueError):
    """A bad flag or path; the message names it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulate flags; a flag the parser already has (say ``--sites-dir``) is left as it is."""
    _add(
        parser,
        "action",
        nargs="?",
        choices=["calibrate"],
        help="calibrate: run the scenario and compare it with targets T1-T5 of docs/research.md §7",
    )
    _add(parser, "--offline", action="store_true", help="simulate whole days as fast as possible and report")
    _add(
        parser,
        "--scenario",
        default=DEFAULT_SCENARIO,
        help=f"a scenario in simulator/scenarios (default {DEFAULT_SCENARIO}) or a scenario file",
    )
    _add(parser, "--seed", type=int, default=None, help=f"random seed (offline default {DEFAULT_SEED})")
    _add(parser, "--days", type=int, default=1, help="simulated days for --offline (default 1)")
    _add(
        parser,
        "--preset",
        help="a preset of the scenario (werktag, markttag, abend, ausfall): every day is one",
    )
    _add(parser, "--steering", help="app, signs or both (default: the scenario's)")
    _add(parser, "--guidance-share", type=float, help="share of steered drivers of the steering mode, 0..1")
    _add(
        parser, "--demand-factor", type=float, help="multiply all arrivals, e.g. 1.3 for an over-full centre"
    )
    _add(parser, "--report-json", type=Path, help="write the JSON report here (--offline)")
    _add(parser, "--report-html", type=Path, help="write the self-contained HTML report here (--offline)")
    _add(parser, "--sites-dir", type=Path, help="site files (default: PARKLOTSE_SITES_DIR)")
    _add(parser, "--no-progress", action="store_true", help="no progress bar (none off a terminal)")


def _add(parser: argparse.ArgumentParser, *names: str, **options: Any) -> None:
    with contextlib.suppress(argparse.ArgumentError):  # the caller's parser defines it already
        parser.add_argument(*names, **options)


def is_live(args: argparse.Namespace) -> bool:
    """Neither --offline nor an action: the lead's live publisher handles it."""
    return args.action is None and not args.offline


def load(args: argparse.Namespace, sites_dir: Path) -> tuple[Scenario, Site]:
    """The scenario and its site (from ``sites_dir``, the settings' folder), fully checked before
    anything runs."""
    if seed(args) < 0:
        raise InputError(f"--seed: must be 0 or more, got {args.seed}")
    path = resolve_scenario_path(args.scenario)
    scenario = load_scenario(path)
    return scenario, resolve_site(scenario, sites_dir, path)


def run_settings(scenario: Scenario, args: argparse.Namespace) -> RunSettings:
    """The flags applied to the scenario; InputError naming the flag."""
    preset = getattr(args, "preset", None)
    steering = getattr(args, "steering", None)
    share = getattr(args, "guidance_share", None)
    factor = getattr(args, "demand_factor", None)
    if preset is not None and preset not in scenario.presets:
        raise InputError(f"--preset: no preset {preset!r} (known: {', '.join(scenario.presets)})")
    if steering is not None and steering not in STEERING_MODES:
        raise InputError(f"--steering: must be one of {', '.join(STEERING_MODES)}, got {steering!r}")
    if share is not None and not 0.0 <= share <= 1.0:
        raise InputError(f"--guidance-share: must be within 0..1, got {share}")
    if factor is not None and not 0.0 <= factor <= 5.0:
        raise InputError(f"--demand-factor: must be within 0..5, got {factor}")
    return settings_for(scenario, args.days, preset, steering, share, None, factor)


def seed(args: argparse.Namespace) -> int:
    return DEFAULT_SEED if args.seed is None else int(args.seed)


def run(args: argparse.Namespace, sites_dir: Path) -> int:
    """An offline run or the calibration; ``sites_dir`` from the settings (``--sites-dir`` folded in)."""
    if is_live(args):
        raise NotImplementedError(
            "live mode is started by simulator.live (parklotse simulate without --offline)"
        )
    try:
        if args.offline and args.action is not None:
            raise InputError(f"--offline: cannot be combined with {args.action!r}")
        if args.offline:
            _check_outputs(args)
        scenario, site = load(args, sites_dir)
        settings = run_settings(scenario, args)
    except (InputError, ScenarioError, SiteFileError) as exc:
        print(f"parklotse simulate: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.action == "calibrate":
        return _calibrate(scenario, site, args)
    return _offline(scenario, site, args, settings)


def _check_outputs(args: argparse.Namespace) -> None:
    if not 1 <= args.days <= MAX_DAYS:
        raise InputError(f"--days: must be within 1..{MAX_DAYS}, got {args.days}")
    for flag, path in (("--report-json", args.report_json), ("--report-html", args.report_html)):
        if path is not None and not path.parent.is_dir():
            raise InputError(f"{flag}: folder {path.parent} does not exist")


def _calibrate(scenario: Scenario, site: Site, args: argparse.Namespace) -> int:
    hours = 24.0 * 2 * calibration.CALIBRATION_DAYS
    with progress_bar(hours, not args.no_progress) as tick:
        result = calibration.calibrate(scenario, site, seed(args), tick)
    print(format_table(result))
    return EXIT_OK if result.passed else EXIT_MISSED


def _offline(scenario: Scenario, site: Site, args: argparse.Namespace, settings: RunSettings) -> int:
    result = run_offline(
        scenario, site, seed(args), args.days, progress=not args.no_progress, settings=settings
    )
    report = build_report(result)
    if args.report_json is not None:
        args.report_json.write_bytes(report_json(report))
    if args.report_html is not None:
        args.report_html.write_text(report_html(report), encoding="utf-8")
    print(_summary(report, args))
    return EXIT_OK


def _summary(report: dict[str, object], args: argparse.Namespace) -> str:
    variants = report["variants"]
    benefit = report["benefit"]
    assert isinstance(variants, dict) and isinstance(benefit, dict)
    scenario = report["scenario"]
    assert isinstance(scenario, dict)
    lines = [f"{args.scenario}: {args.days} day(s), seed {seed(args)}"]
    if not scenario["calibrated"]:
        lines.append(f"  {scenario['calibration']}")
    lines.append("  peak hours:")
    for name in ("without_sensors", "with_sensors"):
        v = variants[name]
        if v["mean_search_min"] is None:
            lines.append(f"  {name:<15} no arrivals in peak hours")
            continue
        lines.append(
            f"  {name:<15} mean search {v['mean_search_min']:.2f} min, "
            f"median {v['median_search_min']:.2f} min, {v['mean_search_km']:.3f} km, "
            f"{v['co2_g_per_search']:.1f} g CO2 per search"
        )
    day = benefit["whole_day"]
    lines.append(
        "  saved per day (whole day, all drivers, twin minus run): "
        f"{day['search_min_saved_per_day']:.1f} min "
        f"of search, {day['search_km_saved_per_day']:.2f} km, {day['co2_kg_saved_per_day']:.2f} kg CO2"
    )
    for flag, path in (("JSON", args.report_json), ("HTML", args.report_html)):
        if path is not None:
            lines.append(f"  {flag} report: {path}")
    return "\n".join(lines)
