"""The staff page in headless Chromium: token once, simulator controls, open-data links."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser.conftest import Tab
from tests.browser.contract import CONTRACT_PATHS

if TYPE_CHECKING:
    from playwright.sync_api import Route

pytestmark = [pytest.mark.browser, pytest.mark.integration]
TOKEN = "demo-token"


class FakeSimulator:
    """Answers /api/v1/simulator like the contract says, and keeps what the page sent."""

    def __init__(self) -> None:
        self.posts: list[tuple[str | None, dict[str, Any]]] = []
        self.gets: list[str | None] = []
        self.refuse = False
        self.status: dict[str, Any] = {
            "state": "running",
            "scenario": "town-centre",
            "scenarios": ["town-centre", "showroom"],
            "speed": 60,
            "guidance_share": 0.5,
            "sensor_latency_s": 0,
            "sim_time": "2026-11-21T10:00:00+01:00",
        }

    def __call__(self, route: Route) -> None:
        request = route.request
        auth = request.headers.get("authorization")
        if request.method == "GET":
            self.gets.append(auth)
            route.fulfill(status=200, content_type="application/json", body=json.dumps(self.status))
            return
        if self.refuse or auth != f"Bearer {TOKEN}":
            route.fulfill(status=401, content_type="application/json", body='{"detail": "bad token"}')
            return
        body = json.loads(request.post_data or "{}")
        self.posts.append((auth, body))
        if body["action"] == "pause":
            self.status["state"] = "paused"
        elif body["action"] == "start":
            self.status.update(state="running", **{k: v for k, v in body.items() if k != "action"})
        route.fulfill(status=200, content_type="application/json", body=json.dumps(self.status))


def test_staff_page_controls_the_simulator_with_a_token(api_server: str, tab: Tab) -> None:
    page = tab.page
    simulator = FakeSimulator()
    page.route("**/api/v1/simulator", simulator)
    response = page.goto(f"{api_server}/staff")
    assert response is not None and "default-src 'self'" in response.headers["content-security-policy"]
    assert page.locator("#login").is_visible() and not page.locator("#controls").is_visible()

    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#controls", state="visible")
    page.wait_for_function("() => document.querySelector('#sim-state').textContent === 'läuft'")
    assert simulator.gets[-1] == f"Bearer {TOKEN}"
    assert page.locator("#scenario option").all_text_contents() == ["town-centre", "showroom"]
    assert page.input_value("#guidance") == "50"

    page.select_option("#speed", "120")
    page.eval_on_selector("#guidance", "el => { el.value = '80'; el.dispatchEvent(new Event('input')); }")
    assert page.locator("#guidance-out").inner_text() == "80 %"
    page.fill("#latency", "30")
    page.click("#btn-start")
    page.wait_for_function("() => document.querySelector('#msg').textContent.startsWith('Gesendet')")
    assert simulator.posts[-1] == (
        f"Bearer {TOKEN}",
        {
            "action": "start",
            "scenario": "town-centre",
            "speed": 120,
            "guidance_share": 0.8,
            "sensor_latency_s": 30,
        },
    )
    page.click("#btn-pause")
    page.wait_for_function("() => document.querySelector('#sim-state').textContent === 'pausiert'")
    assert simulator.posts[-1][1] == {"action": "pause"}
    page.click("#btn-reset")
    page.wait_for_function("() => document.querySelector('#msg').textContent.includes('reset')")
    assert simulator.posts[-1][1] == {"action": "reset", "scenario": "town-centre"}

    hrefs: list[str] = page.eval_on_selector_all("#links a", "els => els.map(a => a.getAttribute('href'))")
    for href in (
        "/api/v1/sites/showroom/fiware/parking-spots",
        "/api/v1/sites/showroom/parkapi/parking-sites",
        "/api/v1/datex2/parking-publication-light",
        "/api/v1/sites/town-centre/history.csv",
        "/?site=town-centre",
    ):
        assert href in hrefs
    tab.screenshot("staff")

    # The token is kept for the tab's session: a reload goes straight to the controls.
    page.reload()
    page.wait_for_selector("#controls", state="visible")
    # A refused token is forgotten and asked for again.
    simulator.refuse = True
    page.click("#btn-pause")
    page.wait_for_selector("#login", state="visible")
    assert "abgelehnt" in page.locator("#login-msg").inner_text()
    assert page.evaluate("() => sessionStorage.getItem('parklotse.token')") is None

    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.locator("#login h2").inner_text() == "Access"
    assert tab.foreign_requests() == []
    assert tab.console_errors(CONTRACT_PATHS) == []


def test_staff_page_says_when_the_simulator_endpoint_is_not_there(api_server: str, tab: Tab) -> None:
    page = tab.page
    page.route(
        "**/api/v1/simulator",
        lambda route: route.fulfill(
            status=404, content_type="application/json", body='{"detail": "Not Found"}'
        ),
    )
    page.goto(f"{api_server}/staff")
    page.evaluate(f"() => sessionStorage.setItem('parklotse.token', '{TOKEN}')")
    page.reload()
    page.wait_for_function("() => document.querySelector('#msg').textContent.includes('HTTP 404')")
    assert page.locator("#sim-state").inner_text() == "nicht erreichbar"
    assert tab.console_errors(CONTRACT_PATHS) == []
    assert httpx.get(f"{api_server}/staff", timeout=5).headers["content-type"].startswith("text/html")
