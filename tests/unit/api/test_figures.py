"""The bay map figure: pure, JSON-ready, addressable by bay id, and readable without colour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards.figures import (
    STATUS_ORDER,
    STATUS_STYLE,
    bay_map,
    bay_spacing_m,
    extent_m,
    marker_size,
    status_rings,
    street_width,
    twin_geometry,
)
from parking.events import BayStatus
from parking.registry import Site, load_site, parse_site
from parking.settings import PACKAGED_SITES_DIR
from parking.state import BayState

SITES = PACKAGED_SITES_DIR


@pytest.fixture(scope="module")
def showroom() -> Site:
    return load_site(SITES / "showroom.geojson")


@pytest.fixture(scope="module")
def town() -> Site:
    return load_site(SITES / "town-centre.geojson")


def point_site(n: int = 3) -> Site:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [9.37 + i * 0.0001, 53.92]},
            "properties": {"bay": f"P{i}", "zone": "Z"},
        }
        for i in range(n)
    ]
    return parse_site(
        {"type": "FeatureCollection", "site": {"id": "pts", "name": "Points"}, "features": features},
        Path("pts.geojson"),
    )


def test_every_status_differs_in_shape_and_pattern_as_well_as_colour() -> None:
    styles = [STATUS_STYLE[s] for s in STATUS_ORDER]
    assert len({s.colour for s in styles}) == len(styles)
    assert len({s.symbol for s in styles}) == len(styles)
    assert len({s.pattern for s in styles}) == len(styles)
    assert set(STATUS_ORDER) == set(BayStatus)


def test_bay_trace_lists_every_bay_in_site_order_with_its_status(showroom: Site) -> None:
    states = [BayState("showroom", "A01", BayStatus.OCCUPIED), BayState("showroom", "B08", BayStatus.FREE)]
    figure = bay_map(showroom, states)
    trace = figure["data"][figure["bay_trace"]]
    assert figure["bay_trace"] == len(figure["data"]) - 1
    assert trace["customdata"] == list(showroom.bays)
    index = trace["customdata"].index
    style = figure["status_style"]
    assert trace["marker"]["symbol"][index("A01")] == style["occupied"]["symbol"]
    assert trace["marker"]["color"][index("B08")] == style["free"]["color"]
    # A bay without a reading is unknown, never guessed free.
    assert trace["marker"]["symbol"][index("A02")] == style["unknown"]["symbol"]


def test_polygon_bays_get_one_patterned_fill_trace_per_status(showroom: Site) -> None:
    figure = bay_map(showroom, [BayState("showroom", "A01", BayStatus.OCCUPIED)])
    assert set(figure["fill_traces"]) == {s.value for s in STATUS_ORDER}
    assert set(figure["polygons"]) == set(showroom.bays)
    occupied = figure["data"][figure["fill_traces"]["occupied"]]
    assert occupied["fill"] == "toself" and occupied["fillpattern"]["shape"] == "/"
    ring = figure["polygons"]["A01"]
    assert occupied["x"] == ring["x"] and occupied["y"] == ring["y"]
    unknown = figure["data"][figure["fill_traces"]["unknown"]]
    assert unknown["x"].count(None) == len(showroom.bays) - 2  # 15 rings joined by 14 gaps


def test_point_sites_have_markers_only_and_streets_below_them(town: Site) -> None:
    figure = bay_map(town, [])
    assert figure["fill_traces"] == {} and figure["polygons"] == {}
    streets = figure["data"][: figure["bay_trace"]]
    assert len(streets) == len(town.streets)
    assert all(t["mode"] == "lines" for t in streets)
    assert len(figure["data"][figure["bay_trace"]]["x"]) == 720


def test_status_rings_join_outlines_with_gaps() -> None:
    polygons = {"a": ([0.0, 1.0, 0.0], [0.0, 0.0, 1.0]), "b": ([2.0, 3.0, 2.0], [0.0, 0.0, 1.0])}
    rings = status_rings(polygons, {"a": BayStatus.FREE, "b": BayStatus.FREE})
    assert rings[BayStatus.FREE][0] == [0.0, 1.0, 0.0, None, 2.0, 3.0, 2.0]
    assert rings[BayStatus.OCCUPIED] == ([], [])


def test_marker_and_street_sizes_follow_the_site_scale(showroom: Site, town: Site) -> None:
    # the showroom is one 100 m block face of the town, two rows of bays 10 m apart across the street
    assert 90 < extent_m(showroom) < 110 and 450 < extent_m(town) < 600
    assert bay_spacing_m(showroom) == pytest.approx(10.0, abs=1.0)
    assert bay_spacing_m(town) == pytest.approx(10.0, abs=1.0)
    assert marker_size(showroom, in_polygons=True) > marker_size(town)
    assert 6 <= marker_size(town) <= 48
    assert street_width(showroom) > street_width(town) >= 4
    assert marker_size(point_site(1)) == 48  # a single bay gets the largest marker


def test_the_figure_is_plain_json(showroom: Site, town: Site) -> None:
    for site in (showroom, town):
        figure = bay_map(site, [])
        assert json.loads(json.dumps(figure)) == figure
        assert figure["config"]["staticPlot"] is True
        assert figure["layout"]["yaxis"]["scaleanchor"] == "x"


def test_twin_geometry_lists_bays_in_site_order_with_metres_square(town: Site) -> None:
    geo = twin_geometry(town)
    assert geo["bays"] == list(town.bays)
    assert len(geo["lon"]) == len(geo["lat"]) == len(geo["zones"]) == len(town.bays)
    assert len(geo["streets"]) == len(town.streets)
    mx, my = geo["m_per_deg"]
    assert mx < my  # a degree of longitude is shorter up north
    lon0, lat0, lon1, lat1 = geo["bbox"]
    assert lon0 <= min(geo["lon"]) <= max(geo["lon"]) <= lon1
    assert lat0 <= min(geo["lat"]) <= max(geo["lat"]) <= lat1
    json.dumps(geo)
