"""The site registry: GeoJSON sites, and errors that name the file, the feature and the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from parking.registry import SiteFileError, load_registry, load_site, parse_site
from parking.settings import DEFAULT_SITES_DIR

GOOD: dict[str, Any] = {
    "type": "FeatureCollection",
    "site": {"id": "wilster", "name": "Wilster Markt"},
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [9.37, 53.92]},
            "properties": {
                "bay": "B-1",
                "zone": "Markt",
                "dev_eui": "70B3D5E75E000001",
                "codec": "bosch-pls",
            },
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[9.0, 53.0], [9.001, 53.0], [9.001, 53.001], [9.0, 53.0]]],
            },
            "properties": {"bay": "B-2", "device_id": "pls-2"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[9.0, 53.0], [9.1, 53.0]]},
            "properties": {"kind": "street", "name": "Markt"},
        },
    ],
}


def broken(path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(GOOD)
    target: Any = document
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is ...:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return document


def test_a_valid_site_has_its_bays_zones_and_streets() -> None:
    site = parse_site(GOOD, Path("wilster.geojson"))
    assert site.id == "wilster" and site.name == "Wilster Markt"
    assert list(site.bays) == ["B-1", "B-2"]
    assert site.bays["B-2"].zone == "default"
    assert site.zones == ("Markt", "default")
    assert len(site.streets) == 1


def test_a_polygon_bay_is_located_at_its_centroid() -> None:
    bay = parse_site(GOOD, Path("w.geojson")).bays["B-2"]
    assert bay.lon == pytest.approx(9.000667, abs=1e-6) and bay.lat == pytest.approx(53.000333, abs=1e-6)


def test_devices_are_found_by_device_id_and_by_dev_eui_in_any_case() -> None:
    from parking.registry import Registry

    registry = Registry([parse_site(GOOD, Path("w.geojson"))])
    binding = registry.by_dev_eui("70b3d5e75e000001")
    assert binding is not None and binding.bay.id == "B-1" and binding.codec == "bosch-pls"
    assert registry.by_dev_eui("70B3D5E75E000001") is binding
    by_id = registry.by_device_id("pls-2")
    assert by_id is not None and by_id.bay.id == "B-2"


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("site", ..., "site"),
        ("site.id", "bad id!", "site.id"),
        ("features.0.properties.bay", "", "feature 0.properties.bay"),
        ("features.0.properties.codec", "acme-3000", "feature 0 (bay 'B-1').properties.codec"),
        ("features.0.properties.dev_eui", "xyz", "feature 0 (bay 'B-1').properties.dev_eui"),
        ("features.1.geometry.type", "MultiPoint", "feature 1.geometry.type"),
        ("features.0.geometry.coordinates", [200, 53], "feature 0 (bay 'B-1').geometry.coordinates"),
        ("features.1.properties.bay", "B-1", "feature 1 (bay 'B-1').properties.bay"),
        ("features", [], "features"),
    ],
)
def test_a_broken_site_names_the_file_feature_and_field(path: str, value: Any, where: str) -> None:
    with pytest.raises(SiteFileError) as info:
        parse_site(broken(path, value), Path("sites/wilster.geojson"))
    assert str(info.value).startswith(f"sites/wilster.geojson: {where}: ")


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection",\n "site": }')
    with pytest.raises(SiteFileError, match=r"bad.geojson: line 2 column"):
        load_site(path)


def test_one_device_bound_to_two_bays_is_refused(tmp_path: Path) -> None:
    other = copy.deepcopy(GOOD)
    other["site"]["id"] = "other"
    (tmp_path / "a.geojson").write_text(json.dumps(GOOD))
    (tmp_path / "b.geojson").write_text(json.dumps(other))
    with pytest.raises(SiteFileError, match="already bound to bay 'B-1' of site 'wilster'"):
        load_registry(tmp_path)


def test_an_empty_sites_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError, match=r"no \*\.geojson site files"):
        load_registry(tmp_path)


def test_the_shipped_sites_load() -> None:
    registry = load_registry(DEFAULT_SITES_DIR)
    assert 12 <= len(registry.sites["showroom"].bays) <= 24
    town = registry.sites["town-centre"]
    assert 650 <= len(town.bays) <= 750
    assert abs(town.center[1] - 53.92) < 0.01 and abs(town.center[0] - 9.37) < 0.01
    assert "Markt" in town.zones


def test_the_registry_knows_exactly_the_codecs_the_ingester_implements() -> None:
    codecs = pytest.importorskip("ingest.codecs")
    from parking.registry import KNOWN_CODECS

    assert set(codecs.CODECS) == KNOWN_CODECS
