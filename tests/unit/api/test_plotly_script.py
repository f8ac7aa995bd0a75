"""/static/plotly.min.js: the pages' partial bundle, gzipped when the browser takes it, 304 when it has it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.routes.dashboard import FULL_PLOTLY_JS, PlotlyScript, choose_plotly, router
from dashboards.assets import BUNDLE

SCRIPT = b"/**\n* plotly.js (parklotse kiosk) v4.1.1\n*/\nvar Plotly = {};\n"


class Client:
    """GET requests to the dashboard routes in this process (httpx over ASGI, no server)."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.app.include_router(router)
        self.app.state.plotly = PlotlyScript("plotly-kiosk.min.js", SCRIPT)

    def get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        async def get() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kiosk") as client:
                return await client.get(url, headers=headers)

        return asyncio.run(get())


@pytest.fixture(scope="module")
def client() -> Client:
    return Client()


def test_the_committed_partial_bundle_is_chosen() -> None:
    assert choose_plotly().content == BUNDLE.read_bytes()


def test_a_bundle_changed_after_its_build_falls_back_to_the_full_plotly_js(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = tmp_path / "plotly-kiosk.min.js"
    bundle.write_bytes(SCRIPT + b"changed")
    (tmp_path / "plotly-kiosk.min.js.sha256").write_text(
        f"{hashlib.sha256(SCRIPT).hexdigest()}  plotly-kiosk.min.js\n"
    )
    with caplog.at_level(logging.WARNING):
        script = choose_plotly(bundle)
    assert script.name == FULL_PLOTLY_JS.name and script.content == FULL_PLOTLY_JS.read_bytes()
    assert "full bundle" in caplog.text and "the recorded build" in caplog.text


def test_a_browser_that_takes_gzip_gets_it_compressed_with_an_etag(client: Client) -> None:
    answer = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.content == SCRIPT  # httpx has decompressed it
    assert answer.headers["content-encoding"] == "gzip" and answer.headers["vary"] == "Accept-Encoding"
    assert answer.headers["etag"].endswith('-gzip"')


def test_a_browser_that_has_the_script_gets_304_without_a_body(client: Client) -> None:
    for encoding in ("gzip", "identity"):
        etag = client.get("/static/plotly.min.js", headers={"Accept-Encoding": encoding}).headers["etag"]
        again = client.get(
            "/static/plotly.min.js", headers={"Accept-Encoding": encoding, "If-None-Match": etag}
        )
        assert again.status_code == 304 and again.content == b"", encoding
        assert again.headers["etag"] == etag


def test_the_tag_of_one_encoding_does_not_answer_304_for_the_other(client: Client) -> None:
    gzip_tag = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"}).headers["etag"]
    plain = client.get(
        "/static/plotly.min.js", headers={"Accept-Encoding": "identity", "If-None-Match": gzip_tag}
    )
    assert plain.status_code == 200 and plain.content == SCRIPT
    assert "content-encoding" not in plain.headers and plain.headers["etag"] != gzip_tag
