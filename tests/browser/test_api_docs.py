"""The API's own documentation pages work without internet."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import Tab

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_every_operation_from_this_host_alone(api_server: str, tab: Tab) -> None:
    operations = sum(
        len(item) for item in httpx.get(f"{api_server}/openapi.json", timeout=10).json()["paths"].values()
    )
    tab.page.goto(f"{api_server}/docs")
    tab.page.wait_for_selector(".opblock")
    assert tab.page.locator(".opblock").count() == operations
    assert tab.foreign_requests() == []
    assert tab.console_errors() == []
    tab.screenshot("api-docs")


def test_there_is_no_redoc_page_that_would_call_out(api_server: str) -> None:
    # ReDoc loads its logo from cdn.redoc.ly; /docs is the one documentation page.
    assert httpx.get(f"{api_server}/redoc", timeout=5).status_code == 404
