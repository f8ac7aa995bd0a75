"""``parklotse ingest``: run the ingester with its metrics and health endpoint until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.metrics import IngestMetrics
from ingest.service import Ingester
from ingest.settings import IngestSettings
from parking.registry import load_registry
from parking.store import InfluxStore

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our own loop: the ingester owns SIGINT/SIGTERM, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def metrics_app(ingester: Ingester) -> Starlette:
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(ingester.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        health = ingester.health()
        return JSONResponse(health, status_code=200 if health["broker_connected"] else 503)

    return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])


async def serve(settings: IngestSettings) -> None:
    registry = load_registry(settings.sites_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with InfluxStore.from_settings(settings) as store:
        ingester = Ingester(settings, registry, store, IngestMetrics())
        tasks = [asyncio.create_task(ingester.run(stop))]
        server: uvicorn.Server | None = None
        if settings.metrics_port:
            config = uvicorn.Config(
                metrics_app(ingester),
                host=settings.metrics_host,
                port=settings.metrics_port,
                log_level="warning",
                lifespan="off",
            )
            server = _EmbeddedServer(config)
            tasks.append(asyncio.create_task(server.serve()))
        log.info(
            "ingesting from %s into %s/%s (%d sites)",
            settings.mqtt_url,
            settings.influx_url,
            settings.influx_db,
            len(registry.sites),
        )
        await stop.wait()
        if server is not None:
            server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks)
        ingester.close()
    log.info("ingester stopped")
