"""Cars on the road, as data: the positions message of both twins, only while a screen watches.

The API renews a short lease (``VehiclesWanted`` on ``parklotse/simulator/{site}/wanted``) every few
seconds while a stream client wants positions. The simulator builds and publishes a message at most
every ``interval_s`` while the lease runs, and nothing at all otherwise: no screen, no cost. Nothing
is retained, so a crashed API or screen simply lets the lease run out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from parking.simulator_messages import Twin, VehiclesWanted

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.5  # at most twice a second (the kiosk interpolates between messages)


class Positions(Protocol):
    """What the publisher needs of a simulation (``simulator.engine.Simulation`` provides it)."""

    @property
    def t_s(self) -> float: ...
    def now(self) -> datetime: ...
    def vehicles(self) -> Mapping[Twin, Sequence[tuple[int, float, float, int, str]]]: ...
    def occupied(self) -> Mapping[Twin, str]: ...


class Lease:
    """Until when (monotonic seconds) positions are wanted."""

    def __init__(self) -> None:
        self.until = 0.0

    def grant(self, payload: bytes, now: float) -> bool:
        try:
            wanted = VehiclesWanted.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("ignored a malformed positions request: %s", exc.errors()[0]["msg"])
            return False
        self.until = max(self.until, now + wanted.vehicles_for_s)
        return True

    def active(self, now: float) -> bool:
        return now < self.until


def positions_message(site: str, model: Positions, bay_ids: Sequence[str], interval_s: float) -> bytes:
    """The ``VehiclePositions`` JSON of the model now (built directly: it is made twice a second;
    tests check it validates against the model)."""
    cars = model.vehicles()
    occupied = model.occupied()
    document: dict[str, Any] = {
        "site": site,
        "t_s": round(model.t_s, 1),
        "sim_time": model.now().isoformat(timespec="seconds"),
        "interval_s": interval_s,
        "without_sensors": cars["without_sensors"],
        "with_sensors": cars["with_sensors"],
        "bays": list(bay_ids),
        "occupied_without_sensors": occupied["without_sensors"],
        "occupied_with_sensors": occupied["with_sensors"],
    }
    return json.dumps(document, separators=(",", ":")).encode()


class PositionPublisher:
    """Decides when a positions message is due: leased, and ``interval_s`` since the last one."""

    def __init__(self, interval_s: float = MIN_INTERVAL_S) -> None:
        if interval_s < MIN_INTERVAL_S:
            raise ValueError(f"positions at most twice a second: interval {interval_s} < {MIN_INTERVAL_S}")
        self.interval_s = interval_s
        self.lease = Lease()
        self._next = 0.0
        self.sent = 0

    def due(self, now: float) -> bool:
        if not self.lease.active(now) or now < self._next:
            return False
        self._next = now + self.interval_s
        self.sent += 1
        return True
