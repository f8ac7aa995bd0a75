"""A small synthetic occupancy CSV for the forecast tests: weekday rush, quieter weekends, some noise."""

from __future__ import annotations

import csv
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

CET = timezone(timedelta(hours=1))
START = datetime(2026, 1, 5, tzinfo=CET)  # a Monday
HEADER = ["time", "place_id", "capacity", "occupied"]


def occupancy_rows(days: int, step_min: int = 30, places: int = 1, seed: int = 1) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for place in range(places):
        capacity = 100 + 50 * place
        for i in range(days * 24 * 60 // step_min):
            moment = START + timedelta(minutes=i * step_min)
            hour = moment.hour + moment.minute / 60
            peak = 0.7 if moment.weekday() < 5 else 0.35
            share = 0.15 + peak * math.exp(-(((hour - 13) / 3.5) ** 2)) + rng.normal(0, 0.02)
            occupied = int(np.clip(round(share * capacity), 0, capacity))
            rows.append([moment.isoformat(), f"P{place}", str(capacity), str(occupied)])
    return rows


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path
