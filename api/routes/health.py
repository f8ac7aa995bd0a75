"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServicesDep
from parking.store import StoreError

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (liveness)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is unreachable"}})
async def readyz(services: ServicesDep) -> Any:
    """Ready to serve: the broker feed is connected and InfluxDB answers."""
    checks: dict[str, str] = {"broker": "ok" if services.feed.connected else "disconnected"}
    try:
        checks["influxdb"] = f"ok ({await services.store.ping()})"
    except StoreError as exc:
        checks["influxdb"] = str(exc)
    ready = all(v.startswith("ok") for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus metrics of the API."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
