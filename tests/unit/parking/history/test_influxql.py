"""The InfluxQL text of the history queries: scopes, the core query, the rollup query."""

from __future__ import annotations

import pytest

from parking.history.influxql import Scope, bay_regex, changes_statement, core_query, rollup_query
from parking.history.windows import (
    DAY_NS,
    HOUR_NS,
    MINUTE_NS,
    WEEK_NS,
)


def test_bay_regex_is_anchored_and_escaped() -> None:
    assert bay_regex(["B-2", "A01", "A01"]) == "/^(?:A01|B-2)$/"
    with pytest.raises(ValueError, match="not a valid bay name"):
        bay_regex(["A01|.*"])
    with pytest.raises(ValueError, match="at least one"):
        bay_regex([])


def test_scope_conditions() -> None:
    assert Scope("showroom").condition() == "\"site\" = 'showroom'"
    assert Scope("showroom", ("A01", "A02")).condition() == (
        '"site" = \'showroom\' AND "bay" =~ /^(?:A01|A02)$/'
    )
    assert Scope("showroom", ("A01",), exclude=True).condition() == (
        '"site" = \'showroom\' AND "bay" !~ /^(?:A01)$/'
    )
    assert Scope("it's", ()).condition() == "\"site\" = 'it\\'s' AND \"bay\" = ''"


def test_core_query_has_seed_first_and_per_minute_changes() -> None:
    q = core_query(Scope("s"), 10 * DAY_NS, 11 * DAY_NS, readings=True)
    statements = q.split("; ")
    assert len(statements) == 4
    assert statements[0].startswith("SELECT last(occupied) AS seed")
    assert f"time >= {9 * DAY_NS} AND time < {10 * DAY_NS} GROUP BY bay" in statements[0]
    assert statements[1].startswith("SELECT first(occupied) AS first")
    assert statements[2] == changes_statement(Scope("s"), 10 * DAY_NS, 11 * DAY_NS)
    assert "GROUP BY time(60000000000ns) fill(none)" in statements[2]
    # No fill() inside a subquery: InfluxDB 1.x merges filled series wrongly (influxdb#9049).
    assert "fill(previous)" not in q
    assert statements[3].startswith("SELECT count(occupied) AS readings")


def test_rollup_query_uses_monday_weeks_the_zone_tag_and_only_the_fields_asked() -> None:
    q = rollup_query("s", None, 0, WEEK_NS * 4, WEEK_NS)
    assert q.startswith("SELECT sum(occupied) AS occupied, sum(samples) AS samples, max(reporting)")
    assert "FROM site_occupancy_1h" in q
    assert f"GROUP BY time({WEEK_NS}ns, {4 * DAY_NS}ns) fill(none)" in q
    assert "\"zone\" = ''" in q
    fine = rollup_query("s", "Süd", 0, DAY_NS, 15 * MINUTE_NS, step_ns=5 * MINUTE_NS, fields=["arrivals"])
    assert fine.startswith("SELECT sum(arrivals) AS arrivals FROM site_occupancy_5m")
    assert "\"zone\" = 'Süd'" in fine


def test_core_query_without_seeds_for_the_tail_after_the_rollup() -> None:
    q = core_query(Scope("s"), 0, HOUR_NS, seeds=False, lasts=True)
    assert "AS seed" not in q
    assert q.split("; ")[-1].startswith("SELECT last(occupied) AS last")


def test_scope_covers() -> None:
    assert Scope("s").covers("X")
    assert Scope("s", ("A",)).covers("A") and not Scope("s", ("A",)).covers("B")
    assert Scope("s", ("A",), exclude=True).covers("B") and not Scope("s", ("A",), exclude=True).covers("A")
