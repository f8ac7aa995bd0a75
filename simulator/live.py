"""Live mode: run the town model in accelerated time and publish each bay change exactly as a sensor would.

Simulated time runs ``speed`` times faster than the wall clock, but every message carries the wall
time of its publication, as a real sensor's would. One runner drives one town model (both twins) and
publishes the bays of every site that shows it (``simulator.views``: the town's own site and, e.g., the
showroom table, one block face of it). Staff steer it through MQTT commands (sent by the API); it
reports its state, figures and the typical day, retained, about once a second per site; it publishes
car positions while a screen watches (``simulator.positions``); real sensors on the table enter the
model (``simulator.handson``). The demo loops through the preset's hours. Every simulated sensor also
sends a heartbeat, and staff (or the preset ``ausfall``) can break sensors: silent, stuck or flapping
(``simulator.faults``), so that the fleet-health view has something to find.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from parking import topics
from parking.events import ns_to_rfc3339
from parking.mqtt import make_client
from parking.registry import Bay
from parking.settings import CommonSettings
from parking.simulator_messages import PresetInfo, Sign, SimulatorStatus, Steering, Text, Twin
from simulator.control import BreakBays, BreakSensors, Command, RunState, apply_command
from simulator.dayline import DayLine
from simulator.faults import BATTERY_V, HEARTBEAT_S, RSSI_DBM, SNR_DB, FaultKind, SensorFaults, pick_random
from simulator.handson import HandsOn
from simulator.metrics import TwinRun, live_kpis
from simulator.positions import PositionPublisher, positions_message
from simulator.typical import Settings as TypicalSettings
from simulator.typical import TypicalDays
from simulator.views import Views

log = logging.getLogger(__name__)

PublishAs = Literal["native", "tts"]
TTS_APPLICATION = "parklotse-sim"
GATEWAY = "parklotse-sim-gw"
Message = tuple[str, bytes]


class Change(Protocol):
    @property
    def bay(self) -> str: ...
    @property
    def occupied(self) -> bool: ...
    @property
    def t_s(self) -> float: ...


class Model(TwinRun, Protocol):
    """What the runner needs of a simulation (``simulator.engine.Simulation`` provides it)."""

    @property
    def t_s(self) -> float: ...
    @property
    def guidance_share(self) -> float: ...
    @property
    def sensor_latency_s(self) -> float: ...
    @property
    def steering(self) -> Steering: ...
    def advance(self, until_s: float) -> Sequence[Change]: ...
    def snapshot(self) -> Sequence[Change]: ...
    def set_steering(self, mode: Steering) -> None: ...
    def set_guidance_share(self, share: float) -> None: ...
    def set_sensor_latency(self, seconds: float) -> None: ...
    def set_external(self, bay: str, occupied: bool, t_s: float | None = None) -> None: ...
    def now(self) -> datetime: ...
    def day_label(self, lang: str = "de") -> str: ...
    def signs(self) -> list[Sign]: ...
    def vehicles(self) -> Mapping[Twin, Sequence[tuple[int, float, float, int, str]]]: ...
    def occupied(self) -> Mapping[Twin, str]: ...


# Builds the model of a scenario: (scenario name, preset, start hour or None, seed) -> Model.
Build = Callable[[str, str, float | None, int], Model]


def native_message(site: str, bay: str, occupied: bool, time_ns: int, heartbeat: bool = False) -> Message:
    """A status; a heartbeat repeats the status with the sensor's battery and radio figures."""
    document: dict[str, Any] = {"occupied": occupied, "ts": ns_to_rfc3339(time_ns)}
    if heartbeat:
        document.update(battery_v=BATTERY_V, rssi=RSSI_DBM, snr=SNR_DB)
    return topics.native_status(site, bay), json.dumps(document).encode()


