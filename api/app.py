"""The FastAPI application: ``create_app(settings)`` wires everything; nothing happens at import time."""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.broadcast import Broadcaster
from api.current import CurrentView
from api.deps import READ_TOKEN_SCHEME, TOKEN_SCHEME, Services
from api.errors import history_error, rollup_not_ready, store_error
from api.forecasts import ForecastPolicy, ForecastService
from api.guidance import Guide, HoldPolicy
from api.head import HeadAsGet
from api.livefeed import LiveFeed
from api.models import Problem, ValidationProblem
from api.routes import (
    dashboard,
    figures,
    forecast,
    guidance,
    health,
    history,
    opendata,
    simulator,
    sites,
    stream,
)
from api.routes.sensors import router as sensors_router
from api.settings import ApiSettings
from api.simulators import SimulatorBook
from parking.history.planner import RollupNotReady
from parking.history.rollups import RollupKeeper, RollupPolicy
from parking.history.windows import HistoryError
from parking.queries import latest_states
from parking.registry import Registry, load_registry
from parking.state import LiveState
from parking.store import InfluxStore, StoreError

log = logging.getLogger(__name__)


class RequestMetrics:
    """Counts and times every HTTP request by route template and status.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs each
    request in an extra task and copies the response through a stream, which costs more than
    the cheapest routes themselves.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500  # what the client gets if the app fails before it starts a response

        async def send_and_note(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router puts the matched route into the scope (FastAPI), so its template is known.
            name = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(name, str(status_code)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "parklotse_api_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "parklotse_api_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.states_refused = Counter(
            "parklotse_api_state_messages_refused",
            "State messages the live feed ignored: malformed, or dated beyond the allowed clock skew",
            ["reason"],
            registry=self.registry,
        )
        self.simulator_messages_refused = Counter(
            "parklotse_api_simulator_messages_refused",
            "Simulator messages (status, vehicles) the live feed ignored: they do not fit the contract",
            ["kind"],
            registry=self.registry,
        )


async def seed_from_store(store: InfluxStore, registry: Registry, live: LiveState) -> None:
    """InfluxDB is the source of truth at start-up; the live feed takes over from there."""
    for site in registry.sites.values():
        for state in await latest_states(store, site.id):
            live.put(state)


def json_safe(value: Any) -> Any:
    """Pydantic's error details as JSON: bytes, exceptions, NaN and infinity become text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value[:200].decode("utf-8", "replace")
    return str(value)


