"""The FastAPI application: ``create_app(settings)`` wires everything; nothing happens at import time."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram

from api.broadcast import Broadcaster
from api.deps import Services
from api.guidance import Guide
from api.livefeed import LiveFeed
from api.routes import dashboard, figures, guidance, health, history, opendata, simulator, sites, stream
from api.settings import ApiSettings
from api.simulators import SimulatorBook
from parking.queries import latest_states
from parking.registry import Registry, load_registry
from parking.state import LiveState
from parking.store import InfluxStore, StoreError

log = logging.getLogger(__name__)


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


async def seed_from_store(store: InfluxStore, registry: Registry, live: LiveState) -> None:
    """InfluxDB is the source of truth at start-up; the live feed takes over from there."""
    for site in registry.sites.values():
        for state in await latest_states(store, site.id):
            live.put(state)


def create_app(settings: ApiSettings, registry: Registry | None = None) -> FastAPI:
    registry = registry or load_registry(settings.sites_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live = LiveState(registry)
        broadcaster = Broadcaster(replay=settings.sse_replay)
        async with InfluxStore.from_settings(settings) as store:
            try:
                await seed_from_store(store, registry, live)
            except StoreError as exc:
                log.warning(
                    "could not read the current state from InfluxDB (%s); starting from the live feed", exc
                )
            simulators = SimulatorBook()
            feed = LiveFeed(settings, live, broadcaster, simulators)
            feed.start()
            guide = Guide(stale_after_ns=int(settings.stale_after_s * 1e9))
            app.state.services = Services(
                settings, registry, store, live, broadcaster, feed, simulators, guide
            )
            app.state.rollups = rollups = history.RollupKeeper(store, registry)
            await rollups.start()
            try:
                yield
            finally:
                await rollups.stop()
                feed.stop()

    app = FastAPI(
        title="Parklotse API",
        version="1",
        summary="Live parking occupancy from LoRaWAN sensors, history, guidance and open-data exports.",
        lifespan=lifespan,
    )
    app.state.metrics = ApiMetrics()
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics: ApiMetrics = request.app.state.metrics
        metrics.requests.labels(name, str(response.status_code)).inc()
        metrics.latency.labels(name).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems), "errors": exc.errors()}, status_code=422)

    app.add_exception_handler(StoreError, history.store_error_handler)

    for router in (
        sites.router,
        history.router,
        guidance.router,
        opendata.router,
        simulator.router,
        stream.router,
        figures.router,
        health.router,
        dashboard.router,
    ):
        app.include_router(router)
    return app
