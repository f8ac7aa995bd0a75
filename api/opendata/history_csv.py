"""Occupancy history as CSV (RFC 4180), produced in chunks so a long export streams.

Columns ``time,site,bay,occupied``: ``time`` in RFC 3339 UTC with milliseconds, ``occupied`` 1 or 0
as stored in InfluxDB (so a spreadsheet's AVERAGE is the occupancy rate), empty when unknown.

Text cells that a spreadsheet could read as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab
or carriage return; bay ids may start with ``-``) get a leading single quote, as the OWASP
"CSV Injection" page recommends (https://owasp.org/www-community/attacks/CSV_Injection); the csv
module quotes cells holding separators or quotes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from parking.events import ns_to_rfc3339

HISTORY_CSV_HEADER = ("time", "site", "bay", "occupied")
HISTORY_CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

HistoryRow = tuple[int, str, str, bool | int | None]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """A text cell no spreadsheet runs as a formula: a leading quote where it could start one."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def history_csv(
    rows: Iterable[HistoryRow], *, header: bool = True, rows_per_chunk: int = 500
) -> Iterator[str]:
    """CSV text in chunks: the header line first, then up to ``rows_per_chunk`` lines per chunk.

    Lazily consumes ``rows``, so it can wrap a database cursor; lines end with CRLF.
    """
    if rows_per_chunk < 1:
        raise ValueError(f"rows_per_chunk must be at least 1, got {rows_per_chunk}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(HISTORY_CSV_HEADER)
        yield _drain(buffer)
    pending = 0
    for time_ns, site, bay, occupied in rows:
        writer.writerow(
            (
                ns_to_rfc3339(time_ns),
                safe_cell(site),
                safe_cell(bay),
                "" if occupied is None else int(bool(occupied)),
            )
        )
        pending += 1
        if pending == rows_per_chunk:
            yield _drain(buffer)
            pending = 0
    if pending:
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
