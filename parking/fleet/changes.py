"""Status changes per bay over the last hour, counted from the ingester's change events as they
arrive (``parking/events/{site}/{bay}``), so that an evaluation needs no InfluxDB query for them.

The count is trusted once the feed has been heard for a whole window without a break, or once the
changes InfluxDB holds from before were added to what was heard (``seed``: one read per site after
each subscription, where the monitor used to ask InfluxDB at every evaluation of its first hour).
While the feed is down the monitor asks InfluxDB (``gather.read_fast``). Memory: at most
``MAX_PER_BAY`` times per bay (a count above the flapping threshold needs no more).
"""

from __future__ import annotations

import heapq
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from parking.events import BayStatus
from parking.fleet.rules import HOUR_NS
from parking.timestamps import TimestampError, parse_rfc3339

MAX_PER_BAY = 500
UNKNOWN = BayStatus.UNKNOWN.value


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    site: str
    bay: str
    status: str
    time_ns: int
    previous: str | None = None  # the status before, as the ingester knew it (None: not said)


def parse_event(payload: bytes) -> ChangeEvent | None:
    """A change event of the ingester, or None for anything that is not one (never raises)."""
    try:
        document = json.loads(payload)
        site, bay, status, ts = document["site"], document["bay"], document["status"], document["ts"]
        previous = document.get("previous")
        if not all(isinstance(v, str) for v in (site, bay, status, ts)) or not isinstance(
            previous, str | None
        ):
            return None
        return ChangeEvent(site, bay, status, parse_rfc3339(ts), previous)
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
        self._seeded: dict[str, int] = {}  # site: the subscription (heard_since_ns) its seed went with
        # Every time held, oldest first, with its bay: a count looks only at the bays whose oldest time
        # left the window instead of at every bay (a city's 10,080 took ~9 ms of the API's event loop
        # at every evaluation). A time dropped by a full deque stays here; pruning it again is harmless.
        self._due: list[tuple[int, str, str]] = []

    def connected(self, now_ns: int) -> None:
        self.heard_since_ns = now_ns

    def lost(self) -> None:
        self.heard_since_ns = None
        self._seeded.clear()  # what is missed until the next subscription is in no seed

    def add(self, event: ChangeEvent) -> None:
        key = (event.site, event.bay)
        before = self._status.get(key) if event.previous is None else event.previous
        self._status[key] = event.status
        if before == event.status or before == UNKNOWN:
            return  # a repeat, or a bay's first reading: no change (as InfluxDB counts them)
        times = self._times.setdefault(event.site, {}).setdefault(event.bay, deque(maxlen=MAX_PER_BAY))
        if event.time_ns not in times:  # not already in a seed (the event may come after the read)
            times.append(event.time_ns)
            heapq.heappush(self._due, (event.time_ns, event.site, event.bay))

    def complete(self, now_ns: int, window_ns: int) -> bool:
        """Whether the feed has been heard for the whole window before ``now_ns``."""
        return self.heard_since_ns is not None and self.heard_since_ns <= now_ns - window_ns

    def covers(self, site: str, now_ns: int, window_ns: int) -> bool:
        """Whether the counts of ``site`` hold every change of the window: heard for all of it, or
        seeded since the feed's current subscription."""
        heard = self.heard_since_ns
        return self.complete(now_ns, window_ns) or (heard is not None and self._seeded.get(site) == heard)

    def seed(self, site: str, times: Mapping[str, list[int]], subscription_ns: int) -> bool:
        """Add the change times InfluxDB holds for ``site`` (read after the subscription at
        ``subscription_ns``, so that with what was heard since nothing is missing). A change both
        stored and heard has one time (to the millisecond, as events carry it) and counts once.
        False, and nothing marked, when the feed was lost or subscribed again meanwhile: the read
        may have missed what came in between."""
        if self.heard_since_ns != subscription_ns:
            return False
        bays = self._times.setdefault(site, {})
        for bay, stored in times.items():
            held = bays.get(bay)
            merged = sorted(set(stored).union(held)) if held else stored
            bays[bay] = deque(merged[-MAX_PER_BAY:], maxlen=MAX_PER_BAY)
            for t in stored:
                heapq.heappush(self._due, (t, site, bay))
        self._seeded[site] = subscription_ns
        return True

    def counts(self, site: str, now_ns: int, window_ns: int | None = None) -> dict[str, int]:
        """Changes per bay of ``site`` within ``window_ns`` (default: the whole window) before now."""
        start = now_ns - (self.window_ns if window_ns is None else window_ns)
        oldest = now_ns - self.window_ns
        self._expire(oldest)
        bays = self._times.get(site, {})
        if start <= oldest:
            return {bay: len(times) for bay, times in bays.items()}
        found = {bay: sum(1 for t in times if t >= start) for bay, times in bays.items()}
        return {bay: n for bay, n in found.items() if n}

    def _expire(self, oldest: int) -> None:
        """Drops the times before ``oldest`` (every site's), and the bays left without one."""
        due = self._due
        while due and due[0][0] < oldest:
            _, site, bay = heapq.heappop(due)
            bays = self._times.get(site)
            times = None if bays is None else bays.get(bay)
            if bays is None or times is None:
                continue
            while times and times[0] < oldest:
                times.popleft()
            if not times:
                del bays[bay]


def with_real_hour(counts: dict[str, int], hour: Mapping[str, int], real: frozenset[str]) -> dict[str, int]:
    """A simulated site's counts (its simulated hour) with the hands-on bays' real hour: their real
    sensors keep real time (docs/fleet.md, "Simulated time")."""
    if not real:
        return counts
    return {b: n for b, n in counts.items() if b not in real} | {b: hour[b] for b in real & hour.keys()}
