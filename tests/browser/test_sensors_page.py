"""The staff page "Sensoren" in Debian's Chromium: the sensors of a site, their problems, the map, and
a sensor's messages and battery as a chart."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from parking.events import ns_to_rfc3339
from tests.browser.conftest import Tab
from tests.conftest import READY_DEADLINE_S, Servers
from tests.helpers import Service, publish_all, wait_for

HOUR = 3600 * 1_000_000_000

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def evaluated(api_server: str) -> str:
    """The API, once its fleet monitor has the first report: until then the sensors answer 503, which
    the browser logs as an error (the monitor's worker process, at nice 10, may take a while to start
    on a busy machine)."""

    def ready() -> bool:
        return httpx.get(f"{api_server}/api/v1/sites/showroom/sensors", timeout=5).status_code == 200

    wait_for(ready, READY_DEADLINE_S, "the fleet monitor's first report")
    return api_server


def test_the_sensors_page_lists_every_sensor_and_marks_the_problem_bays(evaluated: str, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{evaluated}/staff/sensors?lang=en")
    # A fresh showroom: no sensor has reported yet, so all 16 are silent, in the table and on the map.
    page.wait_for_function("() => document.querySelectorAll('#table tbody tr.problem').length === 16")
    assert page.locator("#table tbody tr").first.locator(".codes span").inner_text() == "silent"
    assert page.locator("#bays circle[fill='#D55E00']").count() == 16
    assert page.locator("#counts button[data-code='silent']").inner_text() == "silent: 16"

    page.locator("#table tbody tr[data-bay='A03']").click()
    page.wait_for_function("() => document.querySelector('#detail h2')?.textContent.startsWith('A03')")
    assert "never reported" in page.locator("#detail").inner_text()
    tab.screenshot("sensors-page")
    assert tab.foreign_requests() == []
    assert tab.console_errors() == []


def test_a_sensors_messages_and_battery_show_as_a_chart(
    servers: Servers, ingester: Service, evaluated: str, tab: Tab
) -> None:
    api_server = evaluated
    now = time.time_ns()
    readings = [
        (
            "parking/showroom/A05/status",
            json.dumps(
                {"occupied": h % 2 == 0, "ts": ns_to_rfc3339(now - h * HOUR), "battery_v": 3.5 - 0.01 * h}
            ).encode(),
        )
        for h in (30, 20, 3, 2, 1)
    ]
    publish_all(servers.mqtt_url, readings)
    wait_for(lambda: stored(api_server) == 5, 30, "the readings in InfluxDB")
    page = tab.page
    page.goto(f"{api_server}/staff/sensors?lang=en")
    page.wait_for_selector("#table tbody tr[data-bay='A05']")
    page.locator("#table tbody tr[data-bay='A05']").click()
    page.wait_for_function("() => document.querySelector('#chart')?.dataset.drawn === '1'")
    chart = page.locator("#chart")
    assert chart.get_attribute("data-messages") == "5" and chart.get_attribute("data-hours") == "168"
    assert page.locator("#chart .bars path").count() >= 5  # one bar per hour with messages
    assert tab.foreign_requests() == []
    assert tab.console_errors() == []


def stored(api: str) -> int:
    response = httpx.get(f"{api}/api/v1/sites/showroom/sensors/A05/history", params={"days": 7}, timeout=5)
    return sum(h["messages"] for h in response.json()["hours"]) if response.status_code == 200 else 0


def test_the_kiosk_links_the_problem_count_to_this_page_only_for_staff(evaluated: str, tab: Tab) -> None:
    api_server = evaluated
    page = tab.page
    page.goto(f"{api_server}/?site=showroom&lang=en")
    # A visitor's screen: the sensors' own badge, no request for the fleet and no link.
    page.wait_for_function("() => document.querySelector('#health .txt')?.textContent.startsWith('Sensors')")
    assert page.locator("#fleet-link").count() == 0
    assert not [url for url in tab.requests if "/sensors" in url]

    page.evaluate("() => sessionStorage.setItem('parklotse.token', 'demo-token')")  # as the staff page does
    page.reload()
    page.wait_for_function("() => document.querySelector('#fleet-link')?.dataset.problems === '16'")
    link = page.locator("#fleet-link")
    assert link.get_attribute("href") == "/staff/sensors?site=showroom&lang=en"
    assert link.inner_text() == "Sensors with a problem: 16"
    link.click()
    page.wait_for_function("() => document.querySelectorAll('#table tbody tr.problem').length === 16")
    assert tab.console_errors() == []
