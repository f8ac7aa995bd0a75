"""``GET /api/v1/sites/{site}/forecast``: free bays and occupancy ahead, with the 10-90 % band and the
back-tested error of the site's model. The forecasts are computed in the background (api.forecasts);
a request only picks the scope and the steps it asks for."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ServicesDep, SiteDep, read_access, unknown_zone
from api.forecasts import ForecastUnavailable, SiteForecasts
from api.models import Problem
from api.routes.sites import NOT_FOUND
from forecast.report import METHODS
from forecast.site import SiteModel
from parking.events import ns_to_rfc3339

router = APIRouter(prefix="/api/v1", tags=["forecast"], dependencies=[Depends(read_access)])

RETRY_AFTER_S = 60
LABEL = "Modellrechnung (model estimate), not a measurement"
ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    501: {"model": Problem, "description": "Forecasts are switched off (PARKLOTSE_FORECAST_ENABLED=false)"},
    503: {
        "model": Problem,
        "description": "No forecast yet: too little history, the model is being fitted, or no recent "
        "readings; `detail` says which (and how much history there is), Retry-After when to ask again",
    },
}


def _time(field: str) -> Any:
    return Field(description=field, json_schema_extra={"format": "date-time"})


class ForecastPoint(BaseModel):
    time: str = _time("Target time, RFC 3339 UTC")
    horizon_min: int = Field(description="Minutes after the latest reading the forecast starts from")
    occupancy: float = Field(ge=0, le=1, description="Forecast occupied share (median)")
    occupancy_low: float = Field(ge=0, le=1, description="10 % quantile of the occupied share")
    occupancy_high: float = Field(ge=0, le=1, description="90 % quantile of the occupied share")
    free: float = Field(ge=0, description="Forecast free bays: bays × (1 − occupancy), an estimate")
    free_low: float = Field(ge=0, description="Free bays at the 90 % occupancy quantile")
    free_high: float = Field(ge=0, description="Free bays at the 10 % occupancy quantile")


class BacktestRow(BaseModel):
    horizon_min: int = Field(description="15, 30, 60, 120 or 1440 (the next day at the same time)")
    model: float | None = Field(description="Mean absolute error of the model, percentage points of capacity")
    persistence: float | None = Field(description="… of carrying the last value forward")
    same_slot_last_week: float | None = Field(description="… of the value at the same time a week earlier")
    weekday_slot_median: float | None = Field(description="… of the weekday × half-hour median")
    n: int = Field(description="Forecasts each figure rests on")
    band_10_90_coverage: float | None = Field(description="Share of outcomes inside the 10-90 % band")
    model_beats_persistence: bool


class SiteBacktest(BaseModel):
    test_from: str = _time("First forecast origin of the test period")
    test_to: str = _time("Last reading of the test period")
    refits: int = Field(description="Model fits in the test period, each on what was known before it")
    unit: str = "mean absolute error in percentage points of capacity (lower is better)"
    horizons: list[BacktestRow]


class Forecast(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": "A",
                "kind": LABEL,
                "bays": 8,
                "computed_at": "2026-11-20T10:02:11.000Z",
                "latest_reading": "2026-11-20T10:00:00.000Z",
                "trained_at": "2026-11-20T03:00:05.000Z",
                "trained_from": "2026-09-25T03:00:00.000Z",
                "trained_to": "2026-11-20T03:00:00.000Z",
                "points": [
                    {
                        "time": "2026-11-20T10:15:00.000Z",
                        "horizon_min": 15,
                        "occupancy": 0.7,
                        "occupancy_low": 0.62,
                        "occupancy_high": 0.8,
                        "free": 2.4,
                        "free_low": 1.6,
                        "free_high": 3.0,
                    }
                ],
                "backtest": {
                    "test_from": "2026-11-13T03:00:00.000Z",
                    "test_to": "2026-11-20T03:00:00.000Z",
                    "refits": 1,
                    "unit": "mean absolute error in percentage points of capacity (lower is better)",
                    "horizons": [
                        {
                            "horizon_min": 30,
                            "model": 2.1,
                            "persistence": 3.4,
                            "same_slot_last_week": 5.0,
                            "weekday_slot_median": 6.2,
                            "n": 2016,
                            "band_10_90_coverage": 0.79,
                            "model_beats_persistence": True,
                        }
                    ],
                },
                "backtest_note": None,
            }
        }
    )

    site: str
    zone: str | None = Field(description="null: the whole site")
    kind: str = Field(description="What this is: a model's estimate")
    bays: int = Field(description="Bays of the site or zone (the capacity free bays are counted from)")
    computed_at: str = _time("When this forecast was computed")
    latest_reading: str = _time("End of the latest 5-minute interval of readings it starts from")
    trained_at: str = _time("When the model was fitted (daily)")
    trained_from: str = _time("First reading the model was fitted on")
    trained_to: str = _time("Last reading the model was fitted on")
    points: list[ForecastPoint] = Field(description="Every 15 minutes up to the horizon")
    backtest: SiteBacktest | None = Field(
        description="The error of this site's model on its own last days, beside simple baselines"
    )
    backtest_note: str | None = Field(description="Why there is no back-test yet")


class ForecastState(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "state": "not_enough_history",
                "detail": "not enough history: 3.2 days of readings, the forecast needs 14",
                "beats_persistence_at_30_min": False,
            }
        }
    )

    site: str
    state: Literal["ready", "waiting", "not_enough_history", "failed", "disabled"]
    detail: str = Field(description="Why there is no forecast (or 'ready')")
    beats_persistence_at_30_min: bool = Field(
        description="The site's back-test shows the model ahead of carrying the last value forward at 30 "
        "minutes: only then does the kiosk show its forecast"
    )


Horizon = Annotated[
    int,
    Query(
        ge=15,
        le=1440,
        description="How far ahead, in minutes (15 to 1440); a point every 15 minutes",
        examples=[120],
    ),
]
ZoneQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="A zone; without it, the whole site", examples=["A"]),
]


@router.get("/forecasts", response_model=list[ForecastState])
async def forecast_states(services: ServicesDep) -> list[dict[str, Any]]:
    """Per site, whether a forecast is there (always 200, so a screen can ask before it asks for one)."""
    states = []
    for site in services.registry.sites:
        state, detail = services.forecasts.status(site)
        beats = False
        if state == "ready":
            model = services.forecasts.get(site).model
            beats = model.backtest is not None and model.backtest.beats_persistence(30)
        states.append({"site": site, "state": state, "detail": detail, "beats_persistence_at_30_min": beats})
    return states


@router.get("/sites/{site}/forecast", response_model=Forecast, responses=ERRORS)
async def site_forecast(
    site: SiteDep, services: ServicesDep, zone: ZoneQuery = None, horizon: Horizon = 120
) -> Response:
    """Forecast free bays and occupancy of a site or zone, every 15 minutes up to `horizon` minutes.

    A model estimate (gradient-boosted trees fitted daily on the site's stored history) with its
    10-90 % band, and its back-tested error beside carrying the last value forward and other simple
    baselines, measured on the site's own last days. 503 until there is enough history (14 days).
    """
    if zone is not None and zone not in site.zones:
        raise unknown_zone(site, zone)
    try:
        ready = services.forecasts.get(site.id)
    except ForecastUnavailable as exc:
        if exc.disabled:
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, exc.message) from exc
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, exc.message, headers={"Retry-After": str(RETRY_AFTER_S)}
        ) from exc
    scope = ready.scopes.get(zone)
    if scope is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"no recent readings of {'zone ' + repr(zone) if zone else 'the site'} to forecast from",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    key = (zone, horizon // 15)
    body = ready.bodies.get(key)
    if body is None:
        found = forecast_body(site.id, zone, ready, scope.capacity, scope.forecast, horizon)
        body = ready.bodies[key] = Forecast.model_validate(found).model_dump_json().encode()
    return Response(body, media_type="application/json")


def forecast_body(
    site: str, zone: str | None, ready: SiteForecasts, bays: int, forecast: Any, horizon_min: int
) -> dict[str, Any]:
    chosen = slice(0, horizon_min // 15)
    band = forecast.band
    low, median, high = (np.round(v[chosen], 4).tolist() for v in (band.low, band.median, band.high))
    points = [
        {
            "time": ns_to_rfc3339(int(t) * 1_000_000_000),
            "horizon_min": int(t - forecast.origin) // 60,
            "occupancy": m,
            "occupancy_low": lo,
            "occupancy_high": hi,
            "free": round(bays * (1 - m), 1),
            "free_low": round(bays * (1 - hi), 1),
            "free_high": round(bays * (1 - lo), 1),
        }
        for t, lo, m, hi in zip(forecast.times[chosen].tolist(), low, median, high, strict=True)
    ]
    model = ready.model
    return {
        "site": site,
        "zone": zone,
        "kind": LABEL,
        "bays": bays,
        "computed_at": _rfc(ready.computed_at),
        "latest_reading": _rfc(forecast.origin),
        "trained_at": _rfc(ready.trained_at),
        "trained_from": _rfc(model.trained_from),
        "trained_to": _rfc(model.trained_to),
        "points": points,
        "backtest": backtest_body(model),
        "backtest_note": model.backtest_note,
    }


def backtest_body(model: SiteModel) -> dict[str, Any] | None:
    found = model.backtest
    if found is None:
        return None
    return {
        "test_from": _rfc(found.test_from),
        "test_to": _rfc(found.test_to),
        "refits": found.refits,
        "unit": "mean absolute error in percentage points of capacity (lower is better)",
        "horizons": [
            {
                "horizon_min": s.horizon_min,
                **{name: _round(s.mae[name]) for name in METHODS},
                "n": s.n,
                "band_10_90_coverage": _round(s.band_coverage),
                "model_beats_persistence": found.beats_persistence(s.horizon_min),
            }
            for s in found.scores
        ],
    }


def _round(value: float) -> float | None:
    return round(value, 3) if np.isfinite(value) else None


def _rfc(seconds: float) -> str:
    return ns_to_rfc3339(int(seconds * 1_000_000_000))
