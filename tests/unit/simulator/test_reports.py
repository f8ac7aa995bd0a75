"""Offline runs and reports: reproducible to the byte, self-contained, and the command's exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from parking.settings import PACKAGED_SITES_DIR
from simulator import command
from simulator.grid import resolve_site
from simulator.offline import run_offline
from simulator.report import build_report, report_html, report_json
from simulator.scenario import load_scenario

SITES = PACKAGED_SITES_DIR
REQUIRED = (
    "mean_search_min",
    "median_search_min",
    "share_over_5min",
    "share_no_search",
    "mean_search_km",
    "co2_g_per_search",
    "peak_occupancy",
    "parameters",
)


@pytest.fixture(scope="module")
def quick_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The town centre with two sweep points each, so that a report takes a fraction of a second."""
    path = tmp_path_factory.mktemp("scenarios") / "quick.json"
    path.write_text(
        json.dumps(
            {
                "extends": "town-centre",
                "name": "quick",
                "report": {"sweep_days": 1, "sweep_latencies_s": [30, 900], "sweep_shares": [0.3, 1.0]},
            }
        ),
        encoding="utf-8",
    )
    return path


def _report_bytes(path: Path, seed: int) -> bytes:
    scenario = load_scenario(path)
    result = run_offline(scenario, resolve_site(scenario, SITES), seed, 1, progress=False)
    return report_json(build_report(result))


def test_the_same_seed_gives_the_same_json_report_to_the_byte(quick_scenario: Path) -> None:
    assert _report_bytes(quick_scenario, 11) == _report_bytes(quick_scenario, 11)


def test_different_seeds_give_different_runs(quick_scenario: Path) -> None:
    first = json.loads(_report_bytes(quick_scenario, 11))
    second = json.loads(_report_bytes(quick_scenario, 12))
    assert first["variants"]["without_sensors"]["drivers"] != second["variants"]["without_sensors"]["drivers"]


def test_the_json_report_holds_the_figures_of_both_variants(quick_scenario: Path) -> None:
    report = json.loads(_report_bytes(quick_scenario, 11))
    for variant in ("without_sensors", "with_sensors"):
        assert all(key in report["variants"][variant] for key in REQUIRED)
    assert report["variants"]["without_sensors"]["parameters"]["guidance"]["share"] == 0.0
    assert report["variants"]["with_sensors"]["parameters"]["guidance"]["share"] == 0.3
    assert [set(day) for day in report["saved"]["per_day"]] == [{"date", "search_min", "km", "co2_kg"}]
    assert len(report["saved"]["per_hour"]) == 24
    assert "T" not in json.dumps(report["run"])  # no timestamps of the run, only simulated dates


def test_the_html_report_is_self_contained_with_five_figures(quick_scenario: Path) -> None:
    scenario = load_scenario(quick_scenario)
    report = build_report(run_offline(scenario, resolve_site(scenario, SITES), 3, 1, progress=False))
    page = report_html(report)
    assert page.count('class="plotly-graph-div"') == 5
    assert "<script src=" not in page  # nothing is loaded from elsewhere (no CDN)
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js is embedded


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_calibrate_is_a_positional_action_and_live_is_the_default() -> None:
    assert command.is_live(_args())
    assert not command.is_live(_args("calibrate", "--seed", "4"))
    assert not command.is_live(_args("--offline"))


def test_an_offline_run_writes_both_reports(quick_scenario: Path, tmp_path: Path) -> None:
    args = _args(
        "--offline",
        "--scenario",
        str(quick_scenario),
        "--seed",
        "2",
        "--report-json",
        str(tmp_path / "r.json"),
        "--report-html",
        str(tmp_path / "r.html"),
        "--no-progress",
    )
    assert command.run(args, SITES) == 0
    assert json.loads((tmp_path / "r.json").read_text())["run"]["seed"] == 2
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_a_bad_scenario_file_exits_2_with_one_line_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"extends": "town-centre", "demand": {"long_stay_share": 2}}), encoding="utf-8")
    assert command.run(_args("--offline", "--scenario", str(bad), "--no-progress"), SITES) == 2
    err = capsys.readouterr().err
    assert "bad.json: demand.long_stay_share:" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_flag_exits_2_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert command.run(_args("--offline", "--days", "0"), SITES) == 2
    assert "--days" in capsys.readouterr().err
