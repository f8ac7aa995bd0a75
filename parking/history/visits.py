"""One bay's timeline and the dwell times of visits, from the bays' changes. Pure."""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parking.events import ns_to_rfc3339
from parking.history.sums import Core
from parking.history.windows import DAY_NS, MINUTE_NS
from parking.store import Series

DWELL_LOOKAHEAD_NS = DAY_NS  # departures are looked for until a day after the range
DWELL_CHUNK_NS = 7 * DAY_NS
DWELL_MAX_CHANGES = 1_000_000
DWELL_BIN_EDGES_MIN = (0, 15, 30, 60, 120, 240, 480, 1440)


def status_name(value: int | None) -> str:
    return "unknown" if value is None else ("occupied" if value else "free")


def timeline_changes(
    seed: tuple[int, int] | None,
    first: tuple[int, int] | None,
    diffs: Iterable[tuple[int, int]],
    limit: int,
) -> tuple[list[dict[str, str]], int | None]:
    """Status changes (the first reading if it differs from the seed, then every change).

    Returns at most ``limit`` changes and the time of the next one if there are more.
    """
    changes: list[tuple[int, int]] = []
    if first is not None and (seed is None or seed[1] != first[1]):
        changes.append(first)
    changes.extend((t, 1 if d > 0 else 0) for t, d in diffs if d)
    next_ns = changes[limit][0] if len(changes) > limit else None
    return [{"time": ns_to_rfc3339(t), "status": status_name(v)} for t, v in changes[:limit]], next_ns


# ---------------------------------------------------------------- dwell times


@dataclass
class VisitTracker:
    """Pairs arrivals (free -> occupied) in ``[start, end)`` with the bay's next departure.

    Feed each bay's seed once, then per chunk (in time order) its first reading and its changes.
    """

    start_ns: int
    end_ns: int
    states: dict[str, int] = field(default_factory=dict)
    arrived: dict[str, int] = field(default_factory=dict)
    durations_ns: list[int] = field(default_factory=list)
    changes: int = 0

    def seed(self, bay: str, value: int) -> None:
        self.states[bay] = value

    def reading(self, bay: str, t: int, value: int) -> None:
        previous = self.states.get(bay)
        self.states[bay] = value
        if previous is None or previous == value:
            return
        self.changes += 1
        if value == 1:
            if self.start_ns <= t < self.end_ns:
                self.arrived[bay] = t
        else:
            began = self.arrived.pop(bay, None)
            if began is not None:
                self.durations_ns.append(t - began)

    def chunk(self, core: Core, transitions: Mapping[str, Sequence[tuple[int, int]]]) -> None:
        bays = set(core.firsts) | set(transitions)
        for bay in sorted(bays):
            first = core.firsts.get(bay)
            if first is not None:
                self.reading(bay, *first)
            for t, d in transitions.get(bay, ()):
                self.reading(bay, t, 1 if d > 0 else 0)

    @property
    def open_visits(self) -> int:
        return len(self.arrived)


def parse_transitions(series: Iterable[Series]) -> dict[str, list[tuple[int, int]]]:
    result: dict[str, list[tuple[int, int]]] = {}
    for s in series:
        if s.columns == ["time", "d"]:
            result.setdefault(s.tags.get("bay", ""), []).extend(
                (int(t), int(d)) for t, d in s.values if d is not None
            )
    return result


def dwell_summary(durations_ns: Sequence[int], open_visits: int) -> dict[str, Any]:
    minutes = sorted(d / MINUTE_NS for d in durations_ns)
    edges = DWELL_BIN_EDGES_MIN
    bins = []
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else None
        upper = len(minutes) if high is None else bisect.bisect_left(minutes, high)
        count = upper - bisect.bisect_left(minutes, low)
        bins.append({"from_min": low, "to_min": high, "count": count})
    return {
        "visits": len(minutes),
        "open": open_visits,
        "mean_min": statistics.fmean(minutes) if minutes else None,
        "median_min": statistics.median(minutes) if minutes else None,
        "bins": bins,
    }
