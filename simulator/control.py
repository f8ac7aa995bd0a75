"""Commands that steer a running simulator, and the status it reports: the control contract.

The API publishes a ``Command`` on ``parklotse/simulator/{site}/control``; the simulator applies it
and publishes its status (retained) on ``parklotse/simulator/{site}/status``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_LATENCY_S = 86_400.0


class Command(BaseModel):
    """One control request; fields left out keep their current value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"action": "start", "speed": 60, "guidance_share": 0.3, "sensor_latency_s": 30}
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


@dataclass(frozen=True, slots=True)
class RunState:
    running: bool
    speed: float
    guidance_share: float
    sensor_latency_s: float
    scenario: str


@dataclass(frozen=True, slots=True)
class Effect:
    """What applying a command means for the model: the new state and whether to rebuild it."""

    state: RunState
    reset: bool
    new_scenario: str | None


def apply_command(state: RunState, command: Command) -> Effect:
    """Pure: the state after a command (validation already happened in the model)."""
    new = state
    if command.speed is not None:
        new = replace(new, speed=command.speed)
    if command.guidance_share is not None:
        new = replace(new, guidance_share=command.guidance_share)
    if command.sensor_latency_s is not None:
        new = replace(new, sensor_latency_s=command.sensor_latency_s)
    if command.action == "start":
        new = replace(new, running=True)
    elif command.action == "pause":
        new = replace(new, running=False)
    switch = command.scenario if command.scenario and command.scenario != state.scenario else None
    return Effect(new, command.action == "reset" or switch is not None, switch)
