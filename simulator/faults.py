"""Broken sensors on demand, so the showroom can show the fleet-health view working.

A simulated sensor that works sends every status change and, like the real layouts in docs/fleet.md,
a heartbeat with its status, battery and radio figures; here one every ``HEARTBEAT_S`` simulated
seconds (an hourly device setting; real ones send at least daily). A broken one is

- ``silent``: publishes nothing at all (no change, no heartbeat, no snapshot);
- ``stuck``: keeps the status it had when it broke, still sending heartbeats;
- ``flapping``: toggles its status every ``FLAP_EVERY_S`` simulated seconds, whatever the bay holds.

Faults change only what is published: the model's drivers and guidance still see the bay as it is
(the preset ``ausfall``'s silent sensors are the exception: the engine freezes those, so guidance sees
stale data). Time here is the simulator's sensor clock (wall time times speed, running on while the
town is paused: sensors do not stop because the demo does). Pure apart from the random draw of a
"few at random", which is seeded.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["silent", "stuck", "flapping"]
FAULT_KINDS: tuple[FaultKind, ...] = ("silent", "stuck", "flapping")
HEARTBEAT_S = 3600.0
# Three changes a simulated minute would be flapping even at a city's busiest bay; once a simulated
# minute is 60 an hour, three times the rule's default of 20 (docs/fleet.md).
FLAP_EVERY_S = 60.0
BATTERY_V = 3.6  # what a simulated sensor reports: a fresh lithium cell (not a measured figure)
RSSI_DBM = -92.0
SNR_DB = 7.5


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    stuck_at: bool = False  # stuck: the status it keeps


@dataclass(frozen=True, slots=True)
class Publish:
    """A message the simulator sends for a model bay: a status change, or a heartbeat."""

    bay: str
    occupied: bool
    heartbeat: bool


@dataclass(slots=True)
class SensorFaults:
    """The broken sensors of one town model (by model bay id) and the sensor clock.

    Staff faults stay until repaired; the preset's come and go with the preset.
    """

    bays: Sequence[str]  # every model bay, in a fixed order (heartbeat phases)
    staff: dict[str, Fault] = field(default_factory=dict)
    preset: dict[str, Fault] = field(default_factory=dict)
    clock_s: float = 0.0
    shown: dict[str, bool] = field(default_factory=dict)  # the status each bay last published

    @property
    def active(self) -> dict[str, Fault]:
        return {**self.preset, **self.staff}

    def kind(self, bay: str) -> FaultKind | None:
        fault = self.staff.get(bay) or self.preset.get(bay)
        return None if fault is None else fault.kind

    # ------------------------------------------------------------ breaking and repairing

    def break_bays(self, bays: Iterable[str], kind: FaultKind) -> None:
        for bay in bays:
            self.staff[bay] = Fault(kind, self.shown.get(bay, False))

    def set_preset(self, shares: Mapping[FaultKind, float], seed: int) -> None:
        """The preset's share of broken sensors per kind, drawn once (the same bays stay broken)."""
        draw = random.Random(seed)
        self.preset = {}
        for kind in FAULT_KINDS:
            share = shares.get(kind, 0.0)
            for bay in self.bays:
                if share > 0 and bay not in self.preset and draw.random() < share:
                    self.preset[bay] = Fault(kind, self.shown.get(bay, False))

    def repair_all(self) -> None:
        self.staff.clear()
        self.preset.clear()

    # ------------------------------------------------------------ what goes out

    def change(self, bay: str, occupied: bool) -> Publish | None:
        """A model change as the sensor reports it: nothing if broken, else the change."""
        if self.kind(bay) is not None:
            return None
        self.shown[bay] = occupied
        return Publish(bay, occupied, heartbeat=False)

    def advance(self, sensor_s: float, skip: frozenset[str] = frozenset()) -> list[Publish]:
        """Heartbeats and flaps due while the sensor clock moves on by ``sensor_s`` seconds.

        ``skip``: bays that send nothing whatever their fault (the engine's failed sensors, real ones).
        """
        start, end = self.clock_s, self.clock_s + max(0.0, sensor_s)
        self.clock_s = end
        out: list[Publish] = []
        n = len(self.bays) or 1
        faults = self.active
        for i, bay in enumerate(self.bays):
            if bay in skip:
                continue
            fault = faults.get(bay)
            kind = None if fault is None else fault.kind
            if kind == "silent":
                continue
            if kind == "flapping":
                # Each flapping bay on its own phase; every crossing of a step is one toggle.
                phase = FLAP_EVERY_S * i / n
                steps = _crossings(start, end, FLAP_EVERY_S, phase)
                for _ in range(min(steps, 3)):  # a long tick (a stall) sends a few, not a burst
                    value = not self.shown.get(bay, False)
                    self.shown[bay] = value
                    out.append(Publish(bay, value, heartbeat=False))
                continue
            if _crossings(start, end, HEARTBEAT_S, HEARTBEAT_S * i / n):
                known = fault.stuck_at if fault is not None else self.shown.get(bay)
                if known is not None:  # a bay not announced yet has nothing to repeat
                    self.shown[bay] = known
                    out.append(Publish(bay, known, heartbeat=True))
        return out

    def snapshot(self, states: Iterable[tuple[str, bool]]) -> list[Publish]:
        """The state announced at a start or a new loop: broken sensors as they are broken."""
        out = []
        for bay, occupied in states:
            fault = self.staff.get(bay) or self.preset.get(bay)
            if fault is None:
                self.shown[bay] = occupied
                out.append(Publish(bay, occupied, heartbeat=False))
            elif fault.kind != "silent":
                out.append(Publish(bay, self.shown.get(bay, fault.stuck_at), heartbeat=False))
        return out


def _crossings(start: float, end: float, period: float, phase: float) -> int:
    """How many times ``t = k * period + phase`` lies in (start, end]."""
    return int((end - phase) // period) - int((start - phase) // period)


def pick_random(candidates: Sequence[str], count: int, seed: int) -> list[str]:
    """``count`` bays of ``candidates`` (all of them if fewer), a seeded draw."""
    if count >= len(candidates):
        return list(candidates)
    return random.Random(seed).sample(list(candidates), count)
