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
from dashboards.assets import PLOTLY_CARTESIAN, kept

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


@dataclass
class PlotlyScript:
    """The plotly.js the pages load as ``/static/plotly.min.js``."""

    path: Path

    @cached_property
    def gzipped(self) -> tuple[bytes, str]:
        """The script compressed once per process (about a third of its size), and its ETag."""
        raw = self.path.read_bytes()
        return gzip.compress(raw, compresslevel=6, mtime=0), f'"{hashlib.sha256(raw).hexdigest()[:16]}"'


def choose_plotly() -> PlotlyScript:
    """The cartesian bundle if set-up fetched it, else the full plotly.js of the plotly package."""
    path = kept()
    if path is not None:
        log.info("kiosk plotly.js: %s@%s", PLOTLY_CARTESIAN.package, PLOTLY_CARTESIAN.version)
        return PlotlyScript(path)
    log.warning(
        "kiosk plotly.js: the full bundle of the plotly package (a cold screen starts about 0.6 s "
        "slower); 'python -m dashboards.assets' fetches the smaller %s",
        PLOTLY_CARTESIAN.package,
    )
    return PlotlyScript(FULL_PLOTLY_JS)


@router.get("/static/plotly.min.js")
def plotly_js(request: Request, accept_encoding: str = Header("", include_in_schema=False)) -> Response:
    """Plotly, served from this host; gzipped, so a cold kiosk start waits less for it."""
    script: PlotlyScript = request.app.state.plotly
    headers = {"Cache-Control": "max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" not in accept_encoding.lower():
        return FileResponse(script.path, media_type="text/javascript", headers=headers)
    body, etag = script.gzipped
    headers.update({"Content-Encoding": "gzip", "ETag": etag})
    return Response(body, media_type="text/javascript", headers=headers)


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    if name not in _FILES:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=_FILES[name], headers={"Cache-Control": "no-cache"})