def tts_message(bay: Bay, occupied: bool, time_ns: int, heartbeat: bool = False) -> Message:
    """A The Things Stack uplink carrying a Bosch PLS status frame (port 1, bit 0 = occupied), or its
    heartbeat (port 2: the status and the temperature, 8 °C here)."""
    assert bay.device_id is not None
    stamp = ns_to_rfc3339(time_ns)
    frame = bytes([1 if occupied else 0, 8]) if heartbeat else bytes([1 if occupied else 0])
    uplink = {
        "end_device_ids": {
            "device_id": bay.device_id,
            "application_ids": {"application_id": TTS_APPLICATION},
        },
        "received_at": stamp,
        "uplink_message": {
            "f_port": 2 if heartbeat else 1,
            "frm_payload": base64.b64encode(frame).decode(),
            "rx_metadata": [
                {
                    "gateway_ids": {"gateway_id": "parklotse-sim-gw"},
                    "time": stamp,
                    "rssi": RSSI_DBM,
                    "snr": SNR_DB,
                }
            ],
        },
    }
    return topics.tts_uplink(TTS_APPLICATION, bay.device_id), json.dumps(uplink).encode()


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What the runner may switch to: scenario names of its model, and the presets of its scenario."""

    scenarios: list[str]
    presets: list[PresetInfo]
    # per preset: the share of sensors it breaks, by kind, besides the engine's silent ones
    faults: Mapping[str, Mapping[FaultKind, float]] = field(default_factory=dict)

    def preset(self, name: str) -> PresetInfo:
        for preset in self.presets:
            if preset.name == name:
                return preset
        raise ValueError(f"no preset {name!r} (known: {', '.join(p.name for p in self.presets)})")


class LiveRunner:
    """Drives one town model against the wall clock; the thread-safe entry points are ``command``,
    ``want_positions`` and the hands-on inbox."""

    def __init__(
        self,
        views: Views,
        build: Build,
        state: RunState,
        catalogue: Catalogue,
        *,
        publish_as: PublishAs = "native",
        seed: int = 1,
        typical: TypicalDays | None = None,
        scenario_path: Callable[[str], Path] = Path,
        start_hour: float | None = None,
        bay_ids: Sequence[str] | None = None,
    ) -> None:
        self.views = views
        self.catalogue = catalogue
        self.publish_as = publish_as
        self.seed = seed
        self.loops = 0
        self._build = build
        self.state = state
        self.window = self._window(state.preset)
        self.model = build(state.scenario, state.preset, start_hour, seed)
        self.started_h = self.window[0] if start_hour is None else start_hour
        self._apply_settings()
        self.sim_s = 0.0
        self.error: str | None = None
        self.typical = typical
        self._scenario_path = scenario_path
        self.handson = HandsOn(views)
        self.positions = PositionPublisher()
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        # the order of the model's occupancy strings (the network's, which is the site file's)
        self.bay_ids = list(bay_ids) if bay_ids is not None else list(views.model.bays)
        self.faults = SensorFaults(self.bay_ids)
        self.faults.set_preset(catalogue.faults.get(state.preset, {}), seed)
        self._draws = 0
        self.dayline = DayLine()

    # ----------------------------------------------------------------- inputs (any thread)

    def command(self, command: Command) -> None:
        self._commands.put(command)

    def want_positions(self, payload: bytes) -> None:
        self.positions.lease.grant(payload, time.monotonic())

    # ----------------------------------------------------------------- the loop's steps

    def _window(self, preset: str) -> tuple[float, float]:
        info = self.catalogue.preset(preset)
        return info.loop_start_h, info.loop_end_h

    @property
    def loop_end_h(self) -> float:
        """Where the loop starts over: the preset's last hour, or midnight after a jump past it."""
        end = self.window[1]
        return end if self.started_h < end else 24.0

    def _apply_settings(self) -> None:
        self.model.set_steering(self.state.steering)
        self.model.set_guidance_share(self.state.guidance_share)
        self.model.set_sensor_latency(self.state.sensor_latency_s)

    def _rebuild(self, state: RunState, start_hour: float | None) -> None:
        """A new model for these settings (new drivers after each loop), with the real readings."""
        model = self._build(state.scenario, state.preset, start_hour, self.seed + self.loops)
        self.model, self.state, self.sim_s = model, state, 0.0
        self.dayline.restart()
        self.window = self._window(state.preset)
        self.started_h = self.window[0] if start_hour is None else start_hour
        for model_bay, occupied in self.handson.last.items():
            model.set_external(model_bay, occupied)
        self._apply_settings()

    def process_commands(self) -> list[Message]:
        """Apply queued commands; when the model was rebuilt, the snapshot to announce."""
        announce: list[Message] = []
        while not self._commands.empty():
            command = self._commands.get()
            effect = apply_command(self.state, command)
            try:
                self._apply_faults(command)
                if effect.new_scenario is not None and effect.new_scenario not in self.catalogue.scenarios:
                    known = ", ".join(self.catalogue.scenarios)
                    raise ValueError(f"scenario {effect.new_scenario!r} is not one of {known}")
                self._window(effect.state.preset)  # an unknown preset: refused before anything changes
                if effect.reset:
                    if effect.state.preset != self.state.preset:
                        self.faults.set_preset(self.catalogue.faults.get(effect.state.preset, {}), self.seed)
                    self._rebuild(effect.state, effect.start_hour)
                    announce = self.snapshot()
                else:
                    self.state = effect.state
                    self._apply_settings()
                self.error = None
            except (ValueError, OSError) as exc:
                self.error = str(exc)
                log.warning("simulator command refused: %s", exc)
        return announce

    def _apply_faults(self, command: Command) -> None:
        """Break or repair simulated sensors; unknown bays refuse the whole command (ValueError)."""
        if command.repair_sensors:
            self.faults.repair_all()
        request = command.break_sensors
        if request is not None:
            self.faults.break_bays(self._fault_bays(command.site, request), request.kind)

    def _fault_bays(self, site: str | None, request: BreakSensors) -> list[str]:
        view = self.views.of(site) if site else next(v for v in self.views.sites if v.is_model)
        if view is None:
            raise ValueError(f"site {site!r} is not published by this simulator")
        bays = {b: m for b, m in view.to_model.items() if m in self.views.published}
        if isinstance(request, BreakBays):
            unknown = sorted(set(request.bays) - set(bays))
            if unknown:
                raise ValueError(f"no simulated bay {', '.join(unknown)} in site {view.id!r}")
            return [bays[b] for b in request.bays]
        working = sorted(b for b, m in bays.items() if self.faults.kind(m) is None)
        self._draws += 1
        return [bays[b] for b in pick_random(working, request.random, self.seed * 1000 + self._draws)]

    def apply_real_readings(self) -> list[Message]:
        """Real sensors' readings into the model; the model site's copy of those bays follows them."""
        out: list[Message] = []
        now_ns = time.time_ns()
        for reading in self.handson.drain():
            self.model.set_external(reading.model_bay, reading.occupied)
            for view, bay in self.views.published.get(reading.model_bay, ()):
                out.append(self._message(view.id, bay, reading.occupied, now_ns))
        return out

    def step(self, wall_dt_s: float) -> list[Message]:
        if not self.state.running:
            return []
        if self.started_h + self.sim_s / 3600.0 >= self.loop_end_h:
            # The end of the preset's hours: start them over with new drivers (a still evening screen
            # would show nothing; the typical day covers what varies from day to day).
            self.loops += 1
            self._rebuild(self.state, None)
            return self.snapshot()
        self.sim_s += wall_dt_s * self.state.speed
        now_ns = time.time_ns()
        return [m for change in self.model.advance(self.sim_s) for m in self._changes(change, now_ns)]

    def _message(self, site: str, bay: Bay, occupied: bool, time_ns: int, heartbeat: bool = False) -> Message:
        self.dayline.published(site, bay.id, occupied)
        if self.publish_as == "tts" and bay.device_id:
            return tts_message(bay, occupied, time_ns, heartbeat)
        return native_message(site, bay.id, occupied, time_ns, heartbeat)

    def _changes(self, change: Change, time_ns: int) -> list[Message]:
        sent = self.faults.change(change.bay, change.occupied)
        if sent is None:
            return []
        return self._published(sent.bay, sent.occupied, time_ns, heartbeat=False)

    def _published(self, model_bay: str, occupied: bool, time_ns: int, heartbeat: bool) -> list[Message]:
        return [
            self._message(view.id, bay, occupied, time_ns, heartbeat)
            for view, bay in self.views.published.get(model_bay, ())
        ]

    def snapshot(self) -> list[Message]:
        now_ns = time.time_ns()
        sent = self.faults.snapshot((c.bay, c.occupied) for c in self.model.snapshot())
        return [m for p in sent for m in self._published(p.bay, p.occupied, now_ns, heartbeat=False)]

    def sensor_messages(self, wall_dt_s: float) -> list[Message]:
        """Heartbeats and flapping sensors' toggles (on the sensor clock, also while paused)."""
        now_ns = time.time_ns()
        sent = self.faults.advance(wall_dt_s * self.state.speed, skip=engine_failed(self.model, self.bay_ids))
        return [m for p in sent for m in self._published(p.bay, p.occupied, now_ns, p.heartbeat)]

    def positions_due(self, now: float) -> Message | None:
        if not self.positions.due(now):
            return None
        site = self.views.model.id
        payload = positions_message(site, self.model, self.bay_ids, self.positions.interval_s)
        return topics.simulator_vehicles(site), payload

    # ----------------------------------------------------------------- the typical day and the status

    def typical_settings(self) -> TypicalSettings:
        return TypicalSettings(
            str(self._scenario_path(self.state.scenario)),
            self.state.preset,
            self.state.steering,
            self.state.guidance_share,
            self.state.sensor_latency_s,
        )

    def statuses(self) -> list[Message]:
        """One retained status per published site; none (and the reason in the log) if the model's
        figures do not fit the contract."""
        typical_day = progress = None
        if self.typical is not None:
            self.typical.request(self.typical_settings())
            typical_day = self.typical.poll()
            progress = self.typical.progress
        try:
            kpis = live_kpis(self.model)
        except ValidationError as exc:
            log.error("the model's figures do not fit LiveKpis: %s", exc.errors()[0])
            return []
        state = self.state
        clock = self.model.now()
        self.dayline.sample(clock.hour + clock.minute / 60 + clock.second / 3600)
        common: dict[str, Any] = {
            "model_site": self.views.model.id,
            "scenario": state.scenario,
            "scenarios": self.catalogue.scenarios,
            "preset": state.preset,
            "presets": self.catalogue.presets,
            "window_hours": self.window,
            "steering": state.steering,
            "state": "running" if state.running else "paused",
            "speed": state.speed,
            "guidance_share": state.guidance_share,
            "sensor_latency_s": state.sensor_latency_s,
            "sim_seconds": round(self.sim_s, 1),
            "sim_time": self.model.now().isoformat(timespec="seconds"),
            "day_label": self.model.day_label("de"),
            "error": self.error or (self.typical.error if self.typical else None),
            "updated_at": ns_to_rfc3339(time.time_ns()),
            "kpis": kpis,
            "typical_day": typical_day,
            "typical_day_progress": progress,
            "signs": self.model.signs(),
            "sensor_heartbeat_s": HEARTBEAT_S,
        }
        broken = self.faults.active
        out = []
        for view in self.views.sites:
            status = SimulatorStatus(
                site=view.id,
                view_bays={} if view.is_model else dict(view.to_model),
                real_bays=sorted(b for b, m in view.to_model.items() if m in self.views.real_model_bays),
                sensor_faults={b: broken[m].kind for b, m in sorted(view.to_model.items()) if m in broken},
                today_occupancy=self.dayline.points(view.id),
                **common,
            )
            out.append((topics.simulator_status(view.id), status.model_dump_json().encode()))
        return out

    def close(self) -> None:
        if self.typical is not None:
            self.typical.close()


