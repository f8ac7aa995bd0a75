"""Reading occupancy observations from CSV: every row is validated, faulty ones are counted by reason.

Columns: ``time`` (ISO 8601 with an offset or ``Z``), ``place_id``, ``capacity`` and one of ``occupied``,
``free`` (counts) or ``occupancy`` (share, 0..1). Rows may come in any order; places may be sampled
irregularly and have gaps. A row that cannot be trusted is never used: it is counted under one reason.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

# A reading unchanged for this long (and this many readings) is a stuck feed, not a quiet place: the
# typical case is a car park that reports 0 free for days while it is closed, or a street whose
# sensors stopped reporting so that the share froze.
STUCK_SECONDS = 24 * 3600
STUCK_READINGS = 48

FAULT_REASONS: Mapping[str, str] = {
    "bad_time": "time missing, not ISO 8601, or without an offset",
    "bad_number": "a count, share or capacity that is not a number",
    "missing_place": "place_id empty",
    "capacity_zero": "capacity 0 or less",
    "negative": "occupied, free or occupancy below 0",
    "above_capacity": "occupied or free above capacity, or occupancy above 1",
    "duplicate": "a second row for the same place and time",
    "stuck": f"the same value for at least {STUCK_SECONDS // 3600} h and {STUCK_READINGS} readings",
}


class CsvError(ValueError):
    """The file as a whole cannot be used (unreadable, wrong columns, no usable row)."""


@dataclass(frozen=True)
class Series:
    """One place's good readings, sorted by time."""

    place_id: str
    times: npt.NDArray[np.int64]  # UTC, seconds since the epoch
    local: npt.NDArray[np.int64]  # the same instants as local wall-clock seconds (for time of day, weekday)
    share: npt.NDArray[np.float64]  # occupied share of capacity, 0..1
    capacity: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.times)


@dataclass
class LoadResult:
    series: list[Series]
    rows_read: int
    faults: Counter[str] = field(default_factory=Counter)

    @property
    def rows_used(self) -> int:
        return sum(len(s) for s in self.series)


@dataclass(frozen=True)
class _Row:
    place: str
    utc: int
    local: int
    share: float
    occupied: float
    capacity: int


def load_csv(path: Path, tz: str | None = None) -> LoadResult:
    """Read and validate ``path``. ``tz`` (e.g. Europe/Berlin) sets local time; default: each row's offset."""
    zone = _zone(tz)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return parse_rows(csv.DictReader(handle), zone, str(path))
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise CsvError(f"{path}: not a readable CSV file ({exc})") from exc


def _zone(tz: str | None) -> ZoneInfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CsvError(f"unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)") from exc


def parse_rows(reader: csv.DictReader[str], zone: ZoneInfo | None, name: str = "CSV") -> LoadResult:
    columns = set(reader.fieldnames or [])
    missing = {"time", "place_id", "capacity"} - columns
    if missing:
        raise CsvError(
            f"{name}: missing column(s) {', '.join(sorted(missing))}; the header has {sorted(columns)}"
        )
    value_column = next((c for c in ("occupied", "free", "occupancy") if c in columns), None)
    if value_column is None:
        raise CsvError(f"{name}: needs one of the columns occupied, free or occupancy")
    faults: Counter[str] = Counter()
    rows: list[_Row] = []
    read = 0
    for record in reader:
        read += 1
        row = _parse(record, value_column, zone)
        if isinstance(row, str):
            faults[row] += 1
        else:
            rows.append(row)
    if read == 0:
        raise CsvError(f"{name}: no data rows after the header")
    series = _build_series(rows, faults)
    if not series:
        raise CsvError(f"{name}: none of the {read} rows is usable ({_fault_summary(faults)})")
    return LoadResult(series=series, rows_read=read, faults=faults)


def _fault_summary(faults: Counter[str]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in faults.most_common())


def _parse(record: Mapping[str, str | None], value_column: str, zone: ZoneInfo | None) -> _Row | str:
    place = (record.get("place_id") or "").strip()
    if not place:
        return "missing_place"
    stamp = _time(record.get("time"), zone)
    if stamp is None:
        return "bad_time"
    capacity = _number(record.get("capacity"))
    value = _number(record.get(value_column))
    if capacity is None or value is None or capacity != int(capacity):
        return "bad_number"
    if capacity <= 0:
        return "capacity_zero"
    if value < 0:
        return "negative"
    if value_column == "occupancy":
        if value > 1:
            return "above_capacity"
        occupied = value * capacity
    else:
        if value > capacity:
            return "above_capacity"
        occupied = value if value_column == "occupied" else capacity - value
    utc, local = stamp
    return _Row(place, utc, local, occupied / capacity, occupied, int(capacity))


def _time(text: str | None, zone: ZoneInfo | None) -> tuple[int, int] | None:
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    if zone is not None:
        moment = moment.astimezone(zone)
    offset = moment.utcoffset()
    assert offset is not None
    utc = math.floor(moment.timestamp())
    return utc, utc + int(offset.total_seconds())


def _number(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _build_series(rows: Iterable[_Row], faults: Counter[str]) -> list[Series]:
    by_place: dict[str, list[_Row]] = {}
    for row in rows:
        by_place.setdefault(row.place, []).append(row)
    series = []
    for place in sorted(by_place):
        ordered = sorted(by_place[place], key=lambda r: r.utc)  # stable: the first of duplicates wins
        unique = [r for i, r in enumerate(ordered) if i == 0 or r.utc != ordered[i - 1].utc]
        faults["duplicate"] += len(ordered) - len(unique)
        keep = ~stuck_mask(
            np.array([r.utc for r in unique], dtype=np.int64), np.array([r.occupied for r in unique])
        )
        faults["stuck"] += int((~keep).sum())
        good = [r for r, k in zip(unique, keep, strict=True) if k]
        if good:
            series.append(
                Series(
                    place_id=place,
                    times=np.array([r.utc for r in good], dtype=np.int64),
                    local=np.array([r.local for r in good], dtype=np.int64),
                    share=np.array([r.share for r in good], dtype=np.float64),
                    capacity=np.array([r.capacity for r in good], dtype=np.int64),
                )
            )
    for reason in ("duplicate", "stuck"):
        if faults[reason] == 0:
            del faults[reason]
    return series


def stuck_mask(times: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """True for readings inside a stuck run; the run's first reading stays (its value was real then)."""
    mask = np.zeros(len(times), dtype=bool)
    start = 0
    for end in range(1, len(times) + 1):
        if end == len(times) or values[end] != values[start]:
            if end - start >= STUCK_READINGS and times[end - 1] - times[start] >= STUCK_SECONDS:
                mask[start + 1 : end] = True
            start = end
    return mask
