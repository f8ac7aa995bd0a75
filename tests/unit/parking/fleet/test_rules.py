"""The fleet-health rules, one behaviour each, on hand-made facts (no servers, microseconds)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from parking.events import BayStatus
from parking.fleet.rules import (
    DAY_NS,
    HOUR_NS,
    BayFacts,
    Problem,
    ProblemCode,
    SiteFacts,
    SiteProblemCode,
    Thresholds,
    evaluate_bay,
    evaluate_site,
    fit_trend,
    keep_since,
)

NOW = 1_800_000_000 * 1_000_000_000
T = Thresholds()


def fine(**changes: object) -> BayFacts:
    """A healthy sensor: talked a minute ago, changed an hour ago, good battery and radio."""
    base: dict[str, object] = {
        "site": "s",
        "bay": "A01",
        "zone": "A",
        "device": "dev-1",
        "codec": "bosch-pls",
        "status": BayStatus.FREE,
        "since_ns": NOW - HOUR_NS,
        "last_seen_ns": NOW - 60 * 1_000_000_000,
        "changes_last_hour": 2,
        "battery_v": 3.6,
        "battery_v_trend": fit_trend([(NOW - d * DAY_NS, 3.6) for d in range(10, 0, -1)]),
        "rssi_median": -95.0,
        "snr_median": 7.0,
        "radio_messages": 40,
        "zone_last_change_ns": NOW - 600 * 1_000_000_000,
    }
    return BayFacts(**{**base, **changes})  # type: ignore[arg-type]


def codes(facts: BayFacts, thresholds: Thresholds = T) -> list[str]:
    return [p.code for p in evaluate_bay(facts, thresholds, NOW)]


def test_a_fine_sensor_has_no_problem() -> None:
    assert codes(fine()) == []


def test_silent_after_25_hours_without_any_message() -> None:
    problems = evaluate_bay(fine(last_seen_ns=NOW - 30 * HOUR_NS), T, NOW)
    assert [p.code for p in problems] == [ProblemCode.SILENT]
    assert problems[0].since_ns == NOW - 30 * HOUR_NS + 25 * HOUR_NS
    assert "30 h" in problems[0].message_de and "25 h" in problems[0].message_en


def test_not_silent_just_inside_the_interval() -> None:
    assert codes(fine(last_seen_ns=NOW - 24 * HOUR_NS)) == []


def test_a_codec_can_have_its_own_interval() -> None:
    thresholds = Thresholds(silent_after_s_by_codec={"bosch-pls": 3600.0})
    assert codes(fine(last_seen_ns=NOW - 2 * HOUR_NS), thresholds) == [ProblemCode.SILENT]


def test_a_sensor_never_heard_is_silent_since_unknown() -> None:
    problems = evaluate_bay(fine(last_seen_ns=None, since_ns=None), T, NOW)
    assert [(p.code, p.since_ns) for p in problems] == [(ProblemCode.SILENT, None)]


def test_stuck_occupied_for_more_than_72_hours_while_the_zone_changes() -> None:
    problems = evaluate_bay(fine(status=BayStatus.OCCUPIED, since_ns=NOW - 80 * HOUR_NS), T, NOW)
    assert [p.code for p in problems] == [ProblemCode.STUCK]
    assert problems[0].since_ns == NOW - 8 * HOUR_NS


def test_not_stuck_when_the_whole_zone_is_quiet() -> None:
    facts = fine(status=BayStatus.OCCUPIED, since_ns=NOW - 80 * HOUR_NS, zone_last_change_ns=NOW - 3 * DAY_NS)
    assert codes(facts) == []


def test_free_for_a_week_is_not_stuck_but_for_15_days_it_is() -> None:
    assert codes(fine(since_ns=NOW - 7 * DAY_NS)) == []
    assert codes(fine(since_ns=NOW - 15 * DAY_NS)) == [ProblemCode.STUCK]


def test_a_silent_sensor_is_silent_not_stuck() -> None:
    facts = fine(status=BayStatus.OCCUPIED, since_ns=NOW - 80 * HOUR_NS, last_seen_ns=NOW - 30 * HOUR_NS)
    assert codes(facts) == [ProblemCode.SILENT]


def test_flapping_above_20_changes_an_hour() -> None:
    assert codes(fine(changes_last_hour=20)) == []
    assert codes(fine(changes_last_hour=21)) == [ProblemCode.FLAPPING]


def test_battery_low_below_3_2_volts() -> None:
    problems = evaluate_bay(fine(battery_v=3.1, battery_v_trend=None), T, NOW)
    assert [p.code for p in problems] == [ProblemCode.BATTERY_LOW]
    assert "3,10 V" in problems[0].message_de and "3.10 V" in problems[0].message_en


def test_battery_low_below_20_percent_where_only_percent_is_known() -> None:
    assert codes(fine(battery_v=None, battery_v_trend=None, battery_pct=15.0)) == [ProblemCode.BATTERY_LOW]


def test_a_codec_can_have_its_own_battery_threshold() -> None:
    thresholds = Thresholds(battery_low_v_by_codec={"bosch-pls": 3.0})
    assert codes(fine(battery_v=3.1, battery_v_trend=None), thresholds) == []


def test_battery_falling_when_the_trend_reaches_the_threshold_within_30_days() -> None:
    # 3.6 V falling 0.02 V a day reaches 3.2 V in 20 days.
    days = [(NOW - d * DAY_NS, 3.6 - 0.02 * (10 - d)) for d in range(10, -1, -1)]
    problems = evaluate_bay(fine(battery_v_trend=fit_trend(days), battery_v=days[-1][1]), T, NOW)
    assert [p.code for p in problems] == [ProblemCode.BATTERY_FALLING]
    assert "in 10 Tagen" in problems[0].message_de or "in 10 days" in problems[0].message_en


def test_a_slow_battery_decline_is_fine() -> None:
    days = [(NOW - d * DAY_NS, 3.6 - 0.001 * (10 - d)) for d in range(10, -1, -1)]
    assert codes(fine(battery_v_trend=fit_trend(days))) == []


def test_battery_trend_needs_three_days() -> None:
    days = [(NOW - DAY_NS, 3.6), (NOW, 3.3)]
    assert codes(fine(battery_v_trend=fit_trend(days), battery_v=3.3)) == []


def test_a_rising_battery_never_reaches_the_threshold() -> None:
    rising = fit_trend([(0, 3.0), (DAY_NS, 3.1), (2 * DAY_NS, 3.2)])
    assert rising is not None and rising.days_to(2.0) is None


def test_the_trend_is_the_least_squares_line_through_the_daily_means() -> None:
    falling = fit_trend([(0, 3.0), (DAY_NS, 2.85), (2 * DAY_NS, 2.8)])
    assert falling is not None
    assert falling.slope_per_day == pytest.approx(-0.1)
    assert falling.value == pytest.approx(2.7833, abs=1e-4)
    assert falling.days_to(2.0) == pytest.approx(7.833, abs=1e-3)


def test_weak_radio_when_the_median_rssi_is_below_minus_120() -> None:
    assert codes(fine(rssi_median=-124.0)) == [ProblemCode.WEAK_RADIO]


def test_weak_radio_when_the_median_snr_is_below_minus_15() -> None:
    assert codes(fine(snr_median=-17.5)) == [ProblemCode.WEAK_RADIO]


def test_weak_radio_needs_a_few_messages() -> None:
    assert codes(fine(rssi_median=-124.0, radio_messages=2)) == []


def test_rejected_when_more_than_five_messages_were_refused_in_a_day() -> None:
    assert codes(fine(rejected=5, rejected_reason="bad_frame")) == []
    problems = evaluate_bay(fine(rejected=6, rejected_reason="bad_frame"), T, NOW)
    assert [p.code for p in problems] == [ProblemCode.REJECTED]
    assert "bad_frame" in problems[0].message_en


def test_problems_come_in_the_order_of_the_codes() -> None:
    facts = fine(changes_last_hour=30, battery_v=3.0, battery_v_trend=None, rejected=9)
    assert codes(facts) == [ProblemCode.FLAPPING, ProblemCode.BATTERY_LOW, ProblemCode.REJECTED]


def test_a_problem_without_a_known_start_keeps_the_moment_it_was_first_found() -> None:
    first = keep_since([], evaluate_bay(fine(changes_last_hour=30), T, NOW), NOW)
    later = keep_since(first, evaluate_bay(fine(changes_last_hour=25), T, NOW + HOUR_NS), NOW + HOUR_NS)
    assert first[0].since_ns == NOW and later[0].since_ns == NOW


def test_a_never_heard_sensor_keeps_an_unknown_start() -> None:
    never = Problem(ProblemCode.SILENT, None, "", "")
    assert keep_since([never], [never], NOW)[0].since_ns is None


# ------------------------------------------------------------------ the site


def daily(values: Sequence[float]) -> list[tuple[int, float]]:
    return [(NOW - (len(values) - i) * DAY_NS, v) for i, v in enumerate(values)]


def test_a_site_whose_sensors_keep_reporting_is_fine() -> None:
    facts = SiteFacts([(t, int(v)) for t, v in daily([64] * 8)], daily([0.15] * 14))
    assert evaluate_site(facts, T, NOW) == []


def test_reporting_drop_when_far_fewer_sensors_sent_anything_on_the_last_day() -> None:
    # Mantova: 64 sensors, then 32.
    facts = SiteFacts([(t, int(v)) for t, v in daily([64, 64, 63, 64, 64, 64, 64, 32])])
    problems = evaluate_site(facts, T, NOW)
    assert [p.code for p in problems] == [SiteProblemCode.REPORTING_DROP]
    assert "32" in problems[0].message_de and "64" in problems[0].message_en


def test_one_sensor_fewer_is_no_drop() -> None:
    facts = SiteFacts([(t, int(v)) for t, v in daily([64] * 7 + [62])])
    assert evaluate_site(facts, T, NOW) == []


def test_swing_shrink_when_the_daily_swing_falls_like_mantovas() -> None:
    # Mantova: the daily swing fell from about 15 % to about 5 %.
    facts = SiteFacts(swing_per_day=daily([0.15] * 7 + [0.05] * 7))
    problems = evaluate_site(facts, T, NOW)
    assert [p.code for p in problems] == [SiteProblemCode.SWING_SHRINK]
    assert "5 %" in problems[0].message_de and "15%" in problems[0].message_en


def test_swing_needs_enough_days_to_compare() -> None:
    assert evaluate_site(SiteFacts(swing_per_day=daily([0.15] * 2 + [0.05] * 7)), T, NOW) == []
