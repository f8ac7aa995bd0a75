"""``parklotse ingest``: run the ingester with its metrics and health endpoint until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
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
from parking.ports import listening_socket
from parking.registry import load_registry
from parking.store import InfluxStore

log = logging.getLogger(__name__)
METRICS_ENDPOINT = "the ingester's /metrics and /healthz (--metrics-port, PARKLOTSE_METRICS_PORT)"


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
    """Run until SIGINT/SIGTERM; raises (and so stops everything) if a part cannot start or fails."""
    registry = load_registry(settings.sites_dir)
    # Bound before anything connects: a taken port stops the ingester at once (PortUnavailable),
    # instead of an ingester without its health endpoint that looks alive and fails its checks.
    sockets = (
        [listening_socket(settings.metrics_host, settings.metrics_port, what=METRICS_ENDPOINT)]
        if settings.metrics_port
        else []
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with InfluxStore.from_settings(settings) as store:
        ingester = Ingester(settings, registry, store, IngestMetrics())
        try:
            log.info(
                "ingesting from %s into %s/%s (%d sites)",
                settings.mqtt_url,
                settings.influx_url,
                settings.influx_db,
                len(registry.sites),
            )
            await _run_until_stopped(ingester, stop, sockets)
        finally:
            ingester.close()
    log.info("ingester stopped")


async def _run_until_stopped(ingester: Ingester, stop: asyncio.Event, sockets: list[socket.socket]) -> None:
    """The ingester and its health endpoint, until a signal or until either of them ends.

    Whatever ends first, everything stops: no ingester without its health endpoint, no health
    endpoint without an ingester. A part that ended by itself ends the process non-zero: its own
    exception if it raised one, SystemExit(1) if it returned.
    """
    tasks = [asyncio.create_task(ingester.run(stop), name="ingester")]
    server: uvicorn.Server | None = None
    if sockets:
        config = uvicorn.Config(metrics_app(ingester), log_level="warning", lifespan="off")
        server = _EmbeddedServer(config)
        tasks.append(asyncio.create_task(server.serve(sockets=sockets), name="metrics server"))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
        ended_early = [task for task in tasks if task.done()] if not stopping.done() else []
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await stopping
    for result in results:
        if isinstance(result, BaseException):
            raise result  # the command line turns it into one line and a non-zero exit
    for task in ended_early:
        log.error("the %s stopped by itself; stopping", task.get_name())
        raise SystemExit(1)
