"""The kiosk page of a site without a simulator (real sensors) in a real headless Chromium against the real
stack (mosquitto, ingester, InfluxDB, API). The twin view of a simulated site: test_kiosk_twin.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboards.assets import BUNDLE
from parking.events import ns_to_rfc3339
from parklotse.servers import free_port
from tests.browser.conftest import Tab
from tests.browser.contract import CONTRACT_PATHS, occupancy, serve_contract_data, serve_contract_failures
from tests.conftest import READY_DEADLINE_S, Servers, _healthy
from tests.helpers import Service, publish_all, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]

FREE = "rgb(0, 158, 115)"
OCCUPIED = "rgb(213, 94, 0)"
# How a bay looks on screen now: the rendered SVG point of the bay trace (the map's last trace).
RENDERED_BAY = """(bay) => {
  const k = window.kiosk && window.kiosk.state;
  if (!k || !k.index.has(bay)) return null;
  const traces = document.querySelectorAll('#map .scatterlayer .trace');
  const point = traces[traces.length - 1].querySelectorAll('path.point')[k.index.get(bay)];
  return point ? {fill: point.style.fill, stroke: point.style.stroke, d: point.getAttribute('d')} : null;
}"""


def reading(occupied: bool, time_ns: int | None = None) -> bytes:
    return json.dumps({"occupied": occupied, "ts": ns_to_rfc3339(time_ns or time.time_ns())}).encode()


def open_kiosk(tab: Tab, base: str, query: str = "") -> None:
    tab.page.goto(f"{base}/{query}")
    tab.page.wait_for_selector("body[data-ready='1']")


def rendered(tab: Tab, bay: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = tab.page.evaluate(RENDERED_BAY, bay)
    return result


def wait_until_shown(tab: Tab, bay: str, colour: str, timeout_s: float = 5.0) -> None:
    """Until the bay's marker is drawn in that colour, checked in every animation frame."""
    tab.page.wait_for_function(
        f"([bay, colour]) => {{ const r = ({RENDERED_BAY})(bay); return r !== null && r.fill === colour; }}",
        arg=[bay, colour],
        polling="raf",
        timeout=timeout_s * 1000,
    )


def text_of(tab: Tab, selector: str) -> str:
    return tab.page.locator(selector).inner_text().strip()


def weekday_labels(tab: Tab) -> set[str]:
    labels: list[str] = tab.page.eval_on_selector_all(
        "#heatmap .yaxislayer-above g.ytick", "els => els.map(e => e.textContent.trim())"
    )
    return set(labels)


def assert_stays_local(tab: Tab) -> None:
    assert tab.requests, "the page made no requests at all"
    assert tab.foreign_requests() == [], "requests left the host"


def simulator_requests(tab: Tab) -> list[str]:
    """Requests for one simulator's figures (the list of running simulators always answers 200)."""
    return [
        u
        for u in tab.requests
        if "/api/v1/kpis" in u or "/api/v1/simulator?" in u or u.endswith("/simulator")
    ]