def run_live(
    settings: CommonSettings,
    runner: LiveRunner,
    stop: threading.Event,
    tick_s: float = 0.1,
    status_every_s: float = 1.0,
) -> int:
    """Publish until ``stop`` is set; returns the number of bay messages published."""
    model_site = runner.views.model.id
    client = make_client(settings, f"parklotse-sim-{model_site}-{int(time.time() * 1000) % 10**8}")
    connected = threading.Event()
    control_topics = {topics.simulator_control(view.id) for view in runner.views.sites}
    wanted_topic = topics.simulator_wanted(model_site)

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            log.error("broker refused the simulator: %s", reason)
            return
        wanted = [(t, 1) for t in sorted(control_topics)] + [(wanted_topic, 0)]
        wanted += [(t, 1) for t in runner.handson.topics]
        c.subscribe(wanted)
        connected.set()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        if message.topic == wanted_topic:
            runner.want_positions(payload)
        elif message.topic in control_topics:
            try:
                command = Command.model_validate_json(payload)
                if command.site is None:  # bays named in it belong to the site whose topic it came on
                    command = command.model_copy(update={"site": message.topic.split("/")[2]})
                runner.command(command)
            except ValidationError as exc:
                log.warning("ignored a malformed simulator command: %s", exc.errors()[0]["msg"])
        else:
            runner.handson.on_message(message.topic, payload)

    client.on_connect = on_connect
    client.on_message = on_message
    client.max_queued_messages_set(20_000)
    endpoint = settings.mqtt
    client.connect_async(endpoint.host, endpoint.port, keepalive=30)
    client.loop_start()
    published = 0

    def send(messages: Sequence[Message]) -> None:
        nonlocal published
        for topic, payload in messages:
            client.publish(topic, payload, qos=1)
            published += 1

    try:
        while not connected.wait(0.2):
            if stop.is_set():
                return 0
        sites = ", ".join(f"{v.id} ({len(v.to_model)} bays)" for v in runner.views.sites)
        log.info("simulating %s at %g× real time, publishing %s", model_site, runner.state.speed, sites)
        send(runner.snapshot())  # the screen fills at once
        last = time.monotonic()
        next_status = last
        while not stop.wait(tick_s):
            send(runner.process_commands())
            send(runner.apply_real_readings())
            now = time.monotonic()
            send(runner.step(now - last))
            send(runner.sensor_messages(now - last))
            last = now
            positions = runner.positions_due(now)
            if positions is not None:
                client.publish(*positions, qos=0)
            if now >= next_status:
                for topic, payload in runner.statuses():
                    client.publish(topic, payload, qos=1, retain=True)
                next_status = now + status_every_s
        # A stopped simulator is no longer listed: clear its retained statuses.
        cleared = [
            client.publish(topics.simulator_status(v.id), b"", qos=1, retain=True) for v in runner.views.sites
        ]
        for info in cleared:
            info.wait_for_publish(5)
    finally:
        runner.close()
        client.disconnect()
        client.loop_stop()
    return published


