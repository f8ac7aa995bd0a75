"""Open-data exports: FIWARE NGSI-LD, ParkAPI v3, DATEX II Parking Publication Light, history CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.current import shown_states
from api.opendata import (
    CONTEXT,
    bay_views,
    datex2_publication,
    datex2_site_publication,
    fiware_entities,
    fiware_on_street_parking,
    fiware_parking_spots,
    history_csv,
    parkapi_list,
    parkapi_parking_site,
    parkapi_parking_spots,
)
from api.opendata.fiware import NGSI_LD_CORE_CONTEXT, PARKING_CONTEXT, PARKING_SPOT_REQUIRED
from parking.events import BayStatus, ns_to_rfc3339
from parking.registry import Site, load_site, parse_site
from parking.settings import PACKAGED_SITES_DIR
from parking.state import BayState

REPO = Path(__file__).resolve().parents[4]
SAMPLES = Path(__file__).resolve().parents[3] / "fixtures" / "samples"
NOW = 1_763_719_200_000_000_000  # 2025-11-21T10:00:00Z
MINUTE = 60 * 1_000_000_000
HOUR = 60 * MINUTE
FIWARE_STATUSES = {"closed", "free", "occupied", "unknown"}


def _polygon(lon: float, lat: float) -> dict[str, Any]:
    ring = [
        [lon, lat],
        [lon + 0.00004, lat],
        [lon + 0.00004, lat + 0.00005],
        [lon, lat + 0.00005],
        [lon, lat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _site(site_id: str = "lot", bays: tuple[str, ...] = ("A1", "A2", "B1", "B2")) -> Site:
    features = [
        {
            "type": "Feature",
            "geometry": _polygon(9.37 + i * 0.0001, 53.92 + (0.0002 if bay.startswith("B") else 0.0)),
            "properties": {"bay": bay, "zone": bay[0]},
        }
        for i, bay in enumerate(bays)
    ]
    document = {
        "type": "FeatureCollection",
        "site": {"id": site_id, "name": f"Lot {site_id}", "description": "Test lot"},
        "features": features,
    }
    return parse_site(document, Path(f"{site_id}.geojson"))


def _state(
    bay: str, status: BayStatus, *, since: int = NOW - 10 * MINUTE, seen: int = NOW - MINUTE
) -> BayState:
    return BayState("lot", bay, status, since_ns=since, last_seen_ns=seen)


@pytest.fixture
def site() -> Site:
    return _site()


@pytest.fixture
def states() -> list[BayState]:
    """A1 free, A2 occupied, B1 closed, B2 never heard from."""
    return [
        _state("A1", BayStatus.FREE),
        _state("A2", BayStatus.OCCUPIED),
        _state("B1", BayStatus.CLOSED),
    ]


def _sample(name: str) -> Any:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"research sample {name} not available")
    return json.loads(path.read_text(encoding="utf-8"))


def _by_id(entities: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entity["id"]: entity for entity in entities}


def _spot_urn(bay: str) -> str:
    return f"urn:ngsi-ld:ParkingSpot:lot:{bay}"


# --- the shared view of a site ---------------------------------------------------------------


def test_a_bay_without_a_state_is_unknown(site: Site) -> None:
    views = bay_views(site, [])
    assert [view.status for view in views] == [BayStatus.UNKNOWN] * 4


def test_states_of_other_sites_and_bays_are_ignored(site: Site) -> None:
    foreign = [
        BayState("other", "A1", BayStatus.FREE, NOW, NOW),
        BayState("lot", "Z9", BayStatus.FREE, NOW, NOW),
    ]
    assert all(view.status is BayStatus.UNKNOWN for view in bay_views(site, foreign))


# --- FIWARE ParkingSpot ----------------------------------------------------------------------


def test_parking_spot_has_every_field_the_model_requires(site: Site, states: list[BayState]) -> None:
    for entity in fiware_parking_spots(site, states):
        assert set(PARKING_SPOT_REQUIRED) <= entity.keys()
    assert set(PARKING_SPOT_REQUIRED) == {"id", "type", "location", "status", "category", "refParkingSite"}


def test_parking_spot_keyvalues_carries_every_attribute_of_the_upstream_example(
    site: Site, states: list[BayState]
) -> None:
    sample = _sample("fiware_parking_spot_ngsild_keyvalues.json")
    entity = fiware_parking_spots(site, states)[0]
    assert sample.keys() <= entity.keys()
    for key in sample:
        assert type(entity[key]) is type(sample[key]), key


def test_parking_spot_ids_are_urns_of_site_and_bay(site: Site) -> None:
    ids = [entity["id"] for entity in fiware_parking_spots(site, [])]
    assert ids == [_spot_urn(bay) for bay in ("A1", "A2", "B1", "B2")]


def test_parking_spot_is_on_street_and_refers_to_its_site(site: Site) -> None:
    entity = fiware_parking_spots(site, [])[0]
    assert entity["type"] == "ParkingSpot"
    assert entity["category"] == ["onStreet"]
    assert entity["refParkingSite"] == "urn:ngsi-ld:OnStreetParking:lot"


def test_parking_spot_location_is_the_bays_geojson_geometry(site: Site) -> None:
    entity = fiware_parking_spots(site, [])[0]
    assert entity["location"] == site.bays["A1"].geometry


def test_parking_spot_status_uses_the_fiware_enumeration(site: Site, states: list[BayState]) -> None:
    statuses = {entity["name"]: entity["status"] for entity in fiware_parking_spots(site, states)}
    assert statuses == {"A1": "free", "A2": "occupied", "B1": "closed", "B2": "unknown"}
    assert set(statuses.values()) <= FIWARE_STATUSES


def test_normalized_parking_spot_types_each_attribute_as_the_upstream_example(
    site: Site, states: list[BayState]
) -> None:
    sample = _sample("fiware_parking_spot_ngsild_normalized.json")
    entity = fiware_parking_spots(site, states, normalized=True)[0]
    for key, attribute in sample.items():
        if isinstance(attribute, dict):
            assert entity[key]["type"] == attribute["type"], key
    assert entity["refParkingSite"] == {"type": "Relationship", "object": "urn:ngsi-ld:OnStreetParking:lot"}
    assert entity["location"]["type"] == "GeoProperty"


def test_normalized_status_is_observed_at_the_sensors_latest_contact(site: Site) -> None:
    state = _state("A1", BayStatus.FREE, since=NOW - HOUR, seen=NOW - 2 * MINUTE)
    status = fiware_parking_spots(site, [state], normalized=True)[0]["status"]
    assert status == {"type": "Property", "value": "free", "observedAt": ns_to_rfc3339(NOW - 2 * MINUTE)}


def test_normalized_status_of_a_bay_never_heard_from_has_no_observation_time(site: Site) -> None:
    status = fiware_parking_spots(site, [], normalized=True)[0]["status"]
    assert status == {"type": "Property", "value": "unknown"}


def test_date_modified_is_when_the_status_began(site: Site) -> None:
    state = _state("A1", BayStatus.OCCUPIED, since=NOW - HOUR)
    keyvalues = fiware_parking_spots(site, [state])[0]
    normalized = fiware_parking_spots(site, [state], normalized=True)[0]
    assert keyvalues["dateModified"] == ns_to_rfc3339(NOW - HOUR)
    assert normalized["dateModified"]["value"] == {"@type": "DateTime", "@value": ns_to_rfc3339(NOW - HOUR)}


# --- FIWARE OnStreetParking ------------------------------------------------------------------


def test_on_street_parking_counts_free_and_occupied_bays_out_of_all(
    site: Site, states: list[BayState]
) -> None:
    entity = fiware_on_street_parking(site, states)
    assert entity["id"] == "urn:ngsi-ld:OnStreetParking:lot"
    assert entity["type"] == "OnStreetParking"
    assert (entity["availableSpotNumber"], entity["occupiedSpotNumber"], entity["totalSpotNumber"]) == (
        1,
        1,
        4,
    )


def test_on_street_parking_detects_single_spaces_and_lists_its_spots(site: Site) -> None:
    entity = fiware_on_street_parking(site, [])
    assert entity["occupancyDetectionType"] == ["singleSpaceDetection"]
    assert entity["refParkingSpot"] == [_spot_urn(bay) for bay in ("A1", "A2", "B1", "B2")]


def test_on_street_parking_carries_the_counters_of_the_upstream_example(
    site: Site, states: list[BayState]
) -> None:
    sample = _sample("fiware_on_street_parking_ngsild_keyvalues.json")
    entity = fiware_on_street_parking(site, states)
    for key in ("id", "type", "location", "availableSpotNumber", "occupiedSpotNumber", "totalSpotNumber"):
        assert key in sample
        assert type(entity[key]) is type(sample[key]), key


def test_on_street_parking_location_is_the_bounding_box_of_its_bays(site: Site) -> None:
    location = fiware_on_street_parking(site, [])["location"]
    assert location["type"] == "Polygon"
    lons = [p[0] for p in location["coordinates"][0]]
    lats = [p[1] for p in location["coordinates"][0]]
    assert (min(lons), max(lons)) == pytest.approx((9.37, 9.37 + 3 * 0.0001 + 0.00004))
    assert (min(lats), max(lats)) == pytest.approx((53.92, 53.9202 + 0.00005))


def test_normalized_on_street_parking_counters_are_observed_and_spots_are_relationships(
    site: Site, states: list[BayState]
) -> None:
    entity = fiware_on_street_parking(site, states, normalized=True)
    assert entity["availableSpotNumber"] == {
        "type": "Property",
        "value": 1,
        "observedAt": ns_to_rfc3339(NOW - MINUTE),
    }
    assert entity["totalSpotNumber"] == {"type": "Property", "value": 4}
    assert entity["refParkingSpot"]["type"] == "Relationship"
    assert entity["location"]["type"] == "GeoProperty"


@pytest.mark.parametrize("normalized", [False, True])
def test_every_entity_names_the_ngsi_ld_core_and_parking_contexts(
    site: Site, states: list[BayState], normalized: bool
) -> None:
    for entity in fiware_entities(site, states, normalized=normalized):
        assert entity["@context"] == [NGSI_LD_CORE_CONTEXT, PARKING_CONTEXT] == list(CONTEXT)


def test_entities_list_the_site_first_then_every_bay(site: Site) -> None:
    entities = fiware_entities(site, [])
    assert [entity["type"] for entity in entities] == ["OnStreetParking"] + ["ParkingSpot"] * 4


def test_spot_references_resolve_within_the_export(site: Site) -> None:
    entities = _by_id(fiware_entities(site, []))
    site_entity = entities["urn:ngsi-ld:OnStreetParking:lot"]
    assert all(urn in entities for urn in site_entity["refParkingSpot"])
    assert all(entities[urn]["refParkingSite"] == site_entity["id"] for urn in site_entity["refParkingSpot"])


# --- unknown and stale bays, in every format -------------------------------------------------


def _exported_statuses(site: Site, states: list[BayState], stale: int) -> dict[str, str]:
    shown = shown_states(states, NOW, stale)[0]
    return {
        "fiware": fiware_parking_spots(site, shown)[0]["status"],
        "fiware-normalized": fiware_parking_spots(site, shown, normalized=True)[0]["status"]["value"],
        "parkapi": parkapi_parking_spots(site, shown)[0]["realtime_status"],
        "datex2": datex2_site_publication(site, shown, NOW)["parkingPublicationLight"]["parkingSpace"][0][
            "availability"
        ],
    }


def test_a_stale_free_bay_is_exported_as_unknown_everywhere(site: Site) -> None:
    stale = [_state("A1", BayStatus.FREE, since=NOW - 3 * HOUR, seen=NOW - 2 * HOUR)]
    assert _exported_statuses(site, stale, HOUR) == {
        "fiware": "unknown",
        "fiware-normalized": "unknown",
        "parkapi": "UNKNOWN",
        "datex2": "unknown",
    }


def test_a_fresh_free_bay_is_exported_as_free_everywhere(site: Site) -> None:
    fresh = [_state("A1", BayStatus.FREE, seen=NOW - MINUTE)]
    assert _exported_statuses(site, fresh, HOUR) == {
        "fiware": "free",
        "fiware-normalized": "free",
        "parkapi": "AVAILABLE",
        "datex2": "available",
    }


def test_stale_bays_do_not_count_as_available(site: Site) -> None:
    stale = shown_states(
        [_state(bay, BayStatus.FREE, seen=NOW - 2 * HOUR) for bay in ("A1", "A2")], NOW, HOUR
    )[0]
    assert fiware_on_street_parking(site, stale)["availableSpotNumber"] == 0
    assert "realtime_free_capacity" not in parkapi_parking_site(site, stale)
    publication = datex2_site_publication(site, stale, NOW)
    assert "availableSpaces" not in publication["parkingPublicationLight"]["parkingSite"][0]


# --- ParkAPI v3 ------------------------------------------------------------------------------


def test_parkapi_spot_carries_the_fields_of_the_parkapi_sample(site: Site, states: list[BayState]) -> None:
    sample = _sample("parkapi_v3_admin_push_parking_spot.json")
    spot = parkapi_parking_spots(site, states, static_data_updated_ns=NOW - HOUR)[0]
    assert sample.keys() - {"address"} <= spot.keys()
    assert (spot["purpose"], spot["type"]) == ("CAR", "ON_STREET")
    assert isinstance(spot["lat"], float)
    assert isinstance(spot["lon"], float)


def test_parkapi_spot_is_identified_by_site_and_bay_and_shaped_by_its_geometry(site: Site) -> None:
    spot = parkapi_parking_spots(site, [])[3]
    assert (spot["uid"], spot["parking_site_uid"], spot["name"]) == ("lot:B2", "lot", "B2")
    assert spot["geojson"] == site.bays["B2"].geometry
    assert (spot["lon"], spot["lat"]) == (round(site.bays["B2"].lon, 7), round(site.bays["B2"].lat, 7))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (BayStatus.FREE, "AVAILABLE"),
        (BayStatus.OCCUPIED, "TAKEN"),
        (BayStatus.CLOSED, "UNKNOWN"),
        (BayStatus.UNKNOWN, "UNKNOWN"),
    ],
)
def test_parkapi_spot_status_maps_each_bay_status(site: Site, status: BayStatus, expected: str) -> None:
    spot = parkapi_parking_spots(site, [_state("A1", status)])[0]
    assert spot["realtime_status"] == expected


def test_parkapi_spot_has_realtime_data_only_while_a_sensor_vouches_for_it(
    site: Site, states: list[BayState]
) -> None:
    flags = {spot["name"]: spot["has_realtime_data"] for spot in parkapi_parking_spots(site, states)}
    assert flags == {"A1": True, "A2": True, "B1": False, "B2": False}


def test_parkapi_spot_realtime_time_is_the_latest_contact_and_absent_when_never_heard(
    site: Site, states: list[BayState]
) -> None:
    spots = parkapi_parking_spots(site, states)
    assert spots[0]["realtime_data_updated_at"] == ns_to_rfc3339(NOW - MINUTE)
    assert "realtime_data_updated_at" not in spots[3]


def test_parkapi_site_capacities_exclude_closed_bays_and_count_only_free_ones(
    site: Site, states: list[BayState]
) -> None:
    item = parkapi_parking_site(site, states)
    assert (item["uid"], item["type"]) == ("lot", "ON_STREET")
    assert (item["capacity"], item["realtime_capacity"], item["realtime_free_capacity"]) == (4, 3, 1)
    assert item["realtime_opening_status"] == "OPEN"
    assert item["has_realtime_data"] is True


def test_parkapi_site_without_live_bays_leaves_realtime_capacities_out(site: Site) -> None:
    item = parkapi_parking_site(site, [])
    assert item["has_realtime_data"] is False
    assert item["realtime_opening_status"] == "UNKNOWN"
    assert "realtime_capacity" not in item
    assert "realtime_free_capacity" not in item
    assert "realtime_data_updated_at" not in item


def test_parkapi_site_whose_bays_are_all_closed_is_closed(site: Site) -> None:
    closed = [_state(bay, BayStatus.CLOSED) for bay in site.bays]
    assert parkapi_parking_site(site, closed)["realtime_opening_status"] == "CLOSED"


def test_parkapi_site_is_placed_at_the_centre_of_its_bays(site: Site) -> None:
    item = parkapi_parking_site(site, [])
    assert (item["lon"], item["lat"]) == (round(site.center[0], 7), round(site.center[1], 7))


def test_parkapi_static_update_time_is_given_only_when_known(site: Site) -> None:
    assert "static_data_updated_at" not in parkapi_parking_site(site, [])
    item = parkapi_parking_site(site, [], static_data_updated_ns=NOW - HOUR)
    assert item["static_data_updated_at"] == ns_to_rfc3339(NOW - HOUR)


def test_parkapi_list_uses_the_v3_envelope(site: Site) -> None:
    spots = parkapi_parking_spots(site, [])
    assert parkapi_list(spots) == {"items": spots, "total_count": 4}


# --- DATEX II Parking Publication Light ------------------------------------------------------


def test_datex2_publication_mirrors_the_structure_of_the_sample(site: Site, states: list[BayState]) -> None:
    sample = _sample("datex2_v3_parking_publication_light_DERIVED.json")
    publication = datex2_site_publication(site, states, NOW)
    assert publication.keys() == sample.keys() - {"_comment"}
    light, sample_light = publication["parkingPublicationLight"], sample["parkingPublicationLight"]
    assert light.keys() == sample_light.keys()
    assert sample_light["parkingSite"][0].keys() <= light["parkingSite"][0].keys()
    assert sample_light["parkingSpace"][0].keys() == light["parkingSpace"][0].keys()
    assert light["parkingSite"][0]["locationAndDimension"].keys() == {"coordinatesForDisplay"}


def test_datex2_publication_is_version_3_4_published_now(site: Site) -> None:
    publication = datex2_site_publication(site, [], NOW)
    assert (publication["_version"], publication["_modelBaseVersion"]) == ("3.4", "3")
    assert publication["parkingPublicationLight"]["publicationTime"] == ns_to_rfc3339(NOW)
    assert publication["parkingPublicationLight"]["name"] == "Lot lot"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (BayStatus.FREE, "available"),
        (BayStatus.OCCUPIED, "occupied"),
        (BayStatus.CLOSED, "closed"),
        (BayStatus.UNKNOWN, "unknown"),
    ],
)
def test_datex2_space_availability_maps_each_bay_status(site: Site, status: BayStatus, expected: str) -> None:
    publication = datex2_site_publication(site, [_state("A1", status)], NOW)
    assert publication["parkingPublicationLight"]["parkingSpace"][0]["availability"] == expected


def test_datex2_site_counts_spaces_and_available_spaces(site: Site, states: list[BayState]) -> None:
    parking_site = datex2_site_publication(site, states, NOW)["parkingPublicationLight"]["parkingSite"][0]
    assert (parking_site["_id"], parking_site["type"]) == ("lot", "onStreet")
    assert (parking_site["numberOfSpaces"], parking_site["availableSpaces"]) == (4, 1)
    assert parking_site["isOpenNow"] is True
    assert parking_site["lastUpdate"] == ns_to_rfc3339(NOW - MINUTE)


def test_datex2_site_whose_opening_is_unknown_leaves_is_open_now_out(site: Site) -> None:
    parking_site = datex2_site_publication(site, [], NOW)["parkingPublicationLight"]["parkingSite"][0]
    assert "isOpenNow" not in parking_site
    assert "lastUpdate" not in parking_site


def test_datex2_publication_covers_several_sites(site: Site) -> None:
    other = _site("other", ("X1",))
    light = datex2_publication([(site, []), (other, [])], NOW, name="Musterstadt")["parkingPublicationLight"]
    assert light["name"] == "Musterstadt"
    assert [s["_id"] for s in light["parkingSite"]] == ["lot", "other"]
    assert [s["_id"] for s in light["parkingSpace"]] == ["lot:A1", "lot:A2", "lot:B1", "lot:B2", "other:X1"]


# --- the real site files ---------------------------------------------------------------------


def test_showroom_exports_every_bay_in_every_format() -> None:
    showroom = load_site(PACKAGED_SITES_DIR / "showroom.geojson")
    assert len(fiware_parking_spots(showroom, [])) == 16
    assert parkapi_parking_site(showroom, [])["capacity"] == 16
    assert len(datex2_site_publication(showroom, [], NOW)["parkingPublicationLight"]["parkingSpace"]) == 16


def test_every_export_is_plain_json(site: Site, states: list[BayState]) -> None:
    documents = [
        fiware_entities(site, states),
        fiware_entities(site, states, normalized=True),
        parkapi_list([parkapi_parking_site(site, states)]),
        parkapi_list(parkapi_parking_spots(site, states)),
        datex2_site_publication(site, states, NOW),
    ]
    for document in documents:
        assert json.loads(json.dumps(document)) == document


# --- history CSV -----------------------------------------------------------------------------


def test_history_csv_starts_with_a_header_and_writes_rfc3339_times() -> None:
    text = "".join(history_csv([(NOW, "lot", "A1", True), (NOW + MINUTE, "lot", "A2", False)]))
    assert text == (
        "time,site,bay,occupied\r\n2025-11-21T10:00:00.000Z,lot,A1,1\r\n2025-11-21T10:01:00.000Z,lot,A2,0\r\n"
    )


def test_history_csv_leaves_an_unknown_occupancy_empty() -> None:
    rows = list(csv.reader(io.StringIO("".join(history_csv([(NOW, "lot", "A1", None)])))))
    assert rows[1] == ["2025-11-21T10:00:00.000Z", "lot", "A1", ""]


def test_history_csv_of_no_rows_is_only_the_header() -> None:
    assert list(history_csv([])) == ["time,site,bay,occupied\r\n"]


def test_history_csv_yields_the_header_alone_then_bounded_chunks() -> None:
    rows = [(NOW + i, "lot", "A1", i % 2) for i in range(5)]
    chunks = list(history_csv(rows, rows_per_chunk=2))
    assert chunks[0] == "time,site,bay,occupied\r\n"
    assert [chunk.count("\r\n") for chunk in chunks[1:]] == [2, 2, 1]


def test_history_csv_consumes_rows_only_as_chunks_are_taken() -> None:
    taken: list[int] = []

    def rows() -> Iterator[tuple[int, str, str, bool]]:
        for i in range(1000):
            taken.append(i)
            yield (NOW + i, "lot", "A1", True)

    stream = history_csv(rows(), rows_per_chunk=10)
    next(stream)  # header
    next(stream)  # first chunk
    assert len(taken) == 10
