"""Live mode: run the model in accelerated time and publish each bay change exactly as a sensor would.

Simulated time runs ``speed`` times faster than the wall clock, but every message carries the wall
time of its publication, as a real sensor's would. Staff steer the run through MQTT commands (sent
by the API); the runner reports its state and KPIs, retained, about once a second.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from parking import topics
from parking.events import ns_to_rfc3339
from parking.mqtt import make_client
from parking.registry import Bay, Site
from parking.settings import CommonSettings
from simulator.control import Command, RunState, apply_command

log = logging.getLogger(__name__)

PublishAs = Literal["native", "tts"]
TTS_APPLICATION = "parklotse-sim"


class Change(Protocol):
    @property
    def bay(self) -> str: ...
    @property
    def occupied(self) -> bool: ...
    @property
    def t_s(self) -> float: ...


class Model(Protocol):
    """What the runner needs of a simulation (``simulator.engine.Simulation`` provides it)."""

    def advance(self, until_s: float) -> Sequence[Change]: ...
    def snapshot(self) -> Sequence[Change]: ...
    def set_guidance_share(self, share: float) -> None: ...
    def set_sensor_latency(self, seconds: float) -> None: ...
    def kpis(self) -> dict[str, Any]: ...


def native_message(site: str, change: Change, time_ns: int) -> tuple[str, bytes]:
    payload = json.dumps({"occupied": change.occupied, "ts": ns_to_rfc3339(time_ns)}).encode()
    return topics.native_status(site, change.bay), payload


def tts_message(bay: Bay, change: Change, time_ns: int) -> tuple[str, bytes]:
    """A The Things Stack uplink carrying a Bosch PLS status frame (port 1, bit 0 = occupied)."""
    assert bay.device_id is not None
    stamp = ns_to_rfc3339(time_ns)
    uplink = {
        "end_device_ids": {
            "device_id": bay.device_id,
            "application_ids": {"application_id": TTS_APPLICATION},
        },
        "received_at": stamp,
        "uplink_message": {
            "f_port": 1,
            "frm_payload": base64.b64encode(bytes([1 if change.occupied else 0])).decode(),
            "rx_metadata": [
                {"gateway_ids": {"gateway_id": "parklotse-sim-gw"}, "time": stamp, "rssi": -92, "snr": 7.5}
            ],
        },
    }
    return topics.tts_uplink(TTS_APPLICATION, bay.device_id), json.dumps(uplink).encode()


class LiveRunner:
    """Drives one site's model against the wall clock; thread-safe entry point is ``command``."""

    def __init__(
        self,
        site: Site,
        scenario_name: str,
        build: Callable[[str], Model],
        state: RunState,
        publish_as: PublishAs = "native",
        loop_after_s: float | None = None,
    ) -> None:
        self.site = site
        self.loop_after_s = loop_after_s
        self._build = build
        self.state = state
        self.publish_as = publish_as
        self.model = build(scenario_name)
        self._apply_settings()
        self.sim_s = 0.0
        self.error: str | None = None
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()

    def command(self, command: Command) -> None:
        self._commands.put(command)

    def _apply_settings(self) -> None:
        self.model.set_guidance_share(self.state.guidance_share)
        self.model.set_sensor_latency(self.state.sensor_latency_s)

    def process_commands(self) -> list[Change]:
        """Apply queued commands; returns the snapshot to announce when the model was rebuilt."""
        announce: list[Change] = []
        while not self._commands.empty():
            effect = apply_command(self.state, self._commands.get())
            try:
                if effect.reset:
                    scenario = effect.new_scenario or self.state.scenario
                    self.model = self._build(scenario)
                    self.state = (
                        effect.state
                        if effect.new_scenario is None
                        else _with_scenario(effect.state, scenario)
                    )
                    self.sim_s = 0.0
                    announce = list(self.model.snapshot())
                else:
                    self.state = effect.state
                self._apply_settings()
                self.error = None
            except (ValueError, OSError) as exc:
                self.error = str(exc)
                log.warning("simulator command refused: %s", exc)
        return announce

    def step(self, wall_dt_s: float) -> Sequence[Change]:
        if not self.state.running:
            return []
        if self.loop_after_s is not None and self.sim_s >= self.loop_after_s:
            # Start the busy hours over (a showroom runs all day; the evening would be a still screen).
            self.command(Command(action="reset"))
            return self.process_commands()
        self.sim_s += wall_dt_s * self.state.speed
        return self.model.advance(self.sim_s)

    def message(self, change: Change, time_ns: int) -> tuple[str, bytes]:
        bay = self.site.bays[change.bay]
        if self.publish_as == "tts" and bay.device_id:
            return tts_message(bay, change, time_ns)
        return native_message(self.site.id, change, time_ns)

    def status(self, scenarios: Sequence[str]) -> dict[str, Any]:
        return {
            "site": self.site.id,
            "scenario": self.state.scenario,
            "scenarios": list(scenarios),
            "state": "running" if self.state.running else "paused",
            "speed": self.state.speed,
            "guidance_share": self.state.guidance_share,
            "sensor_latency_s": self.state.sensor_latency_s,
            "sim_seconds": round(self.sim_s, 1),
            "error": self.error,
            "updated_at": ns_to_rfc3339(time.time_ns()),
            "kpis": self.model.kpis(),
        }


