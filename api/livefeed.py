"""The API's live view: retained ``parking/state/...`` messages from the ingester, applied in memory.

The ingester publishes each bay's state retained after storing it, so on (re)connect the broker
hands us the current state of every bay at once, and from then on every change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from api.broadcast import Broadcaster
from api.settings import ApiSettings
from api.simulators import SimulatorBook, VehicleLeases, kpi_view, parse_status, parse_vehicles
from parking import topics
from parking.logs import RateLimitedLog
from parking.mqtt import make_client
from parking.simulator_messages import SimulatorStatus, VehiclePositions, VehiclesWanted
from parking.state import (
    BayState,
    LiveState,
    StateMessageError,
    beyond_skew,
    decode_state_message,
    supersedes,
)

log = logging.getLogger(__name__)
LOG_INTERVAL_S = 60.0


class LiveFeed:
    def __init__(
        self,
        settings: ApiSettings,
        live: LiveState,
        broadcaster: Broadcaster,
        simulators: SimulatorBook,
        clock: Callable[[], int] = time.time_ns,
        on_refused: Callable[[str], None] | None = None,
        shown: Callable[[BayState], BayState] = lambda state: state,
    ) -> None:
        self.settings = settings
        self.live = live
        self.broadcaster = broadcaster
        self.simulators = simulators
        self.leases = VehicleLeases()
        self.connected = False
        self.messages = 0
        # State messages ignored, by reason ("malformed", "future"); on_refused hears each too.
        self.refused: Counter[str] = Counter()
        self._on_refused = on_refused
        self._shown = shown  # CurrentView.shown: a bay event says what the bay list says
        self._max_future_ns = round(settings.state_max_future_s * 1e9)
        self._clock = clock
        self._rate_log = RateLimitedLog(LOG_INTERVAL_S, logger=log)
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
        client.subscribe(
            [
                (topics.STATE_FILTER, 1),
                (topics.SIMULATOR_STATUS_FILTER, 0),
                (topics.SIMULATOR_VEHICLES_FILTER, 0),
            ]
        )
        self.connected = True

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _r: ReasonCode, _p: Any) -> None:
        self.connected = False

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self._loop is None:
            return
        payload = bytes(message.payload)
        if topics.split_state(message.topic) is not None:
            state = self.take_state(message.topic, payload)
            if state is not None:
                self._loop.call_soon_threadsafe(self.apply, state)
            return
        kind = topics.split_simulator(message.topic)
        if kind is None:
            return
        if kind[1] == "vehicles":
            positions = parse_vehicles(message.topic, payload, self.simulators.refusals)
            if positions is not None:
                self._loop.call_soon_threadsafe(self.apply_vehicles, positions, payload.decode())
        elif kind[1] == "status":
            if not payload:  # the retained status was cleared: that simulator is gone
                self._loop.call_soon_threadsafe(self.simulators.forget, kind[0])
                return
            status = parse_status(message.topic, payload, self.simulators.refusals)
            if status is not None:
                self._loop.call_soon_threadsafe(self.apply_simulator, status, payload.decode())

    def take_state(self, topic: str, payload: bytes) -> BayState | None:
        """The state a ``parking/state/...`` message carries, if it is one to apply.

        Refused, counted and logged (at most once a minute per reason): a message that is not a
        state, and one claiming a time beyond the allowed clock skew. Taken in, a state dated in the
        future would outrank every genuine one until that time came; refused, the bay keeps its
        state and the next genuine message applies as usual. An empty payload is a retained state
        being cleared, not an error.
        """
        if not payload:
            return None
        try:
            state = decode_state_message(topic, payload)
        except StateMessageError as exc:
            self._refuse("malformed", "ignored a message on %s: %s", topic[:200], exc)
            return None
        if beyond_skew(state, self._clock(), self._max_future_ns):
            self._refuse(
                "future",
                "ignored the state on %s: it claims %s, more than %.0f s ahead of this clock "
                "(forged, or a clock far off; PARKLOTSE_STATE_MAX_FUTURE_S)",
                topic,
                state.message().model_dump(mode="json", include={"since", "last_seen", "confirmed"}),
                self.settings.state_max_future_s,
            )
            return None
        return state

    def _refuse(self, reason: str, message: str, *args: object) -> None:
        self.refused[reason] += 1
        if self._on_refused is not None:
            self._on_refused(reason)
        self._rate_log.warning(reason, message, *args)

    def apply_simulator(self, status: SimulatorStatus, raw: str) -> None:
        self.simulators.update(status)
        route = {"site": status.site}
        self.broadcaster.publish_passing("simulator", route, raw)
        self.broadcaster.publish_passing("kpi", route, kpi_view(status).model_dump_json())

    def apply_vehicles(self, positions: VehiclePositions, raw: str) -> None:
        self.broadcaster.publish_passing("vehicles", {"site": positions.site}, raw)

    def want_vehicles(self, model_sites: set[str]) -> None:
        """A screen watches these models' cars: renew their lease when due (best effort, QoS 0)."""
        client = self._client
        if client is None or not self.connected:
            return
        message = VehiclesWanted(vehicles_for_s=self.leases.lease_s).model_dump_json()
        for model in model_sites:
            if self.leases.due(model):
                client.publish(topics.simulator_wanted(model), message, qos=0)

    def publish(self, topic: str, payload: str) -> bool:
        """Send a control message; False when the broker is not connected."""
        if self._client is None or not self.connected:
            return False
        return self._client.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS

    def apply(self, state: BayState) -> None:
        self.messages += 1
        before = self.live.get(state.site, state.bay)
        if before is None or not supersedes(state, before):
            return  # unknown bay, or it knows an older status than we have (e.g. seeded from InfluxDB)
        self.live.put(state)
        if before.status != state.status or before.since_ns != state.since_ns:
            self.broadcaster.publish("bay", self._shown(state).as_message())
