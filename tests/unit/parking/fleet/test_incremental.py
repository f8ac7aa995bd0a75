"""Evaluations one after another (``parking.fleet.incremental``) give what a whole evaluation of the
same inputs gives, while judging again only the bays that need it (pure, no servers)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from parking.events import BayStatus
from parking.fleet.deadletters import Refusal
from parking.fleet.evaluation import BayHealth, SiteHealth, evaluate
from parking.fleet.gather import SiteLayout, SlowFacts, assemble
from parking.fleet.incremental import SiteBook, differing, vouched
from parking.fleet.rules import HOUR_NS, SECOND_NS, Thresholds, Trend
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parking.state import BayState

NOW = 1_800_000_000 * SECOND_NS
SHOWROOM = load_registry(DEFAULT_SITES_DIR).sites["showroom"]
LAYOUT = SiteLayout.of(SHOWROOM)
# Short limits, so that a run of a few days crosses every deadline many times.
SHORT = Thresholds(
    silent_after_s=3 * 3600.0, stuck_occupied_s=5 * 3600.0, stuck_free_s=8 * 3600.0, zone_active_s=4 * 3600.0
)


def fresh_states(rng: random.Random, now: int) -> list[BayState]:
    return [random_state(rng, bay, now) for bay in SHOWROOM.bays]


def random_state(rng: random.Random, bay: str, now: int) -> BayState:
    status = rng.choice([BayStatus.FREE, BayStatus.OCCUPIED, BayStatus.UNKNOWN])
    seen = None if rng.random() < 0.05 else now - rng.randrange(0, 5 * HOUR_NS)
    since = None if seen is None or rng.random() < 0.1 else seen - rng.randrange(0, 10 * HOUR_NS)
    volts = None if rng.random() < 0.5 else rng.uniform(3.0, 3.7)
    return BayState("showroom", bay, status, since, seen, volts, None)


def random_slow(rng: random.Random, now: int) -> SlowFacts:
    bays = list(SHOWROOM.bays)
    return SlowFacts(
        read_ns=now,
        changed_ns={b: now - rng.randrange(0, 20 * HOUR_NS) for b in rng.sample(bays, 6)},
        first_ns={b: now - rng.randrange(0, 20 * HOUR_NS) for b in rng.sample(bays, 6)},
        radio={
            b: (rng.uniform(-130, -80), rng.uniform(-20, 10), rng.randrange(0, 9))
            for b in rng.sample(bays, 8)
        },
        battery_v={
            b: (rng.uniform(3.1, 3.6), Trend(3.4, -rng.uniform(0, 0.05), 5)) for b in rng.sample(bays, 5)
        },
    )


def random_counts(rng: random.Random) -> dict[str, int]:
    return {b: rng.choice([1, 3, 25]) for b in rng.sample(list(SHOWROOM.bays), rng.randrange(0, 5))}


def random_refusals(rng: random.Random, now: int) -> dict[str, tuple[int, Refusal]]:
    bays = rng.sample(list(SHOWROOM.bays), rng.randrange(0, 3))
    return {b: (rng.choice([2, 9]), Refusal("showroom", b, "bad_schema", "", now)) for b in bays}


@pytest.mark.parametrize("seed", range(12))
def test_each_step_gives_the_report_of_a_whole_evaluation(seed: int) -> None:
    rng = random.Random(seed)
    now = NOW
    live = {s.bay: s for s in fresh_states(rng, now)}
    slow, counts, refusals = random_slow(rng, now), random_counts(rng), random_refusals(rng, now)
    thresholds, simulated, real = SHORT, None, frozenset[str]()
    book = SiteBook(LAYOUT)
    sent = list(live.values())
    whole: SiteHealth | None = None
    held: dict[str, BayHealth] = {}
    for _ in range(60):
        report, changed = book.step(sent, counts, refusals, slow, thresholds, now, simulated, real)
        facts = assemble(SHOWROOM, live.values(), counts, slow, refusals)
        whole = evaluate(SHOWROOM, facts, slow, thresholds, now, whole, simulated, real)
        assert vouched(report) == vouched(whole)
        # What the API holds, updated with the changed bays only, is the whole report.
        held.update((b.facts.bay, b) for b in changed)
        assert [held[b] for b in live] == report.bays

        now += rng.choice([SECOND_NS, 10 * 60 * SECOND_NS, HOUR_NS, 3 * HOUR_NS])
        sent = [random_state(rng, b, now) for b in rng.sample(list(live), rng.randrange(0, 4))]
        live.update((s.bay, s) for s in sent)
        if rng.random() < 0.3:
            counts = random_counts(rng)
        if rng.random() < 0.2:
            refusals = random_refusals(rng, now)
        if rng.random() < 0.15:
            slow = random_slow(rng, now)
        if rng.random() < 0.1:  # a live simulator starts, or changes speed
            simulated = replace(SHORT, silent_after_s=rng.choice([600.0, 7200.0]), time_scale=60.0)
            real = frozenset(rng.sample(list(live), 2))


def test_a_healthy_bay_is_judged_again_only_when_its_deadline_passes() -> None:
    seen = NOW - HOUR_NS
    live = [BayState("showroom", b, BayStatus.FREE, seen, seen) for b in SHOWROOM.bays]
    book = SiteBook(LAYOUT)
    book.step(live, {}, {}, SlowFacts(read_ns=NOW), SHORT, NOW)
    before_deadline = seen + int(SHORT.silent_after_s * SECOND_NS)
    report, changed = book.step([], {}, {}, book._inputs[0], SHORT, before_deadline)  # type: ignore[index]
    assert changed == [] and report.counts["silent"] == 0
    report, changed = book.step([], {}, {}, book._inputs[0], SHORT, before_deadline + 1)  # type: ignore[index]
    assert len(changed) == len(SHOWROOM.bays) and report.counts["silent"] == len(SHOWROOM.bays)


def test_a_change_elsewhere_in_its_zone_does_not_send_a_settled_bay_again() -> None:
    seen = NOW - HOUR_NS
    live = [BayState("showroom", b, BayStatus.FREE, seen, seen) for b in SHOWROOM.bays]
    book = SiteBook(LAYOUT)
    slow = SlowFacts(read_ns=NOW)
    book.step(live, {}, {}, slow, SHORT, NOW)
    a02 = BayState("showroom", "A02", BayStatus.OCCUPIED, NOW + 1, NOW + 1)
    _, changed = book.step([a02], {"A02": 1}, {}, slow, SHORT, NOW + 1)
    assert [b.facts.bay for b in changed] == ["A02"]


def test_differing_keys_include_those_only_one_side_has() -> None:
    assert differing({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {"a", "b", "c"}
