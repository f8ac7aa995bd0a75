"""Simulator messages on the real broker that do not fit the contract: counted in /metrics, the last good
status kept."""

from __future__ import annotations

import re

import httpx
import pytest

from parking import topics
from parking.simulator_messages import example_status
from tests.conftest import Servers
from tests.helpers import publish_all, wait_for

pytestmark = pytest.mark.integration


def _refused(api: str, kind: str) -> float:
    text = httpx.get(f"{api}/metrics", timeout=5).text
    pattern = rf'^parklotse_api_simulator_messages_refused_total\{{kind="{kind}"\}} (\S+)$'
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def test_bad_status_and_positions_are_counted_and_the_good_status_stays(
    servers: Servers, api_server: str
) -> None:
    good = example_status("showroom", updated_at="2099-01-01T00:00:00Z")  # fresh for the book's whole life
    status_topic = topics.simulator_status("showroom")
    publish_all(servers.mqtt_url, [(status_topic, good.model_dump_json().encode())])
    wait_for(
        lambda: httpx.get(f"{api_server}/api/v1/simulator", timeout=5).status_code == 200, 15, "status seen"
    )
    publish_all(
        servers.mqtt_url,
        [
            (status_topic, b'{"state": "running"}'),
            (topics.simulator_vehicles("town-centre"), b"not json"),
        ],
    )
    wait_for(lambda: _refused(api_server, "status") >= 1, 60, "the bad status counted")
    wait_for(lambda: _refused(api_server, "vehicles") >= 1, 60, "the bad positions counted")
    shown = httpx.get(f"{api_server}/api/v1/simulator", params={"site": "showroom"}, timeout=5).json()
    assert shown["preset"] == good.preset and shown["updated_at"] == good.updated_at
