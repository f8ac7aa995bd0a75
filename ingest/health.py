"""Sensor health figures (battery, temperature, radio) checked one by one, never at the reading's cost.

A health figure is worth less than the occupancy it travels with. One that is implausible (outside
the physical limits below) or unreadable (not a number) is left out of the health point and
reported as a ``DroppedField`` beside the reading; the service counts and logs it. Every decoder
(native JSON, the envelopes' radio figures, the byte codecs) checks its figures here, so the
limits live in one place.
"""

from __future__ import annotations

import math

from ingest.rejections import Reason
from parking.events import DroppedField

HEALTH_RANGES: dict[str, tuple[float, float]] = {
    "battery_v": (0.0, 20.0),
    "battery_pct": (0.0, 100.0),
    "rssi": (-200.0, 20.0),
    "snr": (-40.0, 40.0),
    "temperature_c": (-60.0, 100.0),
}


def shown(value: object) -> str:
    """A value as quoted in a detail, cut short: payloads may be large."""
    text = repr(value)
    return text if len(text) <= 64 else f"{text[:61]}..."


class HealthCheck:
    """The health figures of one message, as a decoder reads them; what fails is collected in ``dropped``.

    ``codec`` names the decoder in the drop records (a byte codec, or the envelope for the figures
    it carries itself: ``native``, ``tts``, ``chirpstack``).
    """

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.dropped: list[DroppedField] = []

    def value(self, key: str, value: object, where: str) -> float | None:
        """``value`` as a float if it is a plausible ``key`` (a ``HEALTH_RANGES`` name), else None."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.drop(key, Reason.BAD_SCHEMA, f"{where} must be a number, got {shown(value)}")
            return None
        low, high = HEALTH_RANGES[key]
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float's range
            number = math.inf
        if not (math.isfinite(number) and low <= number <= high):
            self.drop(key, Reason.OUT_OF_RANGE, f"{where} = {shown(value)} is outside {low:g}..{high:g}")
            return None
        return number

    def drop(self, key: str, reason: Reason, detail: str) -> None:
        self.dropped.append(DroppedField(self.codec, key, reason.value, detail))
