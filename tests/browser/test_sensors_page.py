"""The staff page "Sensoren" in Debian's Chromium: the sensors of a site, their problems, the map."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Tab

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_sensors_page_lists_every_sensor_and_marks_the_problem_bays(api_server: str, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{api_server}/staff/sensors?lang=en")
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
