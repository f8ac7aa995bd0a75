"""``parklotse forecast backtest``: the table and its JSON, and one clear line with exit 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parklotse.cli import main
from tests.unit.forecast.synthetic import HEADER, occupancy_rows, write_csv

HORIZON_KEYS = {"15", "30", "60", "120", "1440"}
METHOD_KEYS = {"model", "persistence", "same_slot_last_week", "weekday_slot_median", "n"}


def _backtest(*args: str) -> int:
    return main(["forecast", "backtest", "--no-progress", *args])


def test_the_backtest_prints_the_table_and_writes_the_json_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = occupancy_rows(17)
    rows.append(["2026-01-06T10:00:00+01:00", "P0", "100", "130"])  # above capacity
    csv = write_csv(tmp_path / "in.csv", rows)
    report = tmp_path / "report.json"
    assert _backtest("--csv", str(csv), "--test-from", "2026-01-20", "--report-json", str(report)) == 0
    out = capsys.readouterr().out
    assert "persistence" in out and "above_capacity: 1" in out
    document = json.loads(report.read_text())
    assert set(document["horizons"]) == HORIZON_KEYS
    for figures in document["horizons"].values():
        assert set(figures) >= METHOD_KEYS and figures["n"] > 0
    assert document["faulty_rows"] == {"above_capacity": 1}
    assert document["test_from"] == "2026-01-19T23:00:00Z"  # local midnight, +01:00


def _fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert _backtest(*args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_missing_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "cannot read" in _fails(capsys, "--csv", str(tmp_path / "nope.csv"))


def test_wrong_columns_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_csv(tmp_path / "in.csv", [["2026-01-05T10:00:00Z", "A"]], ["time", "place"])
    assert "missing column" in _fails(capsys, "--csv", str(csv))


def test_too_little_history_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_csv(tmp_path / "in.csv", occupancy_rows(5), HEADER)
    assert "not enough history" in _fails(capsys, "--csv", str(csv))


def test_a_test_start_outside_the_data_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_csv(tmp_path / "in.csv", occupancy_rows(3), HEADER)
    assert "--test-from 2027-01-01" in _fails(capsys, "--csv", str(csv), "--test-from", "2027-01-01")


def test_an_unknown_holiday_region_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_csv(tmp_path / "in.csv", occupancy_rows(3), HEADER)
    assert "unknown holiday region" in _fails(capsys, "--csv", str(csv), "--holidays", "XX")


def test_a_malformed_test_date_is_refused_by_the_parser(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _backtest("--csv", str(tmp_path / "in.csv"), "--test-from", "soon")
    assert exit_info.value.code == 2
