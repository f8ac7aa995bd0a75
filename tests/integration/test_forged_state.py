"""A state message dated far in the future, published on the real broker by a stranger, is ignored."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from parking import topics
from parking.events import ns_to_rfc3339
from tests.conftest import Servers
from tests.helpers import Service, mqtt_client, publish_all, wait_for

pytestmark = pytest.mark.integration

FORGED = {"status": "closed", "since": "2199-12-31T00:00:00Z", "last_seen": "2199-12-31T00:00:00Z"}


def _status_of(api: str, bay: str) -> str:
    status: str = httpx.get(f"{api}/api/v1/sites/showroom/bays/{bay}", timeout=5).json()["status"]
    return status


def _refused_future(api: str) -> float:
    text = httpx.get(f"{api}/metrics", timeout=5).text
    match = re.search(r'^parklotse_api_state_messages_refused_total\{reason="future"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def _publish_retained(url: str, topic: str, payload: bytes) -> None:
    client = mqtt_client(url)
    try:
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_forged_future_state_is_ignored_and_the_next_genuine_reading_shows(
    servers: Servers, ingester: Service, api_server: str
) -> None:
    _publish_retained(servers.mqtt_url, topics.state("showroom", "B07"), json.dumps(FORGED).encode())
    wait_for(lambda: _refused_future(api_server) >= 1, 60, "the API counts the forged state as refused")
    assert _status_of(api_server, "B07") != "closed"

    reading = {"occupied": True, "ts": ns_to_rfc3339(time.time_ns())}
    publish_all(servers.mqtt_url, [(topics.native_status("showroom", "B07"), json.dumps(reading).encode())])
    wait_for(lambda: _status_of(api_server, "B07") == "occupied", 60, "the genuine reading shown for B07")
