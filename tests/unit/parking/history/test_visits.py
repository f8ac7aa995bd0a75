"""A bay's timeline and the visits behind dwell times."""

from __future__ import annotations

from datetime import UTC, datetime

from parking.events import datetime_to_ns
from parking.history.sums import (
    Core,
)
from parking.history.visits import VisitTracker, dwell_summary, timeline_changes
from parking.history.windows import HOUR_NS, MINUTE_NS


def ns(text: str) -> int:
    return datetime_to_ns(datetime.fromisoformat(text).replace(tzinfo=UTC))


START = ns("2026-03-02T10:00:00")


def test_timeline_collapses_repeats_and_pages() -> None:
    changes, nxt = timeline_changes((0, 0), (100, 0), [(200, 1), (300, -1), (400, 1)], limit=2)
    assert [c["status"] for c in changes] == ["occupied", "free"]
    assert nxt == 400
    changes, nxt = timeline_changes(None, (100, 1), [], limit=5)
    assert changes == [{"time": "1970-01-01T00:00:00.000Z", "status": "occupied"}] and nxt is None


def test_visits_pair_arrivals_with_departures() -> None:
    start, end = ns("2026-03-02T09:00:00"), ns("2026-03-02T15:00:00")
    m = MINUTE_NS
    tracker = VisitTracker(start, end)
    tracker.seed("A01", 0)
    tracker.seed("A03", 0)
    core = Core(firsts={"A01": (start, 0), "A02": (start + 120 * m, 1), "A03": (start + 10 * m, 0)})
    transitions = {
        "A01": [(start + 60 * m, 1), (start + 90 * m, -1), (start + 180 * m, 1), (start + 300 * m, -1)],
        "A02": [(start + 150 * m, -1), (start + 300 * m, 1)],
        "A03": [(start + 350 * m, 1)],
    }
    tracker.chunk(core, transitions)
    # A02's first arrival is unknown (no earlier reading); its second leaves the next morning.
    tracker.chunk(Core(), {"A02": [(start + 300 * m + 1140 * m, -1)]})
    summary = dwell_summary(tracker.durations_ns, tracker.open_visits)
    assert sorted(d // m for d in tracker.durations_ns) == [30, 120, 1140]
    assert summary["visits"] == 3 and summary["open"] == 1
    assert summary["mean_min"] == 430 and summary["median_min"] == 120
    counts = {(b["from_min"], b["to_min"]): b["count"] for b in summary["bins"]}
    assert counts[(30, 60)] == counts[(120, 240)] == counts[(480, 1440)] == 1
    assert sum(counts.values()) == 3
    assert summary["bins"][-1] == {"from_min": 1440, "to_min": None, "count": 0}


def test_arrivals_before_the_range_are_not_visits() -> None:
    start = ns("2026-03-02T09:00:00")
    tracker = VisitTracker(start, start + HOUR_NS)
    tracker.seed("A", 0)
    tracker.reading("A", start - 1, 1)
    tracker.reading("A", start + 10, 0)
    assert tracker.durations_ns == [] and tracker.open_visits == 0
    assert dwell_summary([], 0)["median_min"] is None
