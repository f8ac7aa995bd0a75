"""Scenario files: every parameter documented, and bad input named by file and field before anything runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from parking.registry import SiteFileError
from parking.settings import PACKAGED_SITES_DIR
from simulator.grid import resolve_site
from simulator.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    load_scenario,
    parameter_paths,
    scenario_names,
)

REPO = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, document: Mapping[str, Any], name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_three_shipped_scenarios_load() -> None:
    assert {"showroom", "town-centre", "city"} <= set(scenario_names())
    for name in ("showroom", "town-centre", "city"):
        assert load_scenario(name).name == name


def test_every_parameter_of_the_default_scenario_has_a_source() -> None:
    scenario = load_scenario("town-centre")
    missing = [path for path in parameter_paths(Scenario) if not scenario.source(path)]
    assert missing == []


def test_the_default_file_sets_every_parameter_itself() -> None:
    document = json.loads((SCENARIO_DIR / "town-centre.json").read_text(encoding="utf-8"))
    assert "extends" not in document
    Scenario.model_validate(document)


def test_a_derived_scenario_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = _write(tmp_path, {"extends": "town-centre", "demand": {"weekday_arrivals_per_day": 10}})
    derived, town = load_scenario(path), load_scenario("town-centre")
    assert derived.demand.weekday_arrivals_per_day == 10 != town.demand.weekday_arrivals_per_day
    assert derived.dwell == town.dwell


def test_an_unknown_key_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, {"extends": "town-centre", "demand": {"weekday_arrivals_per_dy": 10}})
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert str(path) in str(error.value)
    assert "demand.weekday_arrivals_per_dy" in str(error.value)
    assert "unknown key" in str(error.value)


def test_a_negative_rate_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, {"extends": "town-centre", "demand": {"weekday_arrivals_per_day": -5}})
    with pytest.raises(ScenarioError, match=r"bad\.json: demand\.weekday_arrivals_per_day: .*greater than"):
        load_scenario(path)


def test_a_share_outside_zero_to_one_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, {"extends": "town-centre", "guidance": {"share": 1.5}})
    with pytest.raises(ScenarioError, match=r"bad\.json: guidance\.share: .*less than or equal to 1"):
        load_scenario(path)


def test_a_profile_value_is_named_by_its_hour(tmp_path: Path) -> None:
    profile = [0.0] * 24
    profile[11] = -1.0
    document = {"extends": "town-centre", "demand": {"visitor_profile": {"sunday": profile}}}
    with pytest.raises(ScenarioError, match=r"demand\.visitor_profile\.sunday\.11"):
        load_scenario(_write(tmp_path, document))


def test_a_source_for_a_parameter_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, {"extends": "town-centre", "sources": {"search.warp_speed": "wishful thinking"}})
    with pytest.raises(ScenarioError, match=r"bad\.json: sources\.search\.warp_speed"):
        load_scenario(path)


def test_scenarios_that_extend_each_other_in_a_circle_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, {"extends": str(tmp_path / "b.json")}, "a.json")
    _write(tmp_path, {"extends": str(tmp_path / "a.json")}, "b.json")
    with pytest.raises(ScenarioError, match="extends"):
        load_scenario(tmp_path / "a.json")


def test_an_unknown_scenario_name_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match=r"known: .*town-centre"):
        load_scenario("no-such-town")


def test_a_site_without_bays_names_the_site_file_and_the_field(tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    sites.mkdir()
    empty = {"type": "FeatureCollection", "site": {"id": "empty", "name": "Empty"}, "features": []}
    (sites / "empty.geojson").write_text(json.dumps(empty), encoding="utf-8")
    scenario = load_scenario(
        _write(tmp_path, {"extends": "town-centre", "site": {"kind": "registry", "id": "empty"}})
    )
    with pytest.raises(SiteFileError) as error:
        resolve_site(scenario, sites)
    assert "empty.geojson" in str(error.value) and "features" in str(error.value)


def test_a_site_missing_from_the_registry_names_the_scenario_field(tmp_path: Path) -> None:
    path = _write(tmp_path, {"extends": "town-centre", "site": {"kind": "registry", "id": "atlantis"}})
    with pytest.raises(ScenarioError, match=r"bad\.json: site\.id: no site 'atlantis'"):
        resolve_site(load_scenario(path), PACKAGED_SITES_DIR, path)


def test_the_simulator_documentation_lists_every_parameter() -> None:
    text = (REPO / "docs" / "simulator.md").read_text(encoding="utf-8")
    assert [path for path in parameter_paths(Scenario) if f"`{path}`" not in text] == []
