"""``parklotse api``: serve the API with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from api.app import create_app
from api.settings import ApiSettings

log = logging.getLogger(__name__)


def serve(settings: ApiSettings) -> None:
    app = create_app(settings)
    log.info("API and live page on http://%s:%d/", settings.api_host, settings.api_port)
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level="warning", access_log=False)
