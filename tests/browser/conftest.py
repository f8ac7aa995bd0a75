"""Headless Chromium from Debian's packages, driven by Playwright, for the kiosk and staff pages.

Playwright's own browser downloads are never used (they cannot be fetched here): the browser is
``/usr/bin/chromium``. Every request a page makes, every console message and every uncaught error is
recorded so that tests can assert that nothing leaves the host and nothing fails.

Screenshots go to ``test-artifacts/screenshots/``; with ``PARKLOTSE_SCREENSHOTS=docs/img`` the ones
the documentation shows are also written there (so an ordinary run never rewrites tracked files).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


# Module scope, not session: Playwright's sync API keeps an event loop marked running in this thread
# while it is open, which would break asyncio.run() in the tests that follow.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium fonts-dejavu-core"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "Playwright for Python is missing: .venv/bin/pip install playwright (no browser download)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Tab:
    """A page in its own browser context, with everything it requested and logged."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, url)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests to anything but this host (data: and blob: URLs never leave the browser)."""
        foreign = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            if parts.scheme not in ("http", "https", "ws", "wss") or parts.hostname not in LOCAL_HOSTS:
                foreign.append(url)
        return foreign

    def console_errors(self, expected_failures: tuple[str, ...] = ()) -> list[str]:
        """Console errors, less 'Failed to load resource' for URLs containing one of expected_failures."""
        errors = []
        for kind, text, url in self.console:
            if kind != "error":
                continue
            if text.startswith("Failed to load resource") and any(part in url for part in expected_failures):
                continue
            errors.append(f"{text} ({url})")
        return errors + [f"uncaught: {e}" for e in self.errors]

    def screenshot(self, name: str, doc: str | None = None) -> Path:
        """Save the page as ``name``; ``doc`` names it for docs/img when PARKLOTSE_SCREENSHOTS says where."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        docs = os.environ.get("PARKLOTSE_SCREENSHOTS")
        if doc and docs:
            folder = Path(docs) if Path(docs).is_absolute() else REPO / docs
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{doc}.png").write_bytes(path.read_bytes())
        return path


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    recorded = Tab(page)

    def on_request(request: Request) -> None:
        recorded.requests.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        recorded.console.append((message.type, message.text, str(message.location.get("url", ""))))

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda error: recorded.errors.append(str(error)))
    try:
        yield recorded
    finally:
        context.close()
