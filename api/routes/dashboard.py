"""The kiosk page, the staff page and their static files, served locally so no screen needs the internet.

Both pages carry a Content-Security-Policy that lets the browser load and connect to this host only:
even a stray URL in a figure cannot make the showroom screen call out.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

import plotly
from fastapi import APIRouter, Header, HTTPException, Response
from fastapi.responses import FileResponse

import dashboards

router = APIRouter(include_in_schema=False)
STATIC = Path(dashboards.__file__).resolve().parent / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
_FILES = {
    "kiosk.js": "text/javascript",
    "kiosk.css": "text/css",
    "staff.js": "text/javascript",
    "staff.css": "text/css",
}
# Plotly sets inline styles and draws fill patterns as SVG; everything else comes from 'self'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
}


@router.get("/")
def kiosk() -> FileResponse:
    """The showroom screen (German; ``?lang=en`` for English, ``?site=`` for another site)."""
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=_PAGE_HEADERS)


@router.get("/staff")
def staff() -> FileResponse:
    """Controls for hub staff: simulator scenario, start/pause, speed, guidance share, reset."""
    return FileResponse(STATIC / "staff.html", media_type="text/html", headers=_PAGE_HEADERS)


@cache
def _plotly_gzip() -> tuple[bytes, str]:
    """plotly.min.js compressed once per process (4.8 MB → about 1.4 MB), and its ETag."""
    raw = PLOTLY_JS.read_bytes()
    return gzip.compress(raw, compresslevel=6, mtime=0), f'"{hashlib.sha256(raw).hexdigest()[:16]}"'


@router.get("/static/plotly.min.js")
def plotly_js(accept_encoding: str = Header("", include_in_schema=False)) -> Response:
    """Plotly from the installed plotly package; gzipped, so a cold kiosk start waits less for it."""
    headers = {"Cache-Control": "max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" not in accept_encoding.lower():
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=headers)
    body, etag = _plotly_gzip()
    headers.update({"Content-Encoding": "gzip", "ETag": etag})
    return Response(body, media_type="text/javascript", headers=headers)


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    if name not in _FILES:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=_FILES[name], headers={"Cache-Control": "no-cache"})
