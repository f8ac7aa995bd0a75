"""Convert the two public occupancy data sets to the CSV that ``parklotse forecast backtest`` reads.

    python scripts/convert_occupancy_csv.py birmingham SRC.csv OUT.csv [--places A,B] [--from DAY] [--to DAY]
    python scripts/convert_occupancy_csv.py mantova SRC.csv OUT.csv [--from DAY] [--to DAY]

``--places``, ``--from`` and ``--to`` (inclusive, the source's local dates) cut an excerpt, such as the
ones in tests/fixtures/occupancy/ (see the README there).

Sources (MIT licence, Copyright (c) 2023 Nicola Bicocchi; repository nbicocchi/parking-lot-prediction,
commit a761485, src/dataset/): birmingham.csv is the UCI "Parking Birmingham" set (30 car parks,
2016-10-04 to 2016-12-19), mantova.csv one street of Bosch LoRaWAN in-ground sensors in Mantova (Italy),
2019-10-25 to 2020-06-09. Rows are converted one for one and nothing is dropped or repaired: faulty
rows (occupancy above capacity, negative counts, stuck feeds) are left for the back-test to count.

- birmingham: ``SystemCodeNumber,Capacity,Occupancy,LastUpdated`` -> place_id, capacity, occupied; the
  times are local wall-clock times of Europe/London and get that zone's offset (BST or GMT).
- mantova: ``time,percentage,park_id`` -> occupancy (0..1), place_id ``mantova-<park_id>``. The times are
  a uniform 5-minute grid that runs straight through both daylight-saving changes (2020-03-29 02:00-02:55
  exists, 2019-10-27 01:00-01:55 appears once), so they are not wall-clock times all year; they are read
  as CET (+01:00) throughout, which puts the summer months one hour off the wall clock but keeps time of
  day consistent across the file. ``capacity`` is 70, the street's bays as the data's authors describe
  them; the share reported varies with how many sensors were alive, so free bays derived from it are
  approximate. Errors in percentage points of capacity do not depend on it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

MANTOVA_CAPACITY = 70
CET = timezone(timedelta(hours=1))
LONDON = ZoneInfo("Europe/London")
HEADER = ["time", "place_id", "capacity"]


@dataclass(frozen=True)
class Excerpt:
    places: frozenset[str] | None = None
    first: date | None = None
    last: date | None = None

    def keeps(self, place: str, local: datetime) -> bool:
        return (
            (self.places is None or place in self.places)
            and (self.first is None or local.date() >= self.first)
            and (self.last is None or local.date() <= self.last)
        )


def birmingham(source: Path, target: Path, excerpt: Excerpt) -> int:
    with source.open(newline="") as src, target.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*HEADER, "occupied"])
        count = 0
        for row in csv.DictReader(src):
            stamp = datetime.fromisoformat(row["LastUpdated"]).replace(tzinfo=LONDON)
            if not excerpt.keeps(row["SystemCodeNumber"], stamp):
                continue
            writer.writerow([stamp.isoformat(), row["SystemCodeNumber"], row["Capacity"], row["Occupancy"]])
            count += 1
    return count


def mantova(source: Path, target: Path, excerpt: Excerpt) -> int:
    with source.open(newline="") as src, target.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*HEADER, "occupancy"])
        count = 0
        for row in csv.DictReader(src):
            stamp = datetime.fromisoformat(row["time"]).replace(tzinfo=CET)
            place = f"mantova-{row['park_id']}"
            if not excerpt.keeps(place, stamp):
                continue
            writer.writerow([stamp.isoformat(), place, MANTOVA_CAPACITY, row["percentage"]])
            count += 1
    return count


def main(argv: list[str]) -> int:
    converters: dict[str, Callable[[Path, Path, Excerpt], int]] = {
        "birmingham": birmingham,
        "mantova": mantova,
    }
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(converters))
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--places", help="only these places (comma-separated source ids)")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first local day kept")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last local day kept")
    args = parser.parse_args(argv)
    places = frozenset(args.places.split(",")) if args.places else None
    count = converters[args.dataset](args.source, args.target, Excerpt(places, args.first, args.last))
    print(f"{args.target}: {count} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
