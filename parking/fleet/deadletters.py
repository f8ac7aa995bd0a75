"""Each device's refused messages of the last day, from the dead letters the ingester publishes.

The ingester publishes every dead letter on ``parking/deadletter/{reason}`` with the original
topic (ingest/deadletters.py); the topic names the bay (native) or the device (LoRaWAN), which
the site registry maps to a bay. Dead letters of devices bound to no bay cannot be a bay's
problem; ``parklotse deadletters`` lists them.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from pydantic import ValidationError

from parking.messages import DeadLetterMessage
from parking.registry import Registry

DAY_NS = 86_400 * 1_000_000_000
# The ingester's topic shapes (ARCHITECTURE.md, "Contracts"); only the device part matters here.
_NATIVE = re.compile(r"parking/(?P<site>[A-Za-z0-9_-]{1,64})/(?P<bay>[A-Za-z0-9_-]{1,64})/status")
_TTS = re.compile(r"v3/[^/]+/devices/(?P<device>[^/]+)/[^/]+")
_CHIRPSTACK = re.compile(r"application/[^/]+/device/(?P<dev_eui>[0-9A-Fa-f]{16})/event/[^/]+")
# Per bay; a device refusing more than this in a day is reported anyway, only the count saturates.
MAX_KEPT_PER_BAY = 10_000


@dataclass(frozen=True, slots=True)
class Refusal:
    site: str
    bay: str
    reason: str
    detail: str
    received_ns: int


def bay_of_topic(topic: str, registry: Registry) -> tuple[str, str] | None:
    """(site, bay) a sensor topic belongs to, or None when no bay of the registry is named."""
    if match := _NATIVE.fullmatch(topic):
        site, bay = match["site"], match["bay"]
        return (site, bay) if registry.bay(site, bay) is not None else None
    binding = None
    if match := _TTS.fullmatch(topic):
        binding = registry.by_device_id(match["device"])
    elif match := _CHIRPSTACK.fullmatch(topic):
        binding = registry.by_dev_eui(match["dev_eui"])
    return None if binding is None else (binding.bay.site, binding.bay.id)


def parse_dead_letter(payload: bytes, registry: Registry) -> Refusal | None:
    """The bay a published dead letter is about, or None (not a dead letter, or no bay's)."""
    try:
        letter = DeadLetterMessage.model_validate_json(payload)
    except ValidationError:
        return None
    received_ns = letter.received_ns
    key = bay_of_topic(letter.topic, registry)
    if key is None:
        return None
    return Refusal(key[0], key[1], letter.reason, letter.detail[:300], received_ns)


class RefusalWindow:
    """The refusals of the last day per bay; memory bounded by bays x ``MAX_KEPT_PER_BAY``."""

    def __init__(self, window_ns: int = DAY_NS) -> None:
        self.window_ns = window_ns
        self._by_bay: dict[tuple[str, str], deque[Refusal]] = {}

    def add(self, refusal: Refusal) -> None:
        kept = self._by_bay.setdefault((refusal.site, refusal.bay), deque(maxlen=MAX_KEPT_PER_BAY))
        kept.append(refusal)

    def counts(self, site: str, now_ns: int) -> dict[str, tuple[int, Refusal]]:
        """Per bay of ``site``: refusals in the window and the latest one."""
        start = now_ns - self.window_ns
        result: dict[str, tuple[int, Refusal]] = {}
        for (s, bay), kept in list(self._by_bay.items()):
            while kept and kept[0].received_ns < start:
                kept.popleft()
            if not kept:
                del self._by_bay[(s, bay)]
                continue
            if s == site:
                result[bay] = (len(kept), kept[-1])
        return result

    def recent(self, site: str, bay: str, limit: int = 20) -> list[Refusal]:
        kept = self._by_bay.get((site, bay), deque())
        return list(kept)[-limit:][::-1]
