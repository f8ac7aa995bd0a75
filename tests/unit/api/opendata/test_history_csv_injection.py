"""CSV export: no cell a spreadsheet would run as a formula (OWASP CSV Injection)."""

from __future__ import annotations

import csv
import io

import pytest

from api.opendata.history_csv import history_csv, safe_cell


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_bay_id_starting_like_a_formula_gets_a_leading_quote(start: str) -> None:
    rows = [(0, "showroom", f"{start}SUM(A1)", 1)]
    assert _cells("".join(history_csv(rows)))[1][2] == f"'{start}SUM(A1)"


def test_a_site_starting_like_a_formula_gets_a_leading_quote() -> None:
    assert _cells("".join(history_csv([(0, "-town", "A01", 0)])))[1][1] == "'-town"


def test_ordinary_ids_are_written_as_they_are() -> None:
    assert safe_cell("A-01") == "A-01" and safe_cell("TC_0133") == "TC_0133"


def test_a_cell_with_separators_and_quotes_stays_one_cell() -> None:
    rows = [(0, "site", '=HYPERLINK("http://x","y"),1', None)]
    assert _cells("".join(history_csv(rows)))[1] == [
        "1970-01-01T00:00:00.000Z",
        "site",
        '\'=HYPERLINK("http://x","y"),1',
        "",
    ]