def describe_error(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    if tuple(error["loc"]) == ("body",) and isinstance(error.get("input"), bytes):
        return f"{where}: send a JSON object with Content-Type: application/json"
    return f"{where}: {error['msg']}"


_VALIDATION_REF = {"$ref": "#/components/schemas/ValidationProblem"}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def document_api(schema: dict[str, Any], *, private_reads: bool) -> None:
    """Make the generated OpenAPI document say what the API answers.

    422 bodies are ``ValidationProblem`` (``detail`` a sentence, see the handler below), not
    FastAPI's default; read operations need the token only when private reads are configured.
    """
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, defs = models_json_schema(
        [(ValidationProblem, "validation"), (Problem, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    schemas.update(defs.get("$defs", {}))
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                # Every error body is JSON (the handlers below), whatever the operation's own type.
                content = response.get("content")
                if str(code)[0] in "45" and content and "application/json" not in content:
                    response["content"] = {"application/json": next(iter(content.values()))}
            if "requestBody" in operation:
                responses.setdefault(
                    "400",
                    {
                        "description": "The body could not be read as JSON (e.g. not UTF-8)",
                        "content": {"application/json": {"schema": _PROBLEM_REF}},
                    },
                )
            if "422" in responses:
                description = responses["422"].get("description", "Validation Error")
                if description == "Validation Error":
                    description = "A parameter is invalid; `detail` says which and why"
                responses["422"] = {
                    "description": description,
                    "content": {"application/json": {"schema": _VALIDATION_REF}},
                }
            security = operation.get("security", [])
            if not private_reads or any(TOKEN_SCHEME in need for need in security):
                # Public reads, or the token is needed anyway (control): only the control scheme stays.
                security = [need for need in security if READ_TOKEN_SCHEME not in need]
            if security:
                operation["security"] = security
                unauthorized = responses.setdefault("401", {"description": "Missing or wrong bearer token"})
                unauthorized.setdefault("content", {"application/json": {"schema": _PROBLEM_REF}})
            else:
                operation.pop("security", None)
    if not private_reads:
        components.get("securitySchemes", {}).pop(READ_TOKEN_SCHEME, None)


def create_app(settings: ApiSettings, registry: Registry | None = None) -> FastAPI:
    registry = registry or load_registry(settings.sites_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live = LiveState(registry)
        broadcaster = Broadcaster(replay=settings.sse_replay)
        async with InfluxStore.from_settings(settings) as store:
            try:
                # As the ingester does: on a fresh system the API may start first.
                await store.ensure_database()
                await seed_from_store(store, registry, live)
            except StoreError as exc:
                log.warning(
                    "could not read the current state from InfluxDB (%s); starting from the live feed", exc
                )
            sim_refused = app.state.metrics.simulator_messages_refused
            simulators = SimulatorBook(on_refused=lambda kind: sim_refused.labels(kind).inc())
            stale_after_ns = int(settings.stale_after_s * 1e9)
            current = CurrentView(live, stale_after_ns)
            refused = app.state.metrics.states_refused
            feed = LiveFeed(
                settings,
                live,
                broadcaster,
                simulators,
                on_refused=lambda r: refused.labels(r).inc(),
                shown=current.shown,
            )
            feed.start()
            guide = Guide(
                HoldPolicy(
                    hold_s=settings.guidance_hold_s,
                    scarce_hold_s=settings.guidance_scarce_hold_s,
                    scarce_free_share=settings.guidance_scarce_free_share,
                    max_held_share=settings.guidance_max_held_share,
                    client_holds=settings.guidance_client_holds,
                )
            )
            policy = RollupPolicy(
                enabled=settings.rollup_enabled,
                interval_s=settings.rollup_interval_s,
                recheck_s=settings.rollup_recheck_s,
                chunk_days=settings.rollup_chunk_days,
            )
            rollups = RollupKeeper(store, registry, policy)
            forecasts = ForecastService(
                store,
                registry,
                rollups,
                ForecastPolicy(
                    enabled=settings.forecast_enabled,
                    history_days=settings.forecast_history_days,
                    backtest_days=settings.forecast_backtest_days,
                    refit_s=settings.forecast_refit_s,
                    refresh_s=settings.forecast_refresh_s,
                    holidays=settings.forecast_holidays,
                ),
            )
            app.state.services = Services(
                settings,
                registry,
                store,
                live,
                broadcaster,
                feed,
                simulators,
                guide,
                current,
                forecasts,
                rollups=rollups,
            )
            await rollups.start()
            await forecasts.start()
            # What start-up made (registry, states, caches) lives as long as the process: the
            # collector need not walk it again, which keeps its full passes short under load.
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                await forecasts.stop()
                await rollups.stop()
                feed.stop()

    # FastAPIOffline: /docs (Swagger UI 5) served from this host, not from a CDN, so the API's
    # documentation works in a showroom or town hall without internet. No /redoc: ReDoc loads its
    # logo from the internet.
    app = FastAPIOffline(
        redoc_url=None,
        title="Parklotse API",
        version="1",
        summary="Live parking occupancy from LoRaWAN sensors, history, guidance and open-data exports.",
        lifespan=lifespan,
        max_body_size=settings.api_max_body_bytes,
    )
    app.state.metrics = ApiMetrics()
    app.state.plotly = dashboard.choose_plotly()
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )

    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    app.add_middleware(HeadAsGet)

    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            schema = generate_openapi()
            document_api(schema, private_reads=settings.api_private_reads)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        # The errors may hold what cannot be JSON (a body's bytes, NaN, an exception): made safe.
        return JSONResponse(
            {"detail": "; ".join(describe_error(e) for e in errors), "errors": json_safe(errors)},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette lists only the methods of the first route whose path matched.
            allowed = [
                method
                for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
                if any(
                    # HEAD is served wherever GET is (api.head)
                    route.matches({**request.scope, "method": "GET" if method == "HEAD" else method})[0]
                    is Match.FULL
                    for route in app.router.routes
                )
            ]
            return JSONResponse(
                {"detail": exc.detail}, status_code=405, headers={"Allow": ", ".join(allowed)}
            )
        return await http_exception_handler(request, exc)

    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(HistoryError, history_error)
    app.add_exception_handler(RollupNotReady, rollup_not_ready)

    for router in (
        sites.router,
        history.router,
        forecast.router,
        guidance.router,
        opendata.router,
        simulator.router,
        stream.router,
        figures.router,
        health.router,
        dashboard.router,
        sensors_router,
    ):
        app.include_router(router)
    return app
