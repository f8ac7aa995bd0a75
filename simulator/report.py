"""The offline report: a JSON document (byte-identical for the same seed) and a self-contained HTML page.

The HTML is rendered from the JSON document alone, with Plotly's JavaScript embedded once
(no CDN), so the page works offline and shows exactly the figures the JSON holds.
"""

from __future__ import annotations

import html
import json
import math
from datetime import timedelta
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from simulator import metrics
from simulator.demand import DAY_S, day_type
from simulator.engine import Engine
from simulator.offline import OfflineResult, SweepPoint

FORMAT = "parklotse-simulation-report/1"
SIGNIFICANT_DIGITS = 6
COLOURS = {"without_sensors": "#8c8c8c", "with_sensors": "#0b7a75"}
LABELS = {"without_sensors": "without sensors", "with_sensors": "with sensors"}

DEFINITIONS = {
    "search": (
        "Metres driven beyond the shortest route from the driver's town entrance to its destination point "
        "(the middle of the destination face): 0 for drivers who park on the way ('no search'), growing "
        "continuously for those who park past it or circle. A drive to a garage (sent by a sign or the app, "
        "or after giving up) counts in full. Search time = search distance ÷ search.speed_kmh."
    ),
    "co2": "search km × emissions.fleet_g_per_km × emissions.stop_and_go_factor × (1 − emissions.ev_share)",
    "search_area": "bays within space.search_area_radius_m of an attractor; its occupancy sets the windows",
    "peak": (
        "clock hours whose mean search-area occupancy in the run without guidance is at least "
        "windows.peak_occupancy; the headline figures of both variants are over the drivers arriving then"
    ),
    "peak_occupancy": "highest search-area occupancy sampled (every run.sample_interval_s)",
    "variants": (
        "without_sensors: the twin town, where nobody is steered; with_sensors: the same drivers, making the "
        "same random choices (common random numbers), with the steering set (app, signs or both). They "
        "differ only where steering changes a decision; with nobody steered they are identical."
    ),
    "saved": (
        "without_sensors minus with_sensors, summed over the drivers arriving in the day or clock hour; "
        "positive means the sensors helped"
    ),
    "estimate": "model estimates for a synthetic town, not measurements",
}
CALIBRATED = (
    "calibrated against docs/research.md §7 (targets T1-T5, seeds 1-16; `parklotse simulate calibrate`): "
    "the figures are model estimates for a synthetic town"
)
NOT_CALIBRATED = (
    "NOT calibrated: this scenario has not been held against docs/research.md §7; its figures show how the "
    "model behaves at this scale, they are not estimates of real search"
)


def build_report(result: OfflineResult) -> dict[str, Any]:
    scenario, days, settings = result.scenario, result.days, result.settings
    occupancy = metrics.hourly_occupancy(result.without_sensors, days * 24)
    peak = occupancy >= scenario.windows.peak_occupancy
    without = _variant(result.without_sensors, peak, result)
    with_sensors = _variant(result.with_sensors, peak, result)
    ef = metrics.co2_g_per_km(scenario)
    per_day = result.saved.per_day_list()
    saved_km_per_day = float(result.saved.per_day[:, 1].mean())
    share = (
        scenario.guidance.share if scenario.steering.mode != "signs" else scenario.steering.sign_compliance
    )
    saved_per_search = _difference(without["co2_g_per_search"], with_sensors["co2_g_per_search"])
    return {
        "format": FORMAT,
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "site": result.site.id,
            "bays": result.network.n_bays,
            "block_faces": result.network.n_segments,
            "layout": result.network.layout,
            "search_area_bays": result.network.core_bays(),
            "calibrated": scenario.calibrated,
            "calibration": CALIBRATED if scenario.calibrated else NOT_CALIBRATED,
        },
        "run": {
            "seed": result.seed,
            "days": days,
            "preset": settings.preset,
            "steering": scenario.steering.mode,
            "guidance_share": scenario.guidance.share,
            "sign_compliance": scenario.steering.sign_compliance,
            "sensor_latency_s": scenario.guidance.sensor_latency_s,
            "dates": [
                {"date": day.isoformat(), "kind": _kind(result, d)} for d, day in enumerate(settings.dates())
            ],
            "peak_hours": int(peak.sum()),
            "mean_search_area_occupancy_in_peak_hours": float(occupancy[peak].mean()) if peak.any() else None,
        },
        "definitions": DEFINITIONS,
        "variants": {"without_sensors": without, "with_sensors": with_sensors},
        "saved": {
            "note": "twin without sensors minus the town with sensors, drivers arriving in the day or hour",
            "per_day": per_day,
            "per_hour": result.saved.per_hour_list(),
        },
        "benefit": {
            "peak_hours": {
                "window": "clock hours whose search-area occupancy without sensors ≥ windows.peak_occupancy",
                "steered_share": share,
                "search_time_change": metrics.relative_change(
                    without["mean_search_min"], with_sensors["mean_search_min"]
                ),
                "search_km_change": metrics.relative_change(
                    without["mean_search_km"], with_sensors["mean_search_km"]
                ),
                "co2_g_saved_per_search": saved_per_search,
            },
            "whole_day": {
                "window": "every driver arriving in the run's days, mean per day",
                "search_min_saved_per_day": float(result.saved.per_day[:, 0].mean()),
                "search_km_saved_per_day": saved_km_per_day,
                "co2_kg_saved_per_day": saved_km_per_day * ef / 1000.0,
                "co2_t_saved_per_year": saved_km_per_day * ef * 365.0 / 1e6,
            },
            "note": "against the same drivers without sensors; a model estimate",
        },
        "sweeps": {
            "note": (
                f"each point is an extra pair of twins over the first {result.sweep_days} day(s) with the "
                "same drivers, so the sweeps are cheaper and noisier than the main comparison; changes are "
                "against the twin without sensors, over its peak hours"
            ),
            "days": result.sweep_days,
            "sensor_latency": {
                "guidance_share": scenario.report.sweep_latency_share,
                "points": _sweep(result.latency_sweep, "sensor_latency_s"),
            },
            "guidance_share": {
                "sensor_latency_s": scenario.guidance.sensor_latency_s,
                "points": _sweep(result.share_sweep, "guidance_share"),
            },
        },
        "factors": metrics.factors(scenario),
        "sources": dict(scenario.sources),
    }


