"""How simulated history is marked in InfluxDB, and which simulated day a chart shows."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from parking.simulated import (
    MARKER,
    BackfillRecord,
    covered_until,
    local_midnight_ns,
    marker_line,
    parse_markers,
    reference_day,
)
from parking.store import Series

BERLIN = ZoneInfo("Europe/Berlin")


def kind(day: date) -> str:
    return "saturday" if day.weekday() == 5 else "sunday" if day.weekday() == 6 else "weekday"


def record(start: date, end_ns: int) -> BackfillRecord:
    return BackfillRecord("town", local_midnight_ns(start, BERLIN), end_ns, 10, 1, "town-centre")


def test_a_marker_is_one_point_per_backfill_with_its_span() -> None:
    line = marker_line(BackfillRecord("town", 5, 9, 3, 1, "town-centre"))
    assert (
        line
        == 'simulated_history,site=town start_ns=5i,end_ns=9i,readings=3i,seed=1i,scenario="town-centre" 9'
    )


def test_markers_and_the_last_reading_are_read_back() -> None:
    series = [
        Series(
            MARKER, {}, ["time", "start_ns", "end_ns", "readings", "seed", "scenario"], [[9, 5, 9, 3, 1, "t"]]
        ),
        Series("bay_status", {}, ["time", "last"], [[12, 1]]),
    ]
    records, last = parse_markers(series, "town")
    assert records == [BackfillRecord("town", 5, 9, 3, 1, "t")]
    assert last == 12
    assert covered_until(records, last) == 13


def test_the_reference_is_the_latest_whole_simulated_day_of_the_same_kind() -> None:
    # Simulated from Monday 2026-11-02 to Saturday 2026-11-21 10:00 (that Saturday is not whole).
    end = local_midnight_ns(date(2026, 11, 21), BERLIN) + 10 * 3600 * 10**9
    records = [record(date(2026, 11, 2), end)]
    assert reference_day(records, date(2026, 11, 21), BERLIN, kind) == date(2026, 11, 14)
    assert reference_day(records, date(2026, 11, 20), BERLIN, kind) == date(2026, 11, 20)
    assert reference_day(records, date(2026, 11, 22), BERLIN, kind) == date(2026, 11, 15)


def test_without_a_day_of_that_kind_the_latest_whole_day_is_shown() -> None:
    records = [record(date(2026, 11, 17), local_midnight_ns(date(2026, 11, 19), BERLIN))]
    assert reference_day(records, date(2026, 11, 21), BERLIN, kind) == date(2026, 11, 18)


def test_without_a_whole_simulated_day_there_is_no_reference() -> None:
    start = local_midnight_ns(date(2026, 11, 17), BERLIN) + 3600 * 10**9
    records = [BackfillRecord("town", start, start + 20 * 3600 * 10**9, 1, 1, "t")]
    assert reference_day(records, date(2026, 11, 21), BERLIN, kind) is None
