"""What the fleet monitor tells the webhook, and how it joins the facts (pure parts, no servers)."""

from __future__ import annotations

from collections.abc import Iterable

from api.fleet import BayHealth, SiteHealth, changes, evaluate, webhook_messages
from parking.events import BayStatus
from parking.fleet.gather import SlowFacts, assemble, daily_swing, status_since
from parking.fleet.rules import DAY_NS, HOUR_NS, BayFacts, Problem, SiteProblemCode, Thresholds
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parking.state import BayState

NOW = 1_800_000_000 * 1_000_000_000
SHOWROOM = load_registry(DEFAULT_SITES_DIR).sites["showroom"]


def health(bays: dict[str, list[str]], site_codes: tuple[str, ...] = ()) -> SiteHealth:
    def problems(codes: Iterable[str]) -> list[Problem]:
        return [Problem(code, NOW, "de", "en") for code in codes]

    return SiteHealth(
        "showroom",
        NOW,
        [BayHealth(BayFacts("showroom", bay), problems(codes)) for bay, codes in bays.items()],
        problems(site_codes),
    )


def test_the_first_report_raises_every_problem() -> None:
    found = changes(None, health({"A01": ["silent"], "A02": []}))
    assert [(c["change"], c["bay"], c["code"]) for c in found] == [("raised", "A01", "silent")]


def test_problems_gained_and_lost_between_reports_are_raised_and_cleared() -> None:
    before = health({"A01": ["silent"], "A02": ["flapping"]})
    after = health({"A01": [], "A02": ["flapping", "battery_low"]}, (SiteProblemCode.REPORTING_DROP,))
    found = {(c["change"], c["bay"], c["code"]) for c in changes(before, after)}
    assert found == {
        ("cleared", "A01", "silent"),
        ("raised", "A02", "battery_low"),
        ("raised", None, "reporting_drop"),
    }


def test_a_big_change_is_sent_in_several_messages() -> None:
    found = [{"n": i} for i in range(1200)]
    messages = list(webhook_messages("city", NOW, True, found))
    assert [len(m["changes"]) for m in messages] == [500, 500, 200]
    assert all(m["initial"] and m["site"] == "city" for m in messages)


def test_a_status_begins_at_the_change_found_in_influxdb_not_at_the_last_reading() -> None:
    # After a restart the live state's since is only the latest reading's time.
    state = BayState("showroom", "A01", BayStatus.OCCUPIED, NOW - HOUR_NS, NOW - HOUR_NS)
    slow = SlowFacts(read_ns=NOW, changed_ns={"A01": NOW - 80 * HOUR_NS})
    assert status_since(state, slow) == NOW - 80 * HOUR_NS


def test_a_change_after_the_slow_read_wins() -> None:
    state = BayState("showroom", "A01", BayStatus.FREE, NOW + 60 * 10**9, NOW + 60 * 10**9)
    slow = SlowFacts(read_ns=NOW, changed_ns={"A01": NOW - 80 * HOUR_NS})
    assert status_since(state, slow) == NOW + 60 * 10**9


def test_without_a_change_in_the_window_the_status_holds_since_the_first_reading() -> None:
    state = BayState("showroom", "A01", BayStatus.FREE, NOW - HOUR_NS, NOW - HOUR_NS)
    slow = SlowFacts(read_ns=NOW, first_ns={"A01": NOW - 10 * DAY_NS})
    assert status_since(state, slow) == NOW - 10 * DAY_NS


def test_a_bay_is_compared_with_the_latest_change_of_the_other_bays_of_its_zone() -> None:
    states = [
        BayState("showroom", bay, BayStatus.FREE, NOW - minutes * 60 * 10**9, NOW)
        for bay, minutes in (("A01", 5), ("A02", 50), ("A03", 500), ("B01", 1))
    ]
    states += [BayState("showroom", b) for b in SHOWROOM.bays if b not in {"A01", "A02", "A03", "B01"}]
    facts = {f.bay: f for f in assemble(SHOWROOM, states, {}, SlowFacts(read_ns=0), {})}
    assert facts["A01"].zone_last_change_ns == NOW - 50 * 60 * 10**9  # not its own change
    assert facts["A02"].zone_last_change_ns == NOW - 5 * 60 * 10**9
    assert facts["B01"].zone_last_change_ns is None  # no other bay of zone B has spoken
    assert facts["A01"].device == "showroom-pls-01" and facts["A01"].codec == "bosch-pls"


def test_the_daily_swing_is_the_highest_minus_the_lowest_hour_of_whole_days() -> None:
    end = NOW - NOW % HOUR_NS
    hourly = {end - (48 - h) * HOUR_NS: (0.8 if h % 24 == 12 else 0.6) for h in range(48)}
    assert [round(v, 2) for _, v in daily_swing(hourly, end)] == [0.2, 0.2]


def test_an_evaluation_covers_every_bay() -> None:
    states = [BayState("showroom", b) for b in SHOWROOM.bays]
    facts = assemble(SHOWROOM, states, {}, SlowFacts(read_ns=0), {})
    report = evaluate(SHOWROOM, facts, SlowFacts(read_ns=0), Thresholds(), NOW, None)
    assert len(report.bays) == len(SHOWROOM.bays) and report.counts["silent"] == len(SHOWROOM.bays)
