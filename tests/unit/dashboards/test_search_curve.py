"""The shipped occupancy → search-time curve: made from an offline report, labelled as a model estimate."""

from __future__ import annotations

from typing import Any

from dashboards.search_curve import MIN_SEARCHES, curve_from_report, shipped_curve


def report(variant: str) -> dict[str, Any]:
    points = [
        {"occupancy": 0.625, "mean_search_min": 0.4, "searches": 500},
        {"occupancy": 0.925, "mean_search_min": 2.2, "searches": 800},
        {"occupancy": 0.975, "mean_search_min": 9.0, "searches": MIN_SEARCHES - 1},
    ]
    return {"run": {"seed": 1, "days": 28}, "scenario": {"name": "town-centre"},
            "variants": {variant: {"search_by_occupancy": points}, "with_sensors": {}}}  # fmt: skip


def test_the_curve_is_the_run_without_sensors_without_its_thin_bins() -> None:
    curve = curve_from_report(report("without_sensors"))
    assert curve.variant == "without_sensors"
    assert [p.occupancy for p in curve.points] == [0.625, 0.925]
    assert curve.model_estimate and "docs/research.md" in curve.source
    assert curve.days == 28 and curve.scenario == "town-centre"


def test_the_shipped_curve_rises_with_occupancy() -> None:
    curve = shipped_curve()
    assert curve.model_estimate and curve.points
    low = [p.mean_search_min for p in curve.points if p.occupancy < 0.5]
    high = [p.mean_search_min for p in curve.points if p.occupancy > 0.85]
    assert max(low) < min(high)
