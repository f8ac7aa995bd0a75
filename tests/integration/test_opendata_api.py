"""Open-data exports and guidance, served from live state that arrived over MQTT."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from parking.events import ns_to_rfc3339
from tests.conftest import Servers
from tests.helpers import Service, publish_all, wait_for

pytestmark = pytest.mark.integration


def reading(bay: str, occupied: bool) -> tuple[str, bytes]:
    payload = json.dumps({"occupied": occupied, "ts": ns_to_rfc3339(time.time_ns())}).encode()
    return f"parking/showroom/{bay}/status", payload


@pytest.fixture
def live_api(servers: Servers, ingester: Service, api_server: str) -> str:
    publish_all(servers.mqtt_url, [reading("A01", True), reading("A02", False), reading("A03", False)])

    def ready() -> bool:
        bays: list[dict[str, str]] = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", timeout=5).json()
        return sum(b["status"] != "unknown" for b in bays) >= 3

    wait_for(ready, 10, "three bays known to the API")
    return api_server


def test_fiware_parking_spots_are_ngsi_ld_with_context(live_api: str) -> None:
    response = httpx.get(f"{live_api}/api/v1/sites/showroom/fiware/parking-spots", timeout=5)
    assert response.headers["content-type"].startswith("application/ld+json")
    spots = {s["id"]: s for s in response.json()}
    a01 = spots["urn:ngsi-ld:ParkingSpot:showroom:A01"]
    assert a01["type"] == "ParkingSpot" and a01["status"] == "occupied" and "@context" in a01
    assert spots["urn:ngsi-ld:ParkingSpot:showroom:B08"]["status"] == "unknown"  # never reported: not free


def test_fiware_normalized_carries_observed_at(live_api: str) -> None:
    response = httpx.get(
        f"{live_api}/api/v1/sites/showroom/fiware/parking-spots", params={"format": "normalized"}, timeout=5
    )
    a02 = next(s for s in response.json() if s["id"].endswith(":A02"))
    assert a02["status"]["type"] == "Property" and a02["status"]["value"] == "free"
    assert "observedAt" in a02["status"]


def test_parkapi_and_datex2_count_free_bays(live_api: str) -> None:
    site = httpx.get(f"{live_api}/api/v1/sites/showroom/parkapi/parking-sites", timeout=5).json()["items"][0]
    assert site["capacity"] == 16 and site["realtime_free_capacity"] >= 2
    datex = httpx.get(f"{live_api}/api/v1/datex2/parking-publication-light", timeout=5).json()
    assert "showroom" in json.dumps(datex)


def test_two_guidance_requests_get_different_bays(live_api: str) -> None:
    first = httpx.get(f"{live_api}/api/v1/guidance", params={"site": "showroom"}, timeout=5).json()
    second = httpx.get(f"{live_api}/api/v1/guidance", params={"site": "showroom"}, timeout=5).json()
    assert first["bay"] is not None and second["bay"] is not None
    assert first["bay"] != second["bay"]
    assert {first["bay"], second["bay"]} <= {"A02", "A03"}
    assert first["distance_m"] >= 0 and "reserved_until" in first
    # Only one of the two may be held (at most half of a zone's free bays): the second driver is
    # guided without a hold, and so is the third, to the bay still free and not held.
    assert [first["reserved_until"] is not None, second["reserved_until"] is not None] == [True, False]
    third = httpx.get(f"{live_api}/api/v1/guidance", params={"site": "showroom"}, timeout=5).json()
    assert third["bay"] == second["bay"]


def test_guidance_validates_its_parameters(live_api: str) -> None:
    assert httpx.get(f"{live_api}/api/v1/guidance", params={"site": "nowhere"}, timeout=5).status_code == 404
    bad = httpx.get(
        f"{live_api}/api/v1/guidance", params={"site": "showroom", "lat": 200, "lon": 10}, timeout=5
    )
    assert bad.status_code == 422 and "lat" in bad.json()["detail"]
    half = httpx.get(f"{live_api}/api/v1/guidance", params={"site": "showroom", "lat": 54.3}, timeout=5)
    assert half.status_code == 422


def test_the_sign_shows_free_bays_per_zone_as_text(live_api: str) -> None:
    text = httpx.get(f"{live_api}/api/v1/sites/showroom/sign", params={"format": "text"}, timeout=5).text
    assert "Showroom-Parkplatz" in text and "frei" in text