def _kind(result: OfflineResult, day: int) -> str:
    return result.settings.day_kind or day_type(result.settings.first_day + timedelta(days=day))


def _difference(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _sweep(points: list[SweepPoint], key: str) -> list[dict[str, Any]]:
    return [{key: p.value, **p.figures} for p in points]


def _variant(engine: Engine, peak: np.ndarray, result: OfflineResult) -> dict[str, Any]:
    scenario = engine.scenario
    records = engine.record_arrays()
    in_run = records["t_arrival"] < result.days * DAY_S
    records = {name: values[in_run] for name, values in records.items()}
    mask = metrics.in_hours(records["t_arrival"], peak)
    samples = engine.samples.arrays()
    samples = {name: values[samples["t"] < result.days * DAY_S] for name, values in samples.items()}
    parameters = scenario.model_dump(mode="json", exclude={"sources"})
    guided = records["guided"]
    variant: dict[str, Any] = {
        **metrics.search_stats(records["search_m"][mask], records["gave_up"][mask], scenario),
        "mean_walk_m": _mean_walk(records, mask),
        "peak_occupancy": float(samples["core_occupied"].max() / engine.n_core)
        if samples["t"].size
        else None,
        "peak_occupancy_all_bays": float(samples["occupied"].max() / engine.net.n_bays)
        if samples["t"].size
        else None,
        "parameters": parameters,
        "drivers": int(records["t_arrival"].size),
        "guided_drivers": int(guided.sum()),
        "to_garage": int(records["garage"].sum()),
        "guidance_misses_per_guided_search": float(records["misses"][guided].mean())
        if guided.any()
        else None,
        "bay_changes": engine.changes_total,
        "all_day": metrics.search_stats(records["search_m"], records["gave_up"], scenario),
        "by_hour": metrics.by_clock_hour(records, scenario, result.days),
        "search_by_occupancy": metrics.occupancy_curve(records, scenario),
        "search_time_histogram": metrics.histogram(records["search_m"][mask], scenario),
    }
    if guided.any():
        variant["by_driver_group"] = {
            name: {
                **metrics.search_stats(records["search_m"][group], records["gave_up"][group], scenario),
                "mean_walk_m": _mean_walk(records, group),
            }
            for name, group in (("steered", mask & guided), ("not_steered", mask & ~guided))
        }
    return variant


def _mean_walk(records: dict[str, np.ndarray], mask: np.ndarray) -> float | None:
    """Metres from the bay to the destination, over the drivers who parked."""
    parked = mask & ~records["gave_up"]
    return float(records["walk_m"][parked].mean()) if parked.any() else None


# ----------------------------------------------------------------------------- JSON


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, np.generic):
        return _rounded(value.item())
    return value


