"""The monitor judges a simulated site's bays in simulated time and its hands-on bays in real time."""

from __future__ import annotations

from api.fleet import evaluate
from parking.events import BayStatus
from parking.fleet.gather import SlowFacts
from parking.fleet.rules import SECOND_NS, BayFacts, Thresholds, in_simulated_time
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR

NOW = 1_800_000_000 * SECOND_NS
SHOWROOM = load_registry(DEFAULT_SITES_DIR).sites["showroom"]


def test_simulated_bays_use_simulated_time_and_real_bays_their_own() -> None:
    quiet = NOW - 10 * 60 * SECOND_NS  # ten minutes: two simulated heartbeats missed at 60x, nothing real
    facts = [BayFacts("showroom", b, "A", status=BayStatus.FREE, last_seen_ns=quiet) for b in ("A01", "A02")]
    simulated = in_simulated_time(Thresholds(), 60.0, 3600.0)
    report = evaluate(
        SHOWROOM, facts, SlowFacts(read_ns=NOW), Thresholds(), NOW, None, simulated, frozenset({"A02"})
    )
    assert {b.facts.bay: [p.code for p in b.problems] for b in report.bays} == {"A01": ["silent"], "A02": []}
