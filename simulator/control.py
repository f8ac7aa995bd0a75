"""Commands that steer a running simulator, and the status it reports: the control contract.

The API publishes a ``Command`` on ``parklotse/simulator/{site}/control``; the simulator applies it
and publishes its status (retained) on ``parklotse/simulator/{site}/status``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from simulator.faults import FaultKind

MAX_LATENCY_S = 86_400.0
MAX_FAULT_BAYS = 1000
Steering = Literal["app", "signs", "both"]
BayName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class _BreakSensors(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FaultKind = Field(
        description="silent: sends nothing; stuck: keeps its status; flapping: toggles every simulated minute"
    )


class BreakBays(_BreakSensors):
    """Make the bays named faulty (simulator.faults)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "flapping", "bays": ["A03"]}]})

    bays: list[BayName] = Field(
        min_length=1, max_length=MAX_FAULT_BAYS, description="bay ids of the command's site"
    )


class BreakRandom(_BreakSensors):
    """Make a few working bays faulty, drawn at random (simulator.faults)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "silent", "random": 3}]})

    random: int = Field(ge=1, le=MAX_FAULT_BAYS, description="this many working bays, drawn at random")


# Either the bays named or a number drawn at random: two shapes, so the OpenAPI schema says so too
# (a validator across fields is invisible to clients and to schema-driven tests).
BreakSensors = BreakBays | BreakRandom


class Command(BaseModel):
    """One control request; fields left out keep their current value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "action": "start",
                "preset": "markttag",
                "steering": "signs",
                "guidance_share": 0.6,
                "sensor_latency_s": 30,
                "speed": 30,
                "hour": 11,
            }
        },
    )

    action: Literal["start", "pause", "reset", "set"] = Field(
        default="set", description="start or resume, pause, reset to the start time, or only change settings"
    )
    site: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="which simulator (default: the only one running)",
    )
    scenario: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="scenario of the same site to switch to (implies reset)",
    )
    speed: float | None = Field(default=None, ge=1, le=600, description="simulated seconds per second")
    guidance_share: float | None = Field(default=None, ge=0, le=1, description="share of guided drivers")
    sensor_latency_s: float | None = Field(
        default=None, ge=0, le=MAX_LATENCY_S, description="age of the data guidance sees, seconds"
    )
    preset: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]{1,32}$",
        description="a story (werktag, markttag, abend, ausfall); starts over at its first hour",
    )
    steering: Steering | None = Field(
        default=None, description="app: guidance to a bay; signs: Parkleitsystem at the entrances; both"
    )
    hour: float | None = Field(
        default=None, ge=0, lt=24, description="jump: start over at this simulated hour of the preset's day"
    )
    break_sensors: BreakSensors | None = Field(
        default=None, description="make some simulated sensors silent, stuck or flapping (a showroom story)"
    )
    repair_sensors: bool | None = Field(
        default=None, description="true: every simulated sensor works again (staff's faults and the preset's)"
    )


@dataclass(frozen=True, slots=True)
class RunState:
    running: bool
    speed: float
    guidance_share: float
    sensor_latency_s: float
    scenario: str
    preset: str = "werktag"
    steering: Steering = "app"


@dataclass(frozen=True, slots=True)
class Effect:
    """What applying a command means for the model: the new state and whether to rebuild it.

    ``start_hour``: where a rebuilt model starts (None: the preset's first hour).
    """

    state: RunState
    reset: bool
    new_scenario: str | None
    start_hour: float | None = None


def apply_command(state: RunState, command: Command) -> Effect:
    """Pure: the state after a command (validation already happened in the model)."""
    new = state
    if command.speed is not None:
        new = replace(new, speed=command.speed)
    if command.guidance_share is not None:
        new = replace(new, guidance_share=command.guidance_share)
    if command.sensor_latency_s is not None:
        new = replace(new, sensor_latency_s=command.sensor_latency_s)
    if command.steering is not None:
        new = replace(new, steering=command.steering)
    if command.preset is not None:
        new = replace(new, preset=command.preset)
    if command.action == "start":
        new = replace(new, running=True)
    elif command.action == "pause":
        new = replace(new, running=False)
    switch = command.scenario if command.scenario and command.scenario != state.scenario else None
    reset = (
        command.action == "reset"
        or switch is not None
        or new.preset != state.preset
        or command.hour is not None
    )
    return Effect(new, reset, switch, command.hour)