def report_json(report: dict[str, Any]) -> bytes:
    """Sorted keys, rounded floats, no run timestamps: the same seed gives the same bytes."""
    return (json.dumps(_rounded(report), sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


# ----------------------------------------------------------------------------- HTML


def report_html(report: dict[str, Any]) -> str:
    report = _rounded(report)
    figures = [
        ("search-time", "Search time in the peak hours, with and without sensors", _fig_histogram(report)),
        ("by-hour", "Search kilometres and CO2 by hour of the day", _fig_by_hour(report)),
        ("occupancy", "Search time against occupancy of the search area", _fig_occupancy(report)),
        ("latency", "Benefit against sensor latency", _fig_sweep(report, "sensor_latency")),
        ("share", "Benefit against the share of guided drivers", _fig_sweep(report, "guidance_share")),
    ]
    parts = []
    for index, (div_id, title, figure) in enumerate(figures):
        body = pio.to_html(
            figure,
            include_plotlyjs=index == 0,
            full_html=False,
            div_id=f"fig-{div_id}",
            config={"displaylogo": False, "responsive": True},
            default_height="420px",
        )
        parts.append(f"<section><h2>{html.escape(title)}</h2>\n{body}\n</section>")
    scenario, run = report["scenario"], report["run"]
    title = f"Parking search with and without guidance: {scenario['name']}"
    return _PAGE.format(
        title=html.escape(title),
        intro=html.escape(
            f"{scenario['description']} Site {scenario['site']}: {scenario['bays']} bays on "
            f"{scenario['block_faces']} block faces. {run['days']} simulated day(s) from "
            f"{run['dates'][0]['date']}, seed {run['seed']}; {run['peak_hours']} peak hour(s). "
            f"Calibration: {scenario['calibration']}."
        ),
        table=_table(report),
        figures="\n".join(parts),
        sweeps=html.escape(report["sweeps"]["note"]),
        definitions="".join(
            f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in report["definitions"].items()
        ),
    )


def _table(report: dict[str, Any]) -> str:
    rows = [
        ("mean search time (min)", "mean_search_min", "{:.2f}"),
        ("median search time (min)", "median_search_min", "{:.2f}"),
        ("searches over 5 min", "share_over_5min", "{:.1%}"),
        ("arrivals without a search", "share_no_search", "{:.1%}"),
        ("search distance (km)", "mean_search_km", "{:.3f}"),
        ("CO2 per search (g)", "co2_g_per_search", "{:.1f}"),
        ("drivers who gave up", "share_gave_up", "{:.1%}"),
        ("walk from bay to destination (m)", "mean_walk_m", "{:.0f}"),
        ("peak occupancy of the search area", "peak_occupancy", "{:.1%}"),
    ]
    variants = report["variants"]
    share = report["benefit"]["peak_hours"]["steered_share"]
    columns = [
        ("without sensors (twin)", variants["without_sensors"]),
        (f"with sensors ({report['run']['steering']}, {share:.0%} steered)", variants["with_sensors"]),
    ]
    groups = variants["with_sensors"].get("by_driver_group")
    if groups:
        columns += [("… drivers steered", groups["steered"]), ("… the others", groups["not_steered"])]
    head = (
        "<tr><th>peak hours</th>" + "".join(f"<th>{html.escape(name)}</th>" for name, _ in columns) + "</tr>"
    )
    body = []
    for label, key, fmt in rows:
        cells = "".join(
            f"<td>{fmt.format(figures[key]) if figures.get(key) is not None else ''}</td>"
            for _, figures in columns
        )
        body.append(f"<tr><td>{html.escape(label)}</td>{cells}</tr>")
    peak, day = report["benefit"]["peak_hours"], report["benefit"]["whole_day"]
    change = peak["search_time_change"]
    summary = (
        f"Peak hours (search-area occupancy ≥ threshold): mean search time {change:+.1%} for all drivers. "
        if change is not None
        else "No peak hours in this run. "
    ) + (
        f"Whole day, all drivers: {day['search_min_saved_per_day']:.0f} min of search, "
        f"{day['search_km_saved_per_day']:.1f} km and {day['co2_kg_saved_per_day']:.1f} kg CO2 saved per day "
        "(a model estimate)."
    )
    note = (
        "With part of the drivers guided, those who follow guidance gain partly at the expense of the others "
        "(docs/research.md §6.7); the share figure below shows how the benefit for everyone grows with "
        "the share."
    )
    return (
        f"<table>{head}{''.join(body)}</table>"
        f"<p class='summary'>{html.escape(summary)}</p><p>{html.escape(note)}</p>"
    )


def _layout(figure: go.Figure, x: str, y: str) -> go.Figure:
    figure.update_layout(
        template="plotly_white",
        margin={"l": 60, "r": 30, "t": 30, "b": 50},
        legend={"orientation": "h", "y": 1.08},
        xaxis_title=x,
        yaxis_title=y,
    )
    return figure


def _fig_histogram(report: dict[str, Any]) -> go.Figure:
    figure = go.Figure()
    for name, label in LABELS.items():
        hist = report["variants"][name]["search_time_histogram"]
        centres = [s + hist["bin_width_min"] / 2 for s in hist["bin_start_min"]]
        figure.add_bar(x=centres, y=[100 * v for v in hist["share"]], name=label, marker_color=COLOURS[name])
    figure.update_layout(barmode="group")
    return _layout(figure, "search time (min; the last bar holds everything longer)", "share of arrivals (%)")


def _fig_by_hour(report: dict[str, Any]) -> go.Figure:
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    top = 0.0
    for name, label in LABELS.items():
        hourly = report["variants"][name]["by_hour"]
        figure.add_bar(x=hourly["hour"], y=hourly["search_km"], name=label, marker_color=COLOURS[name])
        top = max([top, *hourly["search_km"]])
    # CO2 is proportional to the kilometres: the right axis is the left one in kg of CO2
    g_per_km = report["factors"]["co2_g_per_search_km"]["value"]
    top = max(top * 1.1, 1e-6)
    figure.add_scatter(x=[0], y=[0], showlegend=False, hoverinfo="skip", opacity=0, secondary_y=True)
    figure.update_yaxes(range=[0, top], secondary_y=False)
    figure.update_yaxes(range=[0, top * g_per_km / 1000.0], title_text="CO2 per day (kg)", secondary_y=True)
    figure.update_layout(barmode="group")
    return _layout(figure, "hour of arrival", "search km per day")


def _fig_occupancy(report: dict[str, Any]) -> go.Figure:
    figure = go.Figure()
    for name, label in LABELS.items():
        curve = [p for p in report["variants"][name]["search_by_occupancy"] if p["searches"] >= 10]
        figure.add_scatter(
            x=[100 * p["occupancy"] for p in curve],
            y=[p["mean_search_min"] for p in curve],
            name=label,
            mode="lines+markers",
            line={"color": COLOURS[name]},
        )
    return _layout(figure, "search-area occupancy on arrival (%)", "mean search time (min)")


def _fig_sweep(report: dict[str, Any], which: str) -> go.Figure:
    sweep = report["sweeps"][which]
    key = "sensor_latency_s" if which == "sensor_latency" else "guidance_share"
    points = [p for p in sweep["points"] if p["search_time_change"] is not None]
    x = [p[key] / 60.0 if key == "sensor_latency_s" else 100 * p[key] for p in points]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_scatter(
        x=x,
        y=[-100 * p["search_time_change"] for p in points],
        name="search time and CO2 saved (%)",
        mode="lines+markers",
        line={"color": COLOURS["with_sensors"]},
        customdata=[p["co2_g_saved_per_search"] for p in points],
        hovertemplate="%{y:.1f} % saved, %{customdata:.1f} g CO2 per search<extra></extra>",
    )
    figure.add_scatter(
        x=x,
        y=[p["guidance_misses_per_guided_search"] for p in points],
        name="guidance misses per guided search",
        mode="lines+markers",
        line={"color": "#b5651d", "dash": "dot"},
        secondary_y=True,
    )
    figure.update_yaxes(rangemode="tozero", secondary_y=False)
    figure.update_yaxes(title_text="misses per guided search", rangemode="tozero", secondary_y=True)
    if key == "sensor_latency_s":
        xtitle = f"sensor latency (min), {sweep['guidance_share']:.0%} of drivers guided"
    else:
        xtitle = f"drivers guided (%), sensor latency {sweep['sensor_latency_s']:g} s"
    return _layout(figure, xtitle, "saved in the peak hours (%)")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222;
       padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .35rem .8rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.summary {{ font-weight: 600; }}
dt {{ font-weight: 600; margin-top: .5rem; }}
.note {{ color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{intro}</p>
{table}
{figures}
<p class="note">Sweeps: {sweeps}</p>
<h2>Definitions</h2>
<dl>{definitions}</dl>
</body>
</html>
"""
