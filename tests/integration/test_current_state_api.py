"""Current state over HTTP: one bay, filtered lists and conditional requests, on the real stack."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from parking.events import ns_to_rfc3339
from tests.conftest import Servers
from tests.helpers import Service, publish_all, wait_for

pytestmark = pytest.mark.integration


def _report(servers: Servers, readings: dict[str, bool]) -> None:
    now = time.time_ns()
    publish_all(
        servers.mqtt_url,
        [
            (
                f"parking/showroom/{bay}/status",
                json.dumps({"occupied": occ, "ts": ns_to_rfc3339(now)}).encode(),
            )
            for bay, occ in readings.items()
        ],
    )


def _status_of(api: str, bay: str) -> str | None:
    response = httpx.get(f"{api}/api/v1/sites/showroom/bays/{bay}", timeout=5)
    return response.json()["status"] if response.status_code == 200 else None


def test_one_bay_is_answered_with_its_current_state(
    servers: Servers, ingester: Service, api_server: str
) -> None:
    _report(servers, {"B02": True})
    wait_for(lambda: _status_of(api_server, "B02") == "occupied", 10, "B02 occupied in the API")
    bay = httpx.get(f"{api_server}/api/v1/sites/showroom/bays/B02", timeout=5).json()
    assert bay["bay"] == "B02" and bay["zone"] and bay["last_seen"] is not None


def test_an_unknown_bay_is_a_404_naming_it(api_server: str) -> None:
    response = httpx.get(f"{api_server}/api/v1/sites/showroom/bays/Z99", timeout=5)
    assert response.status_code == 404
    assert response.json()["detail"] == "bay 'Z99' is not known in site 'showroom'"


def test_the_bay_list_can_be_narrowed_to_a_status(
    servers: Servers, ingester: Service, api_server: str
) -> None:
    _report(servers, {"A01": False, "A02": True, "A03": False})
    wait_for(lambda: _status_of(api_server, "A03") == "free", 10, "A03 free in the API")
    free = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", params={"status": "free"}, timeout=5).json()
    assert {b["bay"] for b in free} >= {"A01", "A03"}
    assert "A02" not in {b["bay"] for b in free}
    assert {b["status"] for b in free} == {"free"}


def test_the_bay_list_can_be_narrowed_to_a_zone(api_server: str) -> None:
    everything = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", timeout=5).json()
    zone = everything[0]["zone"]
    in_zone = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", params={"zone": zone}, timeout=5).json()
    assert [b["bay"] for b in in_zone] == [b["bay"] for b in everything if b["zone"] == zone]


def test_an_unknown_zone_is_a_404_listing_the_zones(api_server: str) -> None:
    response = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", params={"zone": "Mars"}, timeout=5)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("zone 'Mars' is not known in site 'showroom' (zones: ")


def test_an_unknown_status_is_a_422_saying_which_are_allowed(api_server: str) -> None:
    response = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", params={"status": "parked"}, timeout=5)
    assert response.status_code == 422
    assert "status" in response.json()["detail"] and "free" in response.json()["detail"]


def test_an_unchanged_bay_list_is_answered_304_until_a_bay_changes(
    servers: Servers, ingester: Service, api_server: str
) -> None:
    url = f"{api_server}/api/v1/sites/showroom/bays"
    first = httpx.get(url, timeout=5)
    etag = first.headers["etag"]
    again = httpx.get(url, headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304 and again.content == b""

    _report(servers, {"A04": _status_of(api_server, "A04") != "occupied"})

    def fresh() -> httpx.Response | None:
        response = httpx.get(url, headers={"If-None-Match": etag}, timeout=5)
        return response if response.status_code == 200 else None

    changed = wait_for(fresh, 10, "a 200 after the change")
    assert changed is not None
    assert changed.headers["etag"] != etag
    assert changed.json() != first.json()
