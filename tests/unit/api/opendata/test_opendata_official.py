"""Every open-data export passes the official definitions: ParkAPI v3's models and FIWARE's schemas.

ParkAPI v3: parkapi-sources 0.38.5's input models, as a ParkAPI v3 portal validates pushed data.
FIWARE: the Smart Data Models schemas of ParkingSpot and OnStreetParking (key-values; normalized
turned back into key-values). A change on either side that breaks the other fails here.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from api.current import shown_states
from api.opendata import (
    fiware_on_street_parking,
    fiware_parking_spots,
    parkapi_parking_site,
    parkapi_parking_spots,
)
from parking.events import BayStatus
from parking.registry import Site, load_site
from parking.settings import PACKAGED_SITES_DIR
from parking.state import BayState
from tests.official import PARKAPI_SOURCES, fiware_problems, parkapi_problems

NOW = 1_763_719_200_000_000_000  # 2025-11-21T10:00:00Z
MINUTE = 60 * 1_000_000_000
STALE_AFTER = 360 * MINUTE
SAMPLE_SITES = sorted(PACKAGED_SITES_DIR.glob("*.geojson"))


def _states(site: Site, pattern: list[BayStatus], seen: int = NOW - MINUTE) -> list[BayState]:
    return [
        BayState(site.id, bay, pattern[i % len(pattern)], since_ns=seen - 10 * MINUTE, last_seen_ns=seen)
        for i, bay in enumerate(site.bays)
    ]


CASES = {
    "mixed": [BayStatus.FREE, BayStatus.OCCUPIED, BayStatus.CLOSED, BayStatus.UNKNOWN],
    "all free": [BayStatus.FREE],
    "all closed": [BayStatus.CLOSED],
}


def _case_states(site: Site, case: str) -> list[BayState]:
    """The case's states as the API shows them at NOW (a sensor silent too long: unknown)."""
    if case == "never heard from":
        return []
    if case == "stale":
        states = _states(site, [BayStatus.FREE, BayStatus.OCCUPIED], seen=NOW - 2 * STALE_AFTER)
    else:
        states = _states(site, CASES[case])
    return shown_states(states, NOW, STALE_AFTER)[0]


ALL_CASES = [*CASES, "never heard from", "stale"]
LIVE_CASES = ["mixed", "all free"]  # where sensors vouch for some bays: realtime data to push


# Each bay is exported on its own, so one site in every case and the large one in the mixed case
# (every status at once) cover every spot without validating 720 spots five times over.
SPOT_CASES = [
    *((SAMPLE_SITES[0], case) for case in ALL_CASES),
    *((path, "mixed") for path in SAMPLE_SITES[1:]),
]


@pytest.fixture(params=SAMPLE_SITES, ids=lambda p: p.stem)
def site(request: pytest.FixtureRequest) -> Site:
    # As the API has it: read from its file, whose change time is the static data's time.
    return load_site(request.param)


@pytest.fixture(params=SPOT_CASES, ids=lambda p: f"{p[0].stem}-{p[1]}")
def spot_case(request: pytest.FixtureRequest) -> tuple[Site, str]:
    path, case = request.param
    return load_site(path), case


def _site_export(site: Site, case: str) -> dict[str, Any]:
    return parkapi_parking_site(
        site,
        _case_states(site, case),
        static_data_updated_ns=site.modified_ns,
    )


def _spot_exports(site: Site, case: str) -> list[dict[str, Any]]:
    return parkapi_parking_spots(
        site,
        _case_states(site, case),
        static_data_updated_ns=site.modified_ns,
    )


def test_the_kept_parkapi_models_are_those_of_the_release() -> None:
    """Each kept file has the sha256 the 0.38.5 wheel's RECORD gives it."""
    changed = []
    for line in (PARKAPI_SOURCES / "RECORD").read_text().splitlines():
        name, digest, _size = line.split(",")
        content = (PARKAPI_SOURCES / name).read_bytes()
        actual = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        if actual != digest:
            changed.append(name)
    assert changed == []


def test_site_files_carry_their_change_time(site: Site) -> None:
    assert site.source is not None and site.modified_ns == site.source.stat().st_mtime_ns


@pytest.mark.parametrize("case", ALL_CASES)
def test_parkapi_parking_site_passes_the_static_and_combined_models(site: Site, case: str) -> None:
    item = _site_export(site, case)
    assert parkapi_problems("StaticParkingSiteInput", item) is None
    assert parkapi_problems("CombinedParkingSiteInput", item) is None


@pytest.mark.parametrize("case", LIVE_CASES)
def test_parkapi_parking_site_with_realtime_data_passes_the_realtime_model(site: Site, case: str) -> None:
    item = _site_export(site, case)
    assert item["has_realtime_data"]
    assert parkapi_problems("RealtimeParkingSiteInput", item) is None


def test_parkapi_parking_spots_pass_the_static_and_combined_models(spot_case: tuple[Site, str]) -> None:
    site, case = spot_case
    refused = {
        item["uid"]: problems
        for item in _spot_exports(site, case)
        for model in ("StaticParkingSpotInput", "CombinedParkingSpotInput")
        if (problems := parkapi_problems(model, item)) is not None
    }
    assert refused == {}


@pytest.mark.parametrize("case", LIVE_CASES)
def test_parkapi_parking_spots_with_realtime_data_pass_the_realtime_model(site: Site, case: str) -> None:
    items = [item for item in _spot_exports(site, case) if item["has_realtime_data"]]
    refused = {
        item["uid"]: problems
        for item in items
        if (problems := parkapi_problems("RealtimeParkingSpotInput", item)) is not None
    }
    assert items and refused == {}


@pytest.mark.parametrize("field", ["static_data_updated_at", "purpose"])
def test_the_parkapi_models_refuse_a_site_without_a_required_field(site: Site, field: str) -> None:
    """The check has teeth: the two fields portals refused before are required by the models."""
    item = {k: v for k, v in _site_export(site, "mixed").items() if k != field}
    problems = parkapi_problems("StaticParkingSiteInput", item)
    assert problems is not None and field in problems["field_errors"]


@pytest.mark.parametrize("normalized", [False, True], ids=["keyvalues", "normalized"])
def test_fiware_parking_spots_pass_the_smart_data_model(
    spot_case: tuple[Site, str], normalized: bool
) -> None:
    site, case = spot_case
    entities = fiware_parking_spots(site, _case_states(site, case), normalized=normalized)
    refused = {e["id"]: problems for e in entities if (problems := fiware_problems(e))}
    assert refused == {}


@pytest.mark.parametrize("case", ALL_CASES)
@pytest.mark.parametrize("normalized", [False, True], ids=["keyvalues", "normalized"])
def test_fiware_on_street_parking_passes_the_smart_data_model(
    site: Site, case: str, normalized: bool
) -> None:
    entity = fiware_on_street_parking(site, _case_states(site, case), normalized=normalized)
    assert fiware_problems(entity) == []


def test_the_fiware_schema_refuses_a_spot_with_a_status_outside_its_enumeration(site: Site) -> None:
    entity = fiware_parking_spots(site, [])[0]
    assert fiware_problems({**entity, "status": "vacant"}) != []
