"""The kiosk page and its static files, served locally so the screen needs no internet."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

import dashboards

router = APIRouter(include_in_schema=False)
STATIC = Path(dashboards.__file__).resolve().parent / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
_FILES = {"kiosk.js": "text/javascript", "kiosk.css": "text/css"}


@router.get("/")
def kiosk() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    if name not in _FILES:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=_FILES[name], headers={"Cache-Control": "no-cache"})