def _with_scenario(state: RunState, scenario: str) -> RunState:
    return replace(state, scenario=scenario)


def run_live(
    settings: CommonSettings,
    runner: LiveRunner,
    stop: threading.Event,
    scenarios: Sequence[str] = (),
    tick_s: float = 0.1,
    status_every_s: float = 1.0,
) -> int:
    """Publish until ``stop`` is set; returns the number of bay changes published."""
    site = runner.site.id
    client = make_client(settings, f"parklotse-sim-{site}-{int(time.time() * 1000) % 10**8}")
    connected = threading.Event()

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            log.error("broker refused the simulator: %s", reason)
            return
        c.subscribe(topics.simulator_control(site), qos=1)
        connected.set()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            runner.command(Command.model_validate_json(message.payload))
        except ValidationError as exc:
            log.warning("ignored a malformed simulator command: %s", exc.errors()[0]["msg"])

    client.on_connect = on_connect
    client.on_message = on_message
    client.max_queued_messages_set(20_000)
    endpoint = settings.mqtt
    client.connect_async(endpoint.host, endpoint.port, keepalive=30)
    client.loop_start()
    published = 0

    def send(changes: Sequence[Change]) -> None:
        nonlocal published
        for change in changes:
            topic, payload = runner.message(change, time.time_ns())
            client.publish(topic, payload, qos=1)
            published += 1

    try:
        while not connected.wait(0.2):
            if stop.is_set():
                return 0
        log.info(
            "simulating site %r (%d bays) at %g× real time", site, len(runner.site.bays), runner.state.speed
        )
        send(runner.model.snapshot())  # the screen fills at once
        last = time.monotonic()
        next_status = last
        while not stop.wait(tick_s):
            send(runner.process_commands())
            now = time.monotonic()
            send(runner.step(now - last))
            last = now
            if now >= next_status:
                status = json.dumps(runner.status(scenarios), default=str)
                client.publish(topics.simulator_status(site), status, qos=1, retain=True)
                next_status = now + status_every_s
    finally:
        client.disconnect()
        client.loop_stop()
    return published


def parse_start_time(value: str | None, now: datetime) -> datetime:
    """``None``: now; ``HH:MM``: that time on the latest weekday (Mon-Fri); else an ISO date-time."""
    if value is None:
        return now
    if len(value) == 5 and value[2] == ":":
        hour, minute = int(value[:2]), int(value[3:])
        day = now
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return day.replace(hour=hour, minute=minute, second=0, microsecond=0)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=now.tzinfo)


def build_runner(
    scenario_name: str,
    sites_dir: Any,
    speed: float,
    seed: int | None,
    publish_as: PublishAs,
    start_time: datetime | None = None,
    loop_after_s: float | None = None,
) -> tuple[LiveRunner, list[str]]:
    """The calibrated model of a scenario, ready to run live (errors name the file and field)."""
    from simulator.engine import Simulation
    from simulator.grid import resolve_site
    from simulator.scenario import load_scenario, resolve_scenario_path, scenario_names

    first_path = resolve_scenario_path(scenario_name)
    first = load_scenario(first_path)
    site = resolve_site(first, sites_dir, first_path)
    rng = np.random.default_rng(seed)

    def build(name: str) -> Model:
        path = resolve_scenario_path(name)
        scenario = load_scenario(path)
        other = resolve_site(scenario, sites_dir, path)
        if other.id != site.id:
            raise ValueError(f"scenario {name!r} is for site {other.id!r}, this simulator runs {site.id!r}")
        return Simulation(scenario, site, rng, start_time or datetime.now(UTC).astimezone())

    state = RunState(True, speed, first.guidance.share, first.guidance.sensor_latency_s, scenario_name)
    names = [n for n in scenario_names() if n != "city"] or scenario_names()
    return LiveRunner(site, scenario_name, build, state, publish_as, loop_after_s), names
