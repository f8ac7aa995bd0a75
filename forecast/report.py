"""The back-test table: mean absolute error per horizon in percentage points of capacity, text and JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from forecast.backtest import EVAL_HORIZONS_MIN, Backtest
from forecast.baselines import NAMES as BASELINES
from forecast.data import FAULT_REASONS, LoadResult

METHODS = ("model", *BASELINES)


@dataclass(frozen=True)
class HorizonScore:
    horizon_min: int
    mae: dict[str, float]  # method -> MAE in percentage points
    n: int
    band_coverage: float  # share of outcomes inside the model's 10-90 % band (should be about 0.8)


def score(result: Backtest) -> list[HorizonScore]:
    """Per horizon, on the forecasts for which the model and every baseline had a value (like with like)."""
    rows, band = result.rows, result.forecast
    predictions = {
        "model": band.median,
        "persistence": rows.persistence,
        "same_slot_last_week": rows.same_slot_last_week,
        "weekday_slot_median": rows.weekday_slot_median,
    }
    comparable = np.isfinite(rows.truth)
    for values in predictions.values():
        comparable &= np.isfinite(values)
    scores = []
    for minutes in EVAL_HORIZONS_MIN:
        chosen = comparable & (rows.horizon == minutes * 60)
        n = int(chosen.sum())
        truth = rows.truth[chosen]
        mae = {
            name: float(np.mean(np.abs(values[chosen] - truth)) * 100) if n else float("nan")
            for name, values in predictions.items()
        }
        inside = (band.low[chosen] <= truth) & (truth <= band.high[chosen])
        scores.append(HorizonScore(minutes, mae, n, float(inside.mean()) if n else float("nan")))
    return scores


def horizon_label(minutes: int) -> str:
    return "next day" if minutes == 1440 else f"{minutes} min"


def render(loaded: LoadResult, result: Backtest, scores: list[HorizonScore]) -> str:
    lines = [
        f"{loaded.rows_read} rows read, {loaded.rows_used} used, {len(loaded.series)} places; "
        f"test period {_iso(result.test_from)} to {_iso(result.test_to)}, model refitted {result.refits}×",
    ]
    lines += _faults(loaded.faults)
    lines.append("")
    lines.append("mean absolute error, percentage points of capacity (lower is better)")
    header = f"{'horizon':>9} | {'model':>6} | {'persistence':>11} | {'same slot last week':>19} | "
    header += f"{'weekday × slot median':>21} | {'n':>7} | {'10-90 % band holds':>18}"
    lines += [header, "-" * len(header)]
    for s in scores:
        lines.append(
            # Three decimals: on a quiet street model and persistence can differ only in the third.
            f"{horizon_label(s.horizon_min):>9} | {s.mae['model']:6.3f} | {s.mae['persistence']:11.3f} | "
            f"{s.mae['same_slot_last_week']:19.3f} | {s.mae['weekday_slot_median']:21.3f} | {s.n:7d} | "
            f"{s.band_coverage:17.0%} "
        )
    return "\n".join(lines)


def _faults(faults: Counter[str]) -> list[str]:
    if not faults:
        return ["faulty rows: none"]
    return [f"faulty rows (not used): {sum(faults.values())}"] + [
        f"  {reason}: {count} ({FAULT_REASONS[reason]})" for reason, count in faults.most_common()
    ]


def to_json(loaded: LoadResult, result: Backtest, scores: list[HorizonScore], source: str) -> dict[str, Any]:
    return {
        "source": source,
        "unit": "mean absolute error in percentage points of capacity",
        "test_from": _iso(result.test_from),
        "test_to": _iso(result.test_to),
        "refits": result.refits,
        "rows_read": loaded.rows_read,
        "rows_used": loaded.rows_used,
        "places": len(loaded.series),
        "faulty_rows": dict(loaded.faults.most_common()),
        "horizons": {
            str(s.horizon_min): {
                **{name: _round(s.mae[name]) for name in METHODS},
                "n": s.n,
                "band_10_90_coverage": _round(s.band_coverage, 3),
            }
            for s in scores
        },
    }


def _round(value: float, digits: int = 3) -> float | None:
    return round(value, digits) if np.isfinite(value) else None


def _iso(utc: int) -> str:
    return datetime.fromtimestamp(utc, UTC).isoformat().replace("+00:00", "Z")
