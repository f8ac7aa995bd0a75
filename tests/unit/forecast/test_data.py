"""Loading the back-test CSV: good rows are kept, each kind of faulty row is counted under its reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forecast.data import STUCK_READINGS, CsvError, load_csv
from tests.unit.forecast.synthetic import write_csv

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "occupancy"
GOOD = ["2026-01-05T10:00:00+01:00", "A", "10", "4"]


def _load(tmp_path: Path, rows: list[list[str]], header: list[str] | None = None):  # type: ignore[no-untyped-def]
    return load_csv(
        write_csv(tmp_path / "in.csv", rows, header or ["time", "place_id", "capacity", "occupied"])
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["2026-01-05 10:05:00", "A", "10", "4"], "bad_time"),  # no offset: which clock?
        (["yesterday", "A", "10", "4"], "bad_time"),
        (["2026-01-05T10:05:00Z", "A", "10", "four"], "bad_number"),
        (["2026-01-05T10:05:00Z", "A", "", "4"], "bad_number"),
        (["2026-01-05T10:05:00Z", "", "10", "4"], "missing_place"),
        (["2026-01-05T10:05:00Z", "A", "0", "0"], "capacity_zero"),
        (["2026-01-05T10:05:00Z", "A", "10", "-1"], "negative"),
        (["2026-01-05T10:05:00Z", "A", "10", "11"], "above_capacity"),
        (["2026-01-05T10:00:00+01:00", "A", "10", "5"], "duplicate"),
    ],
)
def test_a_faulty_row_is_counted_under_its_reason_and_the_good_row_kept(
    tmp_path: Path, row: list[str], reason: str
) -> None:
    loaded = _load(tmp_path, [GOOD, row])
    assert dict(loaded.faults) == {reason: 1}
    assert loaded.rows_read == 2 and loaded.rows_used == 1
    assert loaded.series[0].share.tolist() == [0.4]


def test_free_counts_become_the_occupied_share(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path, [["2026-01-05T10:00:00Z", "A", "10", "3"]], ["time", "place_id", "capacity", "free"]
    )
    assert loaded.series[0].share.tolist() == [0.7]


@pytest.mark.parametrize(("value", "reason"), [("1.2", "above_capacity"), ("-0.1", "negative")])
def test_a_share_outside_0_to_1_is_faulty(tmp_path: Path, value: str, reason: str) -> None:
    rows = [["2026-01-05T10:00:00Z", "A", "10", "0.5"], ["2026-01-05T10:05:00Z", "A", "10", value]]
    loaded = _load(tmp_path, rows, ["time", "place_id", "capacity", "occupancy"])
    assert dict(loaded.faults) == {reason: 1}


def test_free_above_capacity_is_faulty(tmp_path: Path) -> None:
    rows = [["2026-01-05T10:00:00Z", "A", "10", "12"]]
    with pytest.raises(CsvError, match="above_capacity 1"):
        _load(tmp_path, rows, ["time", "place_id", "capacity", "free"])


def test_a_value_frozen_for_a_day_is_a_stuck_feed_except_its_first_reading(tmp_path: Path) -> None:
    frozen = [[f"2026-01-05T{h:02d}:{m:02d}:00Z", "A", "10", "10"] for h in range(24) for m in (0, 30)]
    frozen.append(["2026-01-06T00:00:00Z", "A", "10", "10"])  # 24 h after the first: now it counts
    after = ["2026-01-06T00:30:00Z", "A", "10", "3"]
    loaded = _load(tmp_path, [*frozen, after])
    assert len(frozen) >= STUCK_READINGS
    assert dict(loaded.faults) == {"stuck": len(frozen) - 1}
    assert loaded.series[0].share.tolist() == [1.0, 0.3]


def test_a_value_unchanged_over_a_night_without_readings_is_not_stuck(tmp_path: Path) -> None:
    rows = [["2026-01-05T16:00:00Z", "A", "10", "2"], ["2026-01-07T08:00:00Z", "A", "10", "2"]]
    assert not _load(tmp_path, rows).faults


def test_rows_in_any_order_end_up_sorted_per_place(tmp_path: Path) -> None:
    rows = [
        ["2026-01-05T10:30:00Z", "B", "10", "1"],
        ["2026-01-05T10:00:00Z", "A", "10", "2"],
        ["2026-01-05T09:00:00+00:00", "A", "10", "3"],
    ]
    loaded = _load(tmp_path, rows)
    assert [s.place_id for s in loaded.series] == ["A", "B"]
    assert np.all(np.diff(loaded.series[0].times) > 0)


def test_local_time_follows_the_offset_written_or_the_zone_given(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [["2026-07-01T10:00:00Z", "A", "10", "1"]])
    as_written = load_csv(path).series[0]
    berlin = load_csv(path, tz="Europe/Berlin").series[0]
    assert as_written.local[0] - as_written.times[0] == 0
    assert berlin.local[0] - berlin.times[0] == 2 * 3600  # CEST


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("when,place_id,capacity,occupied\n", r"missing column\(s\) time"),
        (
            "time,place_id,capacity\n2026-01-05T10:00:00Z,A,10\n",
            "one of the columns occupied, free or occupancy",
        ),
        ("time,place_id,capacity,occupied\n", "no data rows"),
        ("time,place_id,capacity,occupied\n2026-01-05T10:00:00Z,A,0,0\n", "none of the 1 rows is usable"),
    ],
)
def test_a_file_that_cannot_be_used_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "in.csv"
    path.write_text(content)
    with pytest.raises(CsvError, match=message):
        load_csv(path)


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CsvError, match="unknown time zone"):
        load_csv(write_csv(tmp_path / "in.csv", [GOOD]), tz="Mars/Olympus")


def test_the_birmingham_excerpt_reports_its_known_faults() -> None:
    loaded = load_csv(FIXTURES / "birmingham-excerpt.csv")
    # BHMBCCTHL01 reports above its capacity 240 times, NIA North 12 negative counts (data README)
    assert loaded.faults["above_capacity"] == 240
    assert loaded.faults["negative"] == 12
    assert {s.place_id for s in loaded.series} == {"BHMBCCTHL01", "NIA North", "BHMEURBRD01"}


def test_the_mantova_excerpt_loses_its_frozen_days() -> None:
    loaded = load_csv(FIXTURES / "mantova-excerpt.csv")
    assert loaded.faults["stuck"] > 11 * 24 * 12 * 0.9  # 4-15 November: about 11 days of 5-minute rows
    assert loaded.rows_used + sum(loaded.faults.values()) == loaded.rows_read
