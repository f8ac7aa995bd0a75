"""The occupancy → search-time curve the kiosk shows for real-sensor sites, as a model estimate.

A real-sensor site measures occupancy, not search: the screen reads the search time the calibrated
town-centre model (without sensors) shows at that occupancy off this curve, labelled as a model
estimate with its source. The curve ships as ``static/search-curve.json``; after the model changes,
make it again from an offline report:

    parklotse simulate --offline --scenario town-centre --seed 1 --days 28 --report-json /tmp/tc.json
    python -m dashboards.search_curve /tmp/tc.json
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CURVE_FILE = Path(__file__).resolve().parent / "static" / "search-curve.json"
# Bins with fewer searches than this are noise, not a curve.
MIN_SEARCHES = 100


class CurvePoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    occupancy: float = Field(ge=0, le=1, description="search-area occupancy on arrival (bin centre)")
    mean_search_min: float = Field(ge=0)
    searches: int = Field(ge=0)


class SearchCurve(BaseModel):
    """Mean search time against occupancy, from an offline run of the calibrated model."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "example": {
                "model_estimate": True,
                "scenario": "town-centre",
                "seed": 1,
                "days": 28,
                "variant": "without_sensors",
                "source": "Parklotse-Modell 'town-centre', 28 simulierte Tage ohne Sensoren; …",
                "points": [
                    {"occupancy": 0.825, "mean_search_min": 1.32, "searches": 6009},
                    {"occupancy": 0.875, "mean_search_min": 1.78, "searches": 7835},
                ],
            }
        },
    )

    model_estimate: bool = True
    scenario: str
    seed: int
    days: int
    variant: str = Field(description="the report variant the points come from")
    source: str = Field(description="how the curve was made, and what the model is calibrated on")
    points: list[CurvePoint]


def curve_from_report(report: dict[str, Any]) -> SearchCurve:
    """The curve of the run without sensors in an offline report (pure)."""
    variants = report["variants"]
    variant = "without_sensors" if "without_sensors" in variants else "unguided"
    run = report.get("run", {})
    points = [
        CurvePoint(
            occupancy=p["occupancy"], mean_search_min=round(p["mean_search_min"], 3), searches=p["searches"]
        )
        for p in variants[variant]["search_by_occupancy"]
        if p["searches"] >= MIN_SEARCHES
    ]
    scenario = str(run.get("scenario") or report.get("scenario", {}).get("name") or "town-centre")
    return SearchCurve(
        scenario=scenario,
        seed=int(run.get("seed", 0)),
        days=int(run.get("days", 0)),
        variant=variant,
        source=(
            f"Parklotse-Modell '{scenario}', {run.get('days', '?')} simulierte Tage ohne Sensoren; "
            "kalibriert auf start2park (Frankfurt UAS), Levy 2013, Shoup (docs/research.md §1, §7)"
        ),
        points=points,
    )


@cache
def shipped_curve() -> SearchCurve:
    return SearchCurve.model_validate_json(CURVE_FILE.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("report", type=Path, help="JSON report of parklotse simulate --offline")
    parser.add_argument("--out", type=Path, default=CURVE_FILE)
    args = parser.parse_args(argv)
    try:
        curve = curve_from_report(json.loads(args.report.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"dashboards.search_curve: {args.report}: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(curve.model_dump_json(indent=1) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(curve.points)} points from {curve.scenario}, {curve.days} days")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
