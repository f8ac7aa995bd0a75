"""``parklotse api``: serve the API with uvicorn."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

from api.http_limits import guarded_protocol
from api.settings import ApiSettings
from parking.ports import listening_socket

log = logging.getLogger(__name__)


def server_config(app: Any, settings: ApiSettings) -> uvicorn.Config:
    """uvicorn with the limits of ``api.http_limits`` (uvicorn alone waits for ever on a slow request)."""
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        http=guarded_protocol(
            settings.api_header_timeout_s, settings.api_body_timeout_s, settings.api_max_header_bytes
        ),
        timeout_keep_alive=settings.api_keep_alive_s,
        limit_concurrency=settings.api_max_connections,
    )


def serve(settings: ApiSettings) -> None:
    # Bound first: a taken port stops the API with one line (PortUnavailable, exit code 2) before
    # anything else starts, rather than uvicorn's log lines after the app was built.
    sock = listening_socket(settings.api_host, settings.api_port, what="the API (--port, PARKLOTSE_API_PORT)")
    from api.app import create_app  # the app's imports take a while; a taken port is told at once

    app = create_app(settings)
    config = server_config(app, settings)
    log.info("API and live page on http://%s:%d/", settings.api_host, settings.api_port)
    uvicorn.Server(config).run(sockets=[sock])
