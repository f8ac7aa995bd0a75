"""The served exports pass the official definitions, as a portal harvesting the API would check them."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from parking.events import ns_to_rfc3339
from tests.conftest import Servers
from tests.helpers import Service, publish_all, wait_for
from tests.official import fiware_problems, parkapi_problems

pytestmark = pytest.mark.integration


def reading(bay: str, occupied: bool) -> tuple[str, bytes]:
    payload = json.dumps({"occupied": occupied, "ts": ns_to_rfc3339(time.time_ns())}).encode()
    return f"parking/showroom/{bay}/status", payload


@pytest.fixture
def live_api(servers: Servers, ingester: Service, api_server: str) -> str:
    """Showroom with two bays heard from (one free, one occupied), the rest never heard from."""
    publish_all(servers.mqtt_url, [reading("A01", True), reading("A02", False)])

    def ready() -> bool:
        bays: list[dict[str, str]] = httpx.get(f"{api_server}/api/v1/sites/showroom/bays", timeout=5).json()
        return sum(b["status"] != "unknown" for b in bays) >= 2

    wait_for(ready, 10, "two bays known to the API")
    return api_server


def get(api: str, path: str, **params: str) -> Any:
    response = httpx.get(f"{api}/api/v1/sites/showroom/{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_served_parkapi_exports_pass_parkapis_models(live_api: str) -> None:
    (site,) = get(live_api, "parkapi/parking-sites")["items"]
    spots = get(live_api, "parkapi/parking-spots")["items"]
    checks = [(site, "ParkingSite"), *((spot, "ParkingSpot") for spot in spots)]
    refused = {
        (item["uid"], model): problems
        for item, kind in checks
        for model in (f"Static{kind}Input", f"Combined{kind}Input")
        + ((f"Realtime{kind}Input",) if item["has_realtime_data"] else ())
        if (problems := parkapi_problems(model, item)) is not None
    }
    assert site["has_realtime_data"] and sum(spot["has_realtime_data"] for spot in spots) == 2
    assert len(spots) == 16 and refused == {}


def test_served_fiware_entities_pass_the_smart_data_models(live_api: str) -> None:
    entities = [
        entity
        for fmt in ("keyvalues", "normalized")
        for entity in [
            *get(live_api, "fiware/parking-spots", format=fmt),
            get(live_api, "fiware/on-street-parking", format=fmt),
        ]
    ]
    refused = {(e["id"], i): problems for i, e in enumerate(entities) if (problems := fiware_problems(e))}
    assert len(entities) == 2 * 17 and refused == {}
