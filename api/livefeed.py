"""The API's live view: retained ``parking/state/...`` messages from the ingester, applied in memory.

The ingester publishes each bay's state retained after storing it, so on (re)connect the broker
hands us the current state of every bay at once, and from then on every change.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from api.broadcast import Broadcaster
from api.settings import ApiSettings
from api.simulators import SimulatorBook, kpi_view, parse_status
from parking import topics
from parking.events import BayStatus
from parking.mqtt import make_client
from parking.state import BayState, LiveState
from parking.timestamps import TimestampError, parse_rfc3339

log = logging.getLogger(__name__)


def parse_state_message(topic: str, payload: bytes) -> BayState | None:
    """A BayState from a retained state message, or None if it is not one we can use."""
    key = topics.split_state(topic)
    if key is None:
        return None
    try:
        data = json.loads(payload)
        status = BayStatus(data["status"])
        since = parse_rfc3339(data["since"]) if data.get("since") else None
        seen = parse_rfc3339(data["last_seen"]) if data.get("last_seen") else None
        battery_v = float(data["battery_v"]) if data.get("battery_v") is not None else None
        battery_pct = float(data["battery_pct"]) if data.get("battery_pct") is not None else None
    except (ValueError, KeyError, TypeError, TimestampError):
        return None
    return BayState(key[0], key[1], status, since, seen, battery_v, battery_pct)


class LiveFeed:
    def __init__(
        self, settings: ApiSettings, live: LiveState, broadcaster: Broadcaster, simulators: SimulatorBook
    ) -> None:
        self.settings = settings
        self.live = live
        self.broadcaster = broadcaster
        self.simulators = simulators
        self.connected = False
        self.messages = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        client = make_client(self.settings, self.settings.api_client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        endpoint = self.settings.mqtt
        client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the live feed's connection: %s", reason)
            return
        client.subscribe([(topics.STATE_FILTER, 1), (topics.SIMULATOR_STATUS_FILTER, 0)])
        self.connected = True

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _r: ReasonCode, _p: Any) -> None:
        self.connected = False

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self._loop is None:
            return
        payload = bytes(message.payload)
        state = parse_state_message(message.topic, payload)
        if state is not None:
            self._loop.call_soon_threadsafe(self.apply, state)
            return
        simulator = parse_status(message.topic, payload)
        if simulator is not None:
            self._loop.call_soon_threadsafe(self.apply_simulator, *simulator)

    def apply_simulator(self, site: str, status: dict[str, Any]) -> None:
        self.simulators.update(site, status)
        self.broadcaster.publish("kpi", kpi_view(site, status))

    def publish(self, topic: str, payload: str) -> bool:
        """Send a control message; False when the broker is not connected."""
        if self._client is None or not self.connected:
            return False
        return self._client.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS

    def apply(self, state: BayState) -> None:
        self.messages += 1
        before = self.live.get(state.site, state.bay)
        if before is None or (before.since_ns or 0) > (state.since_ns or 0):
            return  # unknown bay, or older than what we have (seeded from InfluxDB)
        self.live.put(state)
        if before.status != state.status or before.since_ns != state.since_ns:
            self.broadcaster.publish("bay", state.as_message())