@pytest.mark.parametrize(("site", "bays"), [("showroom", 16), ("town-centre", 720)])
def test_every_panel_renders_offline_in_german(
    servers: Servers, ingester: Service, api_server: str, tab: Tab, site: str, bays: int
) -> None:
    # Every bay reports: about two thirds occupied, in a fixed pattern.
    ids = [b["bay"] for b in httpx.get(f"{api_server}/api/v1/sites/{site}/bays", timeout=5).json()]
    publish_all(
        servers.mqtt_url, [(f"parking/{site}/{b}/status", reading(i % 3 != 1)) for i, b in enumerate(ids)]
    )
    serve_contract_data(tab.page)
    open_kiosk(tab, api_server, f"?site={site}")
    page = tab.page
    wait_for(lambda: text_of(tab, "#n-unknown") == "0", 15, "every bay on screen")
    assert text_of(tab, "#n-free") == f"{len(ids) // 3:,}".replace(",", ".")

    assert page.evaluate("document.documentElement.lang") == "de"
    assert text_of(tab, "h1") == "Parken mit Sensoren"
    # Map: every bay is a point of the bay trace; polygons (showroom) get one fill trace per status.
    assert page.evaluate("document.querySelectorAll('#map .scatterlayer .trace')[0] !== undefined")
    points = page.evaluate(
        "(() => { const t = document.querySelectorAll('#map .scatterlayer .trace');"
        " return t[t.length - 1].querySelectorAll('path.point').length; })()"
    )
    assert points == bays
    assert text_of(tab, "#n-total") == f"{bays:,}".replace(",", ".")
    assert "frei von" in text_of(tab, "#map-card h2")
    # Zone tiles: free / total per zone, totals adding up to the site.
    totals = page.eval_on_selector_all(
        ".zone .ztotal", "els => els.map(e => Number(e.textContent.replace(/[^0-9]/g, '')))"
    )
    assert totals and sum(totals) == bays
    # Occupancy and heatmap are drawn (an SVG path per series / a heatmap image).
    assert page.locator("#occ-card").get_attribute("data-state") == "ok"
    # History and the "now" marker; the marker follows the bays' reports, drawn in the next flush.
    wait_for(lambda: page.locator("#occupancy .scatterlayer .trace").count() >= 2, 5, "occupancy lines")
    occupied = sum(1 for i in range(len(ids)) if i % 3 != 1)
    share = f"{round(100 * occupied / len(ids))} %"
    wait_for(lambda: text_of(tab, "#occ-now") == share, 5, f"the current occupancy {share} in large type")
    assert page.locator("#heat-card").get_attribute("data-state") == "ok"
    assert page.locator("#heatmap .hm image, #heatmap .heatmaplayer image").count() >= 1
    assert page.locator("#heatmap .yaxislayer-above g.ytick").count() == 7
    # No simulator runs here: the page shows what is measured, and the model's reading of it, labelled.
    assert page.evaluate("document.body.dataset.mode") == "sensors"
    assert not page.locator("#twin-without").is_visible()
    assert page.locator("#measured-card").get_attribute("data-state") == "ok"
    wait_for(lambda: text_of(tab, "#m-occ") == share, 5, "the measured occupancy")
    assert page.locator("#m-zones .m-zone").count() == len(totals)
    assert text_of(tab, "#m-search").startswith("≈ ")
    assert text_of(tab, "#measured-card .model-badge") == "Modellrechnung"
    assert "keine Messung" in text_of(tab, "#measured-card .estimate")
    assert "docs/research.md" in text_of(tab, "#m-source")
    assert simulator_requests(tab) == []
    # Badges: data freshness and sensor health.
    wait_for(lambda: "Live" in text_of(tab, "#freshness"), 5, "the freshness badge to say Live")
    assert text_of(tab, "#health") == f"Sensoren: alle {bays:,} melden".replace(",", ".")
    assert page.get_attribute("#health", "data-level") == "ok"
    # Fonts are the system's DejaVu Sans; nothing is downloaded.
    assert page.evaluate("document.fonts.check('30px \"DejaVu Sans\"')")
    assert_stays_local(tab)
    assert tab.console_errors() == []
    tab.screenshot(f"kiosk-{site}-de")


