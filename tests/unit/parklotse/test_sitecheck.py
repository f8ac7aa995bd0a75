"""parklotse check-sites: every problem of every site file at once, and what the good ones hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from parklotse.cli import main
from parklotse.sitecheck import check_sites, render, site_files


def _bay(bay: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [9.37, 53.92]},
        "properties": {"bay": bay, "zone": "Markt", **props},
    }


def _write(folder: Path, name: str, site_id: str, features: list[dict[str, Any]]) -> Path:
    path = folder / name
    document = {"type": "FeatureCollection", "site": {"id": site_id, "name": site_id}, "features": features}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_every_broken_file_is_reported_not_only_the_first(tmp_path: Path) -> None:
    _write(tmp_path, "a.geojson", "a", [])
    (tmp_path / "b.geojson").write_text("{not json", encoding="utf-8")
    _write(tmp_path, "c.geojson", "c", [_bay("C1")])
    result = check_sites(site_files([tmp_path]))
    assert not result.ok
    assert len(result.errors) == 2
    assert "a.geojson: features: the site has no bays" in result.errors[0]
    assert "b.geojson: line 1 column 2: not valid JSON" in result.errors[1]
    assert [r.site.id for r in result.reports] == ["c"]


def test_a_device_bound_in_two_files_is_a_problem(tmp_path: Path) -> None:
    _write(tmp_path, "a.geojson", "a", [_bay("A1", device_id="pls-7")])
    _write(tmp_path, "b.geojson", "b", [_bay("B1", device_id="pls-7")])
    result = check_sites(site_files([tmp_path]))
    assert result.errors == [
        f"{tmp_path / 'b.geojson'}: bay 'B1': device 'pls-7' is already bound to bay 'A1' of site 'a'"
    ]


def test_one_site_id_in_two_files_is_a_problem(tmp_path: Path) -> None:
    _write(tmp_path, "a.geojson", "same", [_bay("A1")])
    _write(tmp_path, "b.geojson", "same", [_bay("B1")])
    [error] = check_sites(site_files([tmp_path])).errors
    assert "site 'same' is also defined in" in error


def test_the_report_counts_devices_and_lists_bays_without_one(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "a.geojson",
        "a",
        [
            _bay("A1", device_id="pls-1", codec="bosch-pls"),
            _bay("A2", dev_eui="70b3d57ed0000001", codec="bosch-pls"),
            _bay("A3"),
        ],
    )
    result = check_sites(site_files([tmp_path]))
    [report] = result.reports
    assert (report.things_stack_devices, report.chirpstack_devices) == (1, 1)
    assert report.unbound == ["A3"]
    text = render(result)
    assert "3 bays in 1 zones: Markt" in text
    assert "codecs: bosch-pls ×2" in text
    assert "1 bays without a device (native topic only): A3" in text
    assert text.endswith("1 site file good")


def test_no_site_files_at_all_is_a_problem(tmp_path: Path) -> None:
    assert check_sites(site_files([tmp_path])).errors == ["no site files (*.geojson) were given or found"]


def test_the_command_exits_2_on_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "a.geojson", "a", [])
    assert main(["check-sites", str(tmp_path)]) == 2
    assert "1 problem found" in capsys.readouterr().out


def test_the_command_checks_the_sample_sites_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-sites"]) == 0
    out = capsys.readouterr().out
    assert "showroom" in out and "town-centre" in out and "site files good" in out
