"""The kiosk page, the staff page and their static files, served locally so no screen needs the internet.

Both pages carry a Content-Security-Policy that lets the browser load and connect to this host only:
even a stray URL in a figure cannot make the showroom screen call out.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import plotly
from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import FileResponse

import dashboards
from api.routes.sites import etag_matches
from dashboards.assets import BUNDLE, AssetError, verified

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
STATIC = Path(dashboards.__file__).resolve().parent / "static"
FULL_PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
_FILES = {
    "kiosk.js": "text/javascript",
    "twin.js": "text/javascript",
    "story.js": "text/javascript",
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


@dataclass(frozen=True)
class PlotlyScript:
    """The plotly.js the pages load as ``/static/plotly.min.js``, held in memory."""

    name: str
    content: bytes

    @cached_property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.content).hexdigest()[:16]}"'

    @cached_property
    def gzipped(self) -> bytes:
        """Compressed once per process (about a third of the size): a cold kiosk start waits less."""
        return gzip.compress(self.content, compresslevel=6, mtime=0)


def choose_plotly(bundle: Path = BUNDLE, fallback: Path = FULL_PLOTLY_JS) -> PlotlyScript:
    """The pages' partial bundle (dashboards/plotly/), else the full plotly.js of the plotly package."""
    try:
        script = PlotlyScript(bundle.name, verified(bundle))
    except AssetError as exc:
        log.warning("kiosk plotly.js: the plotly package's full bundle (a cold start is slower): %s", exc)
        return PlotlyScript(fallback.name, fallback.read_bytes())
    log.info("kiosk plotly.js: %s", bundle.name)
    return script


@router.get("/static/plotly.min.js")
def plotly_js(
    request: Request,
    accept_encoding: str = Header("", include_in_schema=False),
    if_none_match: str | None = Header(None, include_in_schema=False),
) -> Response:
    """Plotly, served from this host; gzipped when the browser takes it, 304 when it has it already."""
    script: PlotlyScript = request.app.state.plotly
    gzipped = "gzip" in accept_encoding.lower()
    # One tag per encoding: the two bodies differ, and a cache keeps them apart (Vary).
    etag = f'{script.etag[:-1]}-gzip"' if gzipped else script.etag
    headers = {"Cache-Control": "max-age=86400", "Vary": "Accept-Encoding", "ETag": etag}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    if not gzipped:
        return Response(script.content, media_type="text/javascript", headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(script.gzipped, media_type="text/javascript", headers=headers)


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    if name not in _FILES:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=_FILES[name], headers={"Cache-Control": "no-cache"})
