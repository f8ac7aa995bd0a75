"""The staff page in headless Chromium: token once, simulator controls, open-data links."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser.conftest import Tab

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = [pytest.mark.browser, pytest.mark.integration]
TOKEN = "demo-token"


PRESETS = [
    {
        "name": name,
        "title": {"de": de, "en": en},
        "description": {"de": f"{de}: eine Zeile", "en": f"{en}: one line"},
        "day": "saturday" if name == "markttag" else "weekday",
        "loop_start_h": 9.0,
        "loop_end_h": 19.0,
    }
    for name, de, en in (
        ("werktag", "Werktag", "Weekday"),
        ("markttag", "Markttag", "Market day"),
        ("abend", "Abend", "Evening"),
        ("ausfall", "Sensoren ausgefallen", "Sensors down"),
    )
]


class FakeSimulator:
    """Answers /api/v1/simulators and /api/v1/simulator as the contract says, and keeps what the page sent."""

    def __init__(self) -> None:
        self.posts: list[tuple[str | None, dict[str, Any]]] = []
        self.gets: list[str | None] = []
        self.refuse = False
        self.status: dict[str, Any] = {
            "site": "showroom",
            "model_site": "town-centre",
            "state": "running",
            "preset": "werktag",
            "presets": PRESETS,
            "window_hours": [9.0, 19.0],
            "steering": "app",
            "speed": 60,
            "guidance_share": 0.5,
            "sensor_latency_s": 0,
            "sim_time": "2026-11-21T10:00:00+01:00",
            "day_label": "Samstag · Werktag",
        }

    def __call__(self, route: Route) -> None:
        request = route.request
        auth = request.headers.get("authorization")
        if request.url.split("?")[0].endswith("/simulators"):
            summary = {
                k: self.status[k] for k in ("site", "model_site", "state", "preset", "sim_time", "day_label")
            }
            route.fulfill(status=200, content_type="application/json", body=json.dumps([summary]))
            return
        if request.method == "GET":
            self.gets.append(auth)
            route.fulfill(status=200, content_type="application/json", body=json.dumps(self.status))
            return
        if self.refuse or auth != f"Bearer {TOKEN}":
            route.fulfill(status=401, content_type="application/json", body='{"detail": "bad token"}')
            return
        body = json.loads(request.post_data or "{}")
        self.posts.append((auth, body))
        if body.get("action") == "pause":
            self.status["state"] = "paused"
        elif body.get("action") == "start":
            self.status["state"] = "running"
        self.status.update(
            {k: v for k, v in body.items() if k in self.status and k not in ("action", "site")}
        )
        route.fulfill(status=202, content_type="application/json", body=json.dumps({"accepted": body}))


def sent(page: Page, fragment: str) -> None:
    """Wait until the page reports a command containing ``fragment`` as accepted."""
    page.wait_for_function(
        "f => { const t = document.querySelector('#msg').textContent;"
        " return t.startsWith('Gesendet') && t.includes(f); }",
        arg=fragment,
        timeout=5000,
    )


def test_staff_page_controls_the_simulator_with_a_token(api_server: str, tab: Tab) -> None:
    page = tab.page
    simulator = FakeSimulator()
    page.route("**/api/v1/simulator*", simulator)
    response = page.goto(f"{api_server}/staff")
    assert response is not None and "default-src 'self'" in response.headers["content-security-policy"]
    assert page.locator("#login").is_visible() and not page.locator("#controls").is_visible()

    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#controls", state="visible")
    page.wait_for_function("() => document.querySelector('#sim-state').textContent === 'läuft'")
    assert simulator.gets[-1] == f"Bearer {TOKEN}"
    # The stories, each with what it does in one line; the running one marked.
    assert page.locator("#presets .preset b").all_text_contents() == [
        "Werktag",
        "Markttag",
        "Abend",
        "Sensoren ausgefallen",
    ]
    assert page.locator("#presets .preset.active b").inner_text() == "Werktag"
    assert page.locator("#presets .preset small").first.inner_text() == "Werktag: eine Zeile"
    assert page.input_value("#guidance") == "50"
    assert page.is_checked("input[name=steering][value=app]")

    page.click("#presets .preset[data-preset=markttag]")
    page.wait_for_function("() => document.querySelector('#msg').textContent.startsWith('Gesendet')")
    assert simulator.posts[-1] == (
        f"Bearer {TOKEN}",
        {"action": "start", "preset": "markttag", "site": "showroom"},
    )
    page.wait_for_selector("#presets .preset.active[data-preset=markttag]")

    page.check("input[name=steering][value=signs]")
    page.select_option("#speed", "120")
    page.eval_on_selector("#guidance", "el => { el.value = '80'; el.dispatchEvent(new Event('input')); }")
    assert page.locator("#guidance-out").inner_text() == "80 %"
    page.fill("#latency", "30")
    page.click("#btn-apply")
    # Wait on what the page shows: the fake only sees a request while Playwright runs its event loop,
    # which a plain Python poll (time.sleep) never lets it do.
    sent(page, '"action":"set"')
    assert simulator.posts[-1][1] == {
        "action": "set",
        "steering": "signs",
        "guidance_share": 0.8,
        "sensor_latency_s": 30,
        "speed": 120,
        "site": "showroom",
    }
    page.eval_on_selector("#hour", "el => { el.value = '11.5'; el.dispatchEvent(new Event('input')); }")
    assert page.locator("#hour-out").inner_text() == "11:30"
    page.click("#btn-jump")
    sent(page, '"hour":11.5')
    assert simulator.posts[-1][1] == {"action": "start", "hour": 11.5, "site": "showroom"}
    page.click("#btn-pause")
    page.wait_for_function("() => document.querySelector('#sim-state').textContent === 'pausiert'")
    assert simulator.posts[-1][1] == {"action": "pause", "site": "showroom"}

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
    assert tab.console_errors(("/api/v1/simulator",)) == []  # the refused token's 401, on purpose


def test_staff_page_says_when_no_simulator_runs_without_a_failed_request(api_server: str, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{api_server}/staff")
    page.evaluate(f"() => sessionStorage.setItem('parklotse.token', '{TOKEN}')")
    page.reload()
    page.wait_for_function("() => document.querySelector('#msg').textContent.includes('kein Simulator')")
    assert page.locator("#sim-state").inner_text() == "kein Simulator"
    assert page.locator("#presets .preset").count() == 0
    assert tab.console_errors() == []
    assert httpx.get(f"{api_server}/staff", timeout=5).headers["content-type"].startswith("text/html")
