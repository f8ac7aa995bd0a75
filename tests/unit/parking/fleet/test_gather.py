"""How the facts of a site's bays are joined (``parking.fleet.gather``; pure, no servers)."""

from __future__ import annotations

from parking.events import BayStatus
from parking.fleet.deadletters import Refusal
from parking.fleet.gather import SiteBays, SiteLayout, SlowFacts, assemble, parse_change_times, zone_latest
from parking.fleet.rules import DAY_NS, HOUR_NS, SECOND_NS, BayFacts, Trend
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parking.state import BayState
from parking.store import Series

NOW = 1_800_000_000 * SECOND_NS
SHOWROOM = load_registry(DEFAULT_SITES_DIR).sites["showroom"]


def test_every_fact_comes_from_its_source() -> None:
    # Every field a distinct value, so a fact taken from the wrong place (or out of order) shows.
    state = BayState("showroom", "A01", BayStatus.OCCUPIED, NOW - HOUR_NS, NOW - 60 * SECOND_NS, None, 41.0)
    volts, percent = Trend(3.4, -0.01, 9), Trend(41.0, -0.5, 8)
    slow = SlowFacts(
        read_ns=NOW,
        changed_ns={"A01": NOW - 5 * HOUR_NS},
        radio={"A01": (-101.0, 4.5, 17)},
        battery_v={"A01": (3.41, volts)},
        battery_pct={"A01": (43.0, percent)},
    )
    refusals = {"A01": (7, Refusal("showroom", "A01", "bad_frame", "frame too short", NOW))}
    others = [BayState("showroom", "A02", BayStatus.FREE, NOW - 2 * HOUR_NS, NOW)]
    facts = list(SiteBays(SHOWROOM).assemble([state, *others], {"A01": 3}, slow, refusals))
    assert facts[0] == BayFacts(
        site="showroom",
        bay="A01",
        zone="A",
        device="showroom-pls-01",
        codec="bosch-pls",
        status=BayStatus.OCCUPIED,
        since_ns=NOW - 5 * HOUR_NS,
        last_seen_ns=NOW - 60 * SECOND_NS,
        changes_last_hour=3,
        battery_v=3.41,  # the live state knows none yet: the stored daily mean
        battery_pct=41.0,  # the live reading wins over the stored one
        battery_v_trend=volts,
        battery_pct_trend=percent,
        rssi_median=-101.0,
        snr_median=4.5,
        radio_messages=17,
        rejected=7,
        rejected_reason="bad_frame",
        zone_last_change_ns=NOW - 2 * HOUR_NS,
    )


def test_a_bay_without_stored_facts_gets_the_empty_ones() -> None:
    state = BayState("showroom", "A01", BayStatus.FREE, NOW - HOUR_NS, NOW)
    (facts,) = SiteBays(SHOWROOM).assemble([state], {}, SlowFacts(read_ns=NOW), {})
    assert (facts.changes_last_hour, facts.radio_messages, facts.rejected) == (0, 0, 0)
    assert facts.battery_v is None and facts.battery_v_trend is None and facts.rejected_reason is None


def test_bays_that_changed_at_the_same_moment_each_see_the_others_change() -> None:
    at = NOW - 10 * 60 * SECOND_NS
    states = [BayState("showroom", b, BayStatus.FREE, at, NOW) for b in ("A01", "A02")]
    states.append(BayState("showroom", "A03", BayStatus.FREE, NOW - DAY_NS, NOW))
    facts = {f.bay: f.zone_last_change_ns for f in assemble(SHOWROOM, states, {}, SlowFacts(read_ns=0), {})}
    assert facts == {"A01": at, "A02": at, "A03": at}


def test_a_bay_of_unknown_status_is_not_a_change_of_its_zone() -> None:
    states = [
        BayState("showroom", "A01", BayStatus.UNKNOWN, NOW - 60 * SECOND_NS, NOW),
        BayState("showroom", "A02", BayStatus.FREE, NOW - DAY_NS, NOW),
        BayState("showroom", "A03", BayStatus.OCCUPIED, NOW - 2 * DAY_NS, NOW),
    ]
    facts = {f.bay: f.zone_last_change_ns for f in assemble(SHOWROOM, states, {}, SlowFacts(read_ns=0), {})}
    assert facts == {"A01": NOW - DAY_NS, "A02": NOW - 2 * DAY_NS, "A03": NOW - DAY_NS}


def test_the_zones_latest_changes_taken_in_slices_are_those_of_one_pass() -> None:
    bays = list(SHOWROOM.bays)
    states = [
        BayState("showroom", b, (BayStatus.FREE, BayStatus.OCCUPIED)[i % 2], NOW - (i % 5) * HOUR_NS, NOW)
        for i, b in enumerate(bays)
    ]
    since = [s.since_ns for s in states]
    zones = SiteLayout.of(SHOWROOM).zones
    sliced: dict[str, tuple[int, str, int | None]] = {}
    for start in range(0, len(states), 3):
        zone_latest(zones, states[start : start + 3], since[start : start + 3], sliced)
    assert sliced == zone_latest(zones, states, since)


def test_stored_change_times_come_per_bay_oldest_first_to_the_millisecond() -> None:
    answer = [
        Series("bay_status", {"bay": "A01"}, ["time", "d"], [[NOW + 1_234_567, 1.0], [NOW - HOUR_NS, -1.0]]),
        Series("bay_status", {"bay": "A02"}, ["time", "d"], [[NOW, -1.0]]),
    ]
    assert parse_change_times(answer) == {"A01": [NOW - HOUR_NS, NOW + 1_000_000], "A02": [NOW]}
