"""Real sensors on the showroom table: their readings enter the town model.

The ingester publishes each bay's state retained on ``parking/state/{site}/{bay}``; for every hands-on
bay (``simulator.views``) the simulator subscribes to that topic, so it gets the current reading on
connect and every change after it. A reading is turned into what the model needs (the model bay, taken
or free) on the MQTT thread and applied by the runner on its next tick, within a tenth of a second.
"""

from __future__ import annotations

import logging
import queue
from dataclasses import dataclass

from parking import topics
from parking.events import BayStatus
from parking.state import parse_state_message
from simulator.views import Views

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RealReading:
    model_bay: str
    occupied: bool
    site: str
    bay: str


class HandsOn:
    """The hands-on bays' state topics, and the readings that arrived on them (thread-safe)."""

    def __init__(self, views: Views) -> None:
        self._by_topic = {
            topics.state(view.id, bay.id): (model_bay, view.id, bay.id)
            for model_bay, (view, bay) in views.real_model_bays.items()
        }
        self._inbox: queue.SimpleQueue[RealReading] = queue.SimpleQueue()
        self.last: dict[str, bool] = {}  # model bay -> the latest real reading (for the status)

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def on_message(self, topic: str, payload: bytes) -> bool:
        """Take a state message if it is one of ours; True when it was (whatever its content)."""
        target = self._by_topic.get(topic)
        if target is None:
            return False
        state = parse_state_message(topic, payload) if payload else None
        if state is None:
            log.warning("ignored a state message on %s that is not a bay state", topic)
            return True
        if state.status in (BayStatus.OCCUPIED, BayStatus.FREE, BayStatus.CLOSED):
            # closed: nobody can park there, as good as taken for the model's drivers
            model_bay, site, bay = target
            self._inbox.put(RealReading(model_bay, state.status != BayStatus.FREE, site, bay))
        # unknown: the sensor has nothing to say; the model keeps the last real reading
        return True

    def drain(self) -> list[RealReading]:
        readings: list[RealReading] = []
        while True:
            try:
                reading = self._inbox.get_nowait()
            except queue.Empty:
                return readings
            self.last[reading.model_bay] = reading.occupied
            readings.append(reading)