def build_runner(
    scenario_name: str,
    sites_dir: Path,
    speed: float,
    seed: int | None,
    publish_as: PublishAs,
    *,
    preset: str | None = None,
    steering: Steering | None = None,
    start_hour: float | None = None,
    publish_sites: Sequence[str] | None = None,
    typical_days: int | None = None,
) -> LiveRunner:
    """The calibrated town model of a scenario, ready to run live (errors name the file and field)."""
    from parking.registry import load_registry
    from simulator.engine import Simulation
    from simulator.grid import build_network, resolve_site
    from simulator.scenario import load_scenario, resolve_scenario_path, scenario_names
    from simulator.views import build_views

    first_path = resolve_scenario_path(scenario_name)
    first = load_scenario(first_path)
    model_site = resolve_site(first, sites_dir, first_path)
    others = load_registry(sites_dir).sites.values() if Path(sites_dir).is_dir() else ()
    views = build_views(model_site, others, publish_sites)
    network = build_network(model_site, first.space)
    run_seed = 1 if seed is None else seed

    same_model = []
    for name in scenario_names():
        if name == scenario_name:
            same_model.append(name)
            continue
        try:
            other = load_scenario(name)
        except ValueError:
            continue
        if other.site == first.site:
            same_model.append(name)

    def build(name: str, preset_name: str, hour: float | None, model_seed: int) -> Model:
        scenario = load_scenario(resolve_scenario_path(name))
        return Simulation(
            scenario, model_site, model_seed, preset=preset_name, start_hour=hour, network=network
        )

    presets = [
        PresetInfo(
            name=name,
            title=Text(de=p.title.de, en=p.title.en),
            description=Text(de=p.description.de, en=p.description.en),
            day=p.day,
            loop_start_h=p.loop_start_h,
            loop_end_h=p.loop_end_h,
        )
        for name, p in first.presets.items()
    ]
    chosen = preset or first.default_preset
    first.preset(chosen)  # ValueError naming the known presets
    mode = steering or first.steering.mode
    state = RunState(
        running=True,
        speed=speed,
        # the share of steered drivers of the mode: app users, or drivers following the signs
        guidance_share=first.steering.sign_compliance if mode == "signs" else first.guidance.share,
        sensor_latency_s=first.guidance.sensor_latency_s,
        scenario=scenario_name,
        preset=chosen,
        steering=mode,
    )
    typical = TypicalDays(Path(sites_dir), days=typical_days, seed=run_seed) if typical_days else None
    faults = {name: dict(p.sensor_faults) for name, p in first.presets.items()}
    runner = LiveRunner(
        views,
        build,
        state,
        Catalogue(sorted(same_model), presets, faults),
        publish_as=publish_as,
        seed=run_seed,
        typical=typical,
        scenario_path=resolve_scenario_path,
        start_hour=start_hour,
        bay_ids=network.bay_ids,
    )
    return runner


def engine_failed(model: object, bay_ids: Sequence[str]) -> frozenset[str]:
    """The bays whose sensor the engine has failed (the preset's silent share): they send no heartbeat
    either. Read from ``simulator.engine``'s twin with sensors; a model without one fails none."""
    frozen = getattr(getattr(model, "with_sensors", None), "frozen", None)
    if not frozen or not any(frozen):
        return frozenset()
    return frozenset(bay for bay, failed in zip(bay_ids, frozen, strict=False) if failed)


def parse_start_hour(value: str | None) -> float | None:
    """``--start-time HH:MM`` as hours after midnight of the preset's day (None: the preset's first hour)."""
    if value is None:
        return None
    hours, sep, minutes = value.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"--start-time must be HH:MM, got {value!r}")
    hour = int(hours) + int(minutes) / 60
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"--start-time must be a time of day 00:00..23:59, got {value!r}")
    return hour
