"""The app's answers to errors the routes do not catch: InfluxDB failing, a history request it
cannot answer. Registered in ``api.app``; no route produces a 500 because of InfluxDB."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from parking.store import StoreUnavailable


async def store_error(_: Request, exc: Exception) -> JSONResponse:
    """InfluxDB down or slow -> 503 (retry later); InfluxDB refusing -> 502."""
    if isinstance(exc, StoreUnavailable):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"detail": str(exc)}, status_code=502)


async def history_error(_: Request, exc: Exception) -> JSONResponse:
    """A history request out of bounds (HistoryError): 422 naming the broken rule."""
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def rollup_not_ready(_: Request, exc: Exception) -> JSONResponse:
    """Rollups not built yet for a range raw readings may not answer: 503, retry in a minute."""
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "60"})
