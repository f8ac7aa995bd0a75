"""The fleet worker's evaluations (``parking.fleet.worker``): a job carries only what changed, an
update only the bays whose facts or problems changed, and a lost session is said (pure, no servers)."""

from __future__ import annotations

import asyncio
import pickle

from api.fleet import Sent
from parking.events import BayStatus
from parking.fleet.evaluation import BayHealth, SiteHealth, evaluate
from parking.fleet.gather import SiteLayout, SlowFacts, assemble
from parking.fleet.incremental import vouched
from parking.fleet.rules import HOUR_NS, SECOND_NS, BayFacts, Problem, ProblemCode, Thresholds, Trend
from parking.fleet.worker import SiteEvaluator, SiteJob, bay_health, bay_row, evaluator_for, state_row
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parking.state import BayState

NOW = 1_800_000_000 * SECOND_NS
SHOWROOM = load_registry(DEFAULT_SITES_DIR).sites["showroom"]
SLOW = SlowFacts(read_ns=NOW)


def states(at: int) -> list[BayState]:
    return [BayState("showroom", b, BayStatus.FREE, at - HOUR_NS, at - 60 * SECOND_NS) for b in SHOWROOM.bays]


def job(
    session: int, rows: list[BayState], now: int = NOW, counts: dict[str, int] | None = None, **more: object
) -> SiteJob:
    return SiteJob(
        "showroom",
        session,
        now,
        [state_row(s) for s in rows],
        counts,
        {},
        Thresholds(),
        900 * SECOND_NS,
        6 * HOUR_NS,
        **more,  # type: ignore[arg-type]
    )


def test_an_update_brings_the_changed_bays_and_applied_gives_the_whole_report() -> None:
    live = states(NOW)
    evaluator = SiteEvaluator(1, SiteLayout.of(SHOWROOM), None)
    held = Sent(1, SHOWROOM, 0, {s.bay: s for s in live})
    first = evaluator.step(job(1, live, layout=SiteLayout.of(SHOWROOM)), SLOW, {})
    assert len(first.changed) == len(SHOWROOM.bays)
    asyncio.run(held.apply(first))

    later = NOW + 60 * SECOND_NS
    flapping = BayState("showroom", "A02", BayStatus.OCCUPIED, later, later)
    live = [flapping if s.bay == "A02" else s for s in live]
    fresh = held.changed(live)
    update = evaluator.step(job(1, fresh, later), SLOW, {"A02": 30})
    held.taken(fresh, 1)

    # Only A02 changed: its zone's healthy bays are not sent again (parking/fleet/incremental.py).
    assert [s.bay for s in fresh] == ["A02"] and [row[0][1] for row in update.changed] == ["A02"]
    whole = evaluate(
        SHOWROOM, assemble(SHOWROOM, live, {"A02": 30}, SLOW, {}), SLOW, Thresholds(), later, None
    )
    assert vouched(asyncio.run(held.apply(update))) == vouched(whole)
    assert [(c["change"], c["bay"], c["code"]) for c in update.raised_cleared] == [
        ("raised", "A02", "flapping")
    ]


def test_a_process_without_the_session_says_so() -> None:
    assert evaluator_for(job(10**9, [])) is None
    assert evaluator_for(job(10**9, [], layout=SiteLayout.of(SHOWROOM))) is not None


def test_a_new_session_keeps_the_problems_starts_and_raises_nothing_again() -> None:
    found = Problem("flapping", NOW - HOUR_NS, "de", "en")
    before = evaluate(
        SHOWROOM, assemble(SHOWROOM, states(NOW), {"A02": 30}, SLOW, {}), SLOW, Thresholds(), NOW, None
    )
    previous = SiteHealth("showroom", NOW, before.bays, [], before.counts)
    previous.bays[1] = type(previous.bays[1])(previous.bays[1].facts, [found])
    evaluator = SiteEvaluator(2, SiteLayout.of(SHOWROOM), previous.with_problems_only())
    update = evaluator.step(job(2, states(NOW), layout=SiteLayout.of(SHOWROOM)), SLOW, {"A02": 30})
    a02 = next(bay_health(row) for row in update.changed if row[0][1] == "A02")
    assert [p.since_ns for p in a02.problems] == [NOW - HOUR_NS] and update.raised_cleared == []


def test_jobs_and_updates_can_be_sent_to_another_process() -> None:
    sent = job(3, states(NOW), layout=SiteLayout.of(SHOWROOM))
    update = SiteEvaluator(3, SiteLayout.of(SHOWROOM), None).step(sent, SLOW, {"A02": 30})
    assert pickle.loads(pickle.dumps(sent)) == sent
    assert pickle.loads(pickle.dumps(update)) == update


def test_a_bay_sent_as_plain_tuples_comes_back_the_same() -> None:
    facts = BayFacts(
        "showroom",
        "A01",
        "A",
        "dev-1",
        "bosch-pls",
        BayStatus.OCCUPIED,
        NOW - HOUR_NS,
        NOW - 60 * SECOND_NS,
        3,
        3.41,
        41.0,
        Trend(3.4, -0.01, 9),
        Trend(41.0, -0.5, 8),
        -101.0,
        4.5,
        17,
        7,
        "bad_frame",
        NOW - 2 * HOUR_NS,
    )
    bay = BayHealth(facts, [Problem(ProblemCode.REJECTED, NOW, "de", "en")])
    back = bay_health(bay_row(bay))
    assert back == bay and back.problems[0].code is ProblemCode.REJECTED


def test_a_job_with_no_read_due_needs_no_influxdb() -> None:
    evaluator = SiteEvaluator(4, SiteLayout.of(SHOWROOM), None)
    first = job(4, states(NOW), counts={}, layout=SiteLayout.of(SHOWROOM))
    assert evaluator.without_reads(first) is None  # the slow facts were never read
    evaluator.slow = SLOW
    assert evaluator.without_reads(job(4, [], NOW + 60 * SECOND_NS, counts={})) is not None
    assert evaluator.without_reads(job(4, [], NOW + 60 * SECOND_NS)) is None  # counts to be read
    assert evaluator.without_reads(job(4, [], NOW + 901 * SECOND_NS, counts={})) is None  # slow read due
