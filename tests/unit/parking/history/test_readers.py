"""What the readers make of InfluxDB's answers (the reads themselves run in tests/integration)."""

from __future__ import annotations

from parking.history.readers import csv_rows
from parking.store import Series

START = 1_772_445_600_000_000_000  # 2026-03-02T10:00:00Z


def test_csv_rows() -> None:
    rows = csv_rows([Series("bay_status", {}, ["time", "occupied", "bay"], [[START, 1, "A01"]])], "showroom")
    assert rows == [(START, "showroom", "A01", 1)]
