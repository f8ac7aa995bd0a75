"""The sensors of a simulated site are judged in simulated time (parking.fleet.rules.in_simulated_time)."""

from __future__ import annotations

from parking.events import BayStatus
from parking.fleet.rules import (
    HOUR_NS,
    SECOND_NS,
    BayFacts,
    Thresholds,
    evaluate_bay,
    flapping,
    in_simulated_time,
    silent,
)

NOW = 1_800_000_000 * SECOND_NS
MINUTE_NS = 60 * SECOND_NS
AT_60X = in_simulated_time(Thresholds(), speed=60.0, heartbeat_s=3600.0)


def bay(**facts: object) -> BayFacts:
    defaults: dict[str, object] = {"status": BayStatus.FREE, "since_ns": NOW - MINUTE_NS, "last_seen_ns": NOW}
    return BayFacts("showroom", "A01", "A", **(defaults | facts))  # type: ignore[arg-type]


def test_two_missed_simulated_heartbeats_are_silent_after_two_minutes_at_60x() -> None:
    assert silent(bay(last_seen_ns=NOW - 110 * SECOND_NS), AT_60X, NOW) is None
    found = silent(bay(last_seen_ns=NOW - 3 * MINUTE_NS), AT_60X, NOW)
    assert found is not None and found.since_ns == NOW - MINUTE_NS
    assert "3 min" in found.message_de and "simulated site, 60× time" in found.message_en


def test_a_busy_simulated_bay_is_not_flapping_but_a_toggling_one_is() -> None:
    # A bay changing twice a simulated hour changes twice in the one-minute window at 60x.
    assert flapping(bay(changes_last_hour=2), AT_60X, NOW) is None
    found = flapping(bay(changes_last_hour=60), AT_60X, NOW)
    assert found is not None and "1 min (a simulated hour)" in found.message_en


def test_stuck_after_72_simulated_hours_while_the_zone_changes() -> None:
    held = bay(status=BayStatus.OCCUPIED, since_ns=NOW - 73 * MINUTE_NS, zone_last_change_ns=NOW - MINUTE_NS)
    assert [p.code for p in evaluate_bay(held, AT_60X, NOW)] == ["stuck"]
    assert [p.code for p in evaluate_bay(held, Thresholds(), NOW)] == []


def test_battery_and_site_figures_keep_real_days() -> None:
    defaults = Thresholds()
    assert (AT_60X.battery_empty_days, AT_60X.swing_shrink_ratio) == (defaults.battery_empty_days, 0.5)
    assert in_simulated_time(defaults, 60.0, None).silent_after_s * 60 == defaults.silent_after_s
    assert AT_60X.flapping_window_s * 60 * SECOND_NS == HOUR_NS
