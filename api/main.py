"""``parklotse api``: serve the API with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from api.settings import ApiSettings
from parking.ports import listening_socket

log = logging.getLogger(__name__)


def serve(settings: ApiSettings) -> None:
    # Bound first: a taken port stops the API with one line (PortUnavailable, exit code 2) before
    # anything else starts, rather than uvicorn's log lines after the app was built.
    sock = listening_socket(settings.api_host, settings.api_port, what="the API (--port, PARKLOTSE_API_PORT)")
    from api.app import create_app  # the app's imports take a while; a taken port is told at once

    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    log.info("API and live page on http://%s:%d/", settings.api_host, settings.api_port)
    uvicorn.Server(config).run(sockets=[sock])