def test_kiosk_is_served_with_a_local_only_content_security_policy(api_server: str) -> None:
    page = httpx.get(f"{api_server}/", timeout=5)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    plotly = httpx.get(f"{api_server}/static/plotly.min.js", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert plotly.status_code == 200 and plotly.headers["content-encoding"] == "gzip"
    assert b"plotly.js" in plotly.content[:200]  # httpx has decompressed it


def test_kiosk_loads_the_partial_plotly_bundle_that_comes_with_the_package(api_server: str) -> None:
    # dashboards/plotly/: only the traces the pages draw; the full bundle would start a cold screen slower.
    plotly = httpx.get(f"{api_server}/static/plotly.min.js", timeout=10)
    assert plotly.status_code == 200
    assert plotly.content == BUNDLE.read_bytes()


def test_a_bay_changes_on_screen_within_two_seconds_of_its_mqtt_message(
    servers: Servers, ingester: Service, api_server: str, tab: Tab
) -> None:
    open_kiosk(tab, api_server)
    bay = "A03"
    for occupied in (True, False, True):
        colour = OCCUPIED if occupied else FREE
        if (rendered(tab, bay) or {}).get("fill") == colour:
            continue  # already shown so (a retained state from an earlier test): flip the next one
        started = time.monotonic()
        publish_all(servers.mqtt_url, [(f"parking/showroom/{bay}/status", reading(occupied))])
        wait_until_shown(tab, bay, colour)
        elapsed = time.monotonic() - started
        assert elapsed <= 2.0, f"{bay} took {elapsed:.2f} s to change on screen"
    shape = rendered(tab, bay)
    assert shape is not None and shape["fill"] == OCCUPIED
    assert_stays_local(tab)
    assert tab.console_errors(CONTRACT_PATHS) == []
    tab.screenshot("kiosk-live-change")


def test_english_by_query_and_by_the_toggle(api_server: str, tab: Tab) -> None:
    serve_contract_data(tab.page)
    open_kiosk(tab, api_server, "?lang=en")
    page = tab.page
    assert page.evaluate("document.documentElement.lang") == "en"
    assert text_of(tab, "h1") == "Parking with sensors"
    assert text_of(tab, "#measured-card .model-badge") == "Model estimate"
    assert "free of" in text_of(tab, "#map-card h2")
    assert weekday_labels(tab) == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    tab.screenshot("kiosk-showroom-en")

    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'de'")
    assert text_of(tab, "h1") == "Parken mit Sensoren"
    assert text_of(tab, "#lang") == "EN"
    wait_for(lambda: "Mo" in weekday_labels(tab), 5, "German weekdays on the heatmap")
    assert weekday_labels(tab) == {"Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"}
    assert "lang=en" not in page.url
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert "lang=en" in page.url  # a reload keeps the language
    assert_stays_local(tab)
    assert tab.console_errors() == []


def test_history_intervals_in_which_too_few_bays_reported_are_gaps(
    servers: Servers, ingester: Service, api_server: str, tab: Tab
) -> None:
    serve_contract_data(tab.page, thin=10)  # the first 10 of 96 points: 3 of 16 bays reported
    open_kiosk(tab, api_server)
    history = tab.page.wait_for_function("() => window.kiosk.state.occHistory").json_value()
    gaps = [point["occupancy"] is None or k < 10 for k, point in enumerate(occupancy("showroom")["points"])]
    assert [value is None for value in history["y"]] == gaps
    assert tab.console_errors() == []


def test_missing_endpoints_show_keine_daten_and_the_rest_keeps_working(
    servers: Servers, ingester: Service, api_server: str, tab: Tab
) -> None:
    serve_contract_failures(tab.page)
    open_kiosk(tab, api_server)
    page = tab.page
    for card in ("#occ-card", "#heat-card"):
        assert page.locator(card).get_attribute("data-state") == "nodata", card
        assert page.locator(f"{card} .nodata").is_visible()
        assert text_of(tab, f"{card} .nodata") == "keine Daten"
    assert text_of(tab, "#m-above") == "–"
    # The live map does not depend on them.
    publish_all(servers.mqtt_url, [("parking/showroom/B02/status", reading(True))])
    wait_until_shown(tab, "B02", OCCUPIED)
    # One sensor of sixteen is not the site: no share, and the tile says why.
    wait_for(lambda: text_of(tab, "#m-occ-label") == "zu wenige Meldungen: 1 von 16 Plätzen", 5, "the why")
    assert text_of(tab, "#m-occ") == "–"
    assert text_of(tab, "#occ-now") == "–"
    assert page.locator(".zone.full").count() == 0
    assert_stays_local(tab)
    assert tab.console_errors(CONTRACT_PATHS) == []
    assert tab.errors == []
    tab.screenshot("kiosk-degraded")


def test_the_page_reconnects_by_itself_after_the_api_restarts(
    servers: Servers, ingester: Service, stack_env: dict[str, str], tmp_path: Path, tab: Tab
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def start_api(name: str) -> Service:
        service = Service(name, ["api", "--port", str(port)], stack_env, tmp_path / f"{name}.log").start()
        wait_for(lambda: _healthy(f"{base}/readyz") or not service.alive(), READY_DEADLINE_S, f"{name} ready")
        assert service.alive(), service.output()
        return service

    api = start_api("api-1")
    try:
        open_kiosk(tab, base)
        api.stop()
        wait_for(lambda: tab.page.get_attribute("#freshness", "data-level") == "bad", 10, "offline badge")
        assert "Verbindung unterbrochen" in text_of(tab, "#freshness")
        api = start_api("api-2")
        wait_for(lambda: "Live" in text_of(tab, "#freshness"), 20, "the page to reconnect")
        current = (rendered(tab, "A05") or {}).get("fill")
        occupied = current != OCCUPIED
        publish_all(servers.mqtt_url, [("parking/showroom/A05/status", reading(occupied))])
        wait_until_shown(tab, "A05", OCCUPIED if occupied else FREE)
    finally:
        api.stop()
    assert_stays_local(tab)
    # While the API was down the browser logged failed reconnects; nothing else may fail.
    assert [e for e in tab.console_errors(CONTRACT_PATHS) if "/api/v1/stream" not in e] == []
    assert tab.errors == []


def test_long_running_page_keeps_its_buffers_and_dom_bounded(api_server: str, tab: Tab) -> None:
    """A day of updates in fast motion: the DOM does not grow, nor do the page's buffers."""
    serve_contract_data(tab.page)
    open_kiosk(tab, api_server)
    page = tab.page
    # A warm-up round first: the first redraws add Plotly's own layers, which is not growth.
    warm_up = """async (count) => {
          const bays = [...window.kiosk.state.index.keys()];
          for (let i = 0; i < count; i++) {
            const bay = bays[i % bays.length];
            const now = new Date().toISOString();
            window.kiosk.applyBay({site: 'showroom', bay, status: i % 2 ? 'occupied' : 'free',
              since: now, last_seen: now, battery_v: 3.6, battery_pct: null});
            if (i % 10 === 0) await window.kiosk.flush();
          }
          window.kiosk.sampleOccupancy();
          await window.kiosk.flush();
        }"""
    page.evaluate(warm_up, 200)
    nodes_before = page.evaluate("document.getElementsByTagName('*').length")
    page.evaluate(
        """async () => {
          const bays = [...window.kiosk.state.index.keys()];
          for (let i = 0; i < 3000; i++) {
            const bay = bays[i % bays.length];
            const now = new Date().toISOString();
            window.kiosk.applyBay({site: 'showroom', bay, status: i % 3 ? 'occupied' : 'free',
              since: now, last_seen: now, battery_v: 3.6, battery_pct: null});
            if (i % 10 === 0) await window.kiosk.flush();
          }
          for (let i = 0; i < 2000; i++) window.kiosk.sampleOccupancy();
          await window.kiosk.flush();
        }"""
    )
    state = page.evaluate(
        "({live: window.kiosk.state.occLive.x.length, bays: window.kiosk.state.bays.size,"
        " nodes: document.getElementsByTagName('*').length, updates: window.kiosk.state.updates})"
    )
    assert state["live"] <= 24 * 60
    assert state["bays"] == 16
    assert state["updates"] >= 300
    assert abs(state["nodes"] - nodes_before) <= 5, (nodes_before, state["nodes"])
    assert tab.console_errors() == []


def test_a_bay_whose_sensor_falls_silent_turns_unknown_by_the_apis_cutoff(
    servers: Servers, ingester: Service, stack_env: dict[str, str], tmp_path: Path, tab: Tab
) -> None:
    # PARKLOTSE_STALE_AFTER_S reaches the screen: with a 30 s cutoff, a reading taken 18 s ago shows
    # the bay free, and about 12 s later the page turns it unknown by itself, with no message between.
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**stack_env, "PARKLOTSE_STALE_AFTER_S": "30"}
    api = Service("api-stale", ["api", "--port", str(port)], env, tmp_path / "api.log").start()
    try:
        wait_for(lambda: _healthy(f"{base}/readyz") or not api.alive(), READY_DEADLINE_S, "API ready")
        assert api.alive(), api.output()
        open_kiosk(tab, base)
        heard = time.time_ns() - 18 * 1_000_000_000
        publish_all(servers.mqtt_url, [("parking/showroom/A06/status", reading(False, heard))])
        wait_until_shown(tab, "A06", FREE)
        tab.page.wait_for_function(
            f"(bay) => {{ const r = ({RENDERED_BAY})(bay); return r !== null && r.fill !== '{FREE}'; }}",
            arg="A06",
            timeout=20_000,
        )
        assert text_of(tab, "#n-free") == "0"
        bay = httpx.get(f"{base}/api/v1/sites/showroom/bays/A06", timeout=5).json()
        assert bay["status"] == "unknown"  # as the API says
    finally:
        api.stop()
    assert tab.errors == []
