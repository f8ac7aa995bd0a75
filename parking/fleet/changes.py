"""Status changes per bay over the last hour, counted from the ingester's change events as they
arrive (``parking/events/{site}/{bay}``), so that an evaluation needs no InfluxDB query for them.

The count is trusted only once the feed has been heard for a whole window without a break; until
then the monitor asks InfluxDB (``gather.read_fast``). Memory: at most ``MAX_PER_BAY`` times per bay
(a count above the flapping threshold needs no more).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from parking.fleet.rules import HOUR_NS
from parking.timestamps import TimestampError, parse_rfc3339

MAX_PER_BAY = 500


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    site: str
    bay: str
    status: str
    time_ns: int


def parse_event(payload: bytes) -> ChangeEvent | None:
    """A change event of the ingester, or None for anything that is not one (never raises)."""
    try:
        document = json.loads(payload)
        site, bay, status, ts = document["site"], document["bay"], document["status"], document["ts"]
        if not all(isinstance(v, str) for v in (site, bay, status, ts)):
            return None
        return ChangeEvent(site, bay, status, parse_rfc3339(ts))
    except (ValueError, KeyError, TypeError, TimestampError):
        return None


class ChangeWindow:
    """Change times per (site, bay) within ``window_ns``, and since when the feed is unbroken."""

    def __init__(self, window_ns: int = HOUR_NS) -> None:
        self.window_ns = window_ns
        self.heard_since_ns: int | None = None  # the feed's (re)subscription; None while it is down
        # Per site, then per bay: an evaluation counts one site's bays, not every site's.
        self._times: dict[str, dict[str, deque[int]]] = {}
        self._status: dict[tuple[str, str], str] = {}

    def connected(self, now_ns: int) -> None:
        self.heard_since_ns = now_ns

    def lost(self) -> None:
        self.heard_since_ns = None

    def add(self, event: ChangeEvent) -> None:
        key = (event.site, event.bay)
        before = self._status.get(key)
        self._status[key] = event.status
        if before == event.status:
            return  # the ingester's first reading of a bay, or a repeat: not a change
        bays = self._times.setdefault(event.site, {})
        bays.setdefault(event.bay, deque(maxlen=MAX_PER_BAY)).append(event.time_ns)

    def complete(self, now_ns: int, window_ns: int) -> bool:
        """Whether the feed has been heard for the whole window before ``now_ns``."""
        return self.heard_since_ns is not None and self.heard_since_ns <= now_ns - window_ns

    def counts(self, site: str, now_ns: int, window_ns: int | None = None) -> dict[str, int]:
        """Changes per bay of ``site`` within ``window_ns`` (default: the whole window) before now."""
        start = now_ns - (self.window_ns if window_ns is None else window_ns)
        oldest = now_ns - self.window_ns
        found: dict[str, int] = {}
        for bay, times in self._times.get(site, {}).items():
            while times and times[0] < oldest:
                times.popleft()
            n = sum(1 for t in times if t >= start) if start > oldest else len(times)
            if n:
                found[bay] = n
        return found


def with_real_hour(counts: dict[str, int], hour: Mapping[str, int], real: frozenset[str]) -> dict[str, int]:
    """A simulated site's counts (its simulated hour) with the hands-on bays' real hour: their real
    sensors keep real time (docs/fleet.md, "Simulated time")."""
    if not real:
        return counts
    return {b: n for b, n in counts.items() if b not in real} | {b: hour[b] for b in real & hour.keys()}
