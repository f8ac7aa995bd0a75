"""The kiosk page of a simulated site: the same town without and with sensors, side by side, live.

Most tests feed the page from ``SimFeed`` (typed simulator messages on the real broker, relayed by the
real API) so that what must appear is known; one runs the real simulator in the market-day preset.
"""

from __future__ import annotations

import io
import os
import re
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from parking.settings import CommonSettings
from tests.browser.conftest import Tab
from tests.browser.contract import serve_contract_data
from tests.browser.simfeed import TODAY, WITH, WITHOUT, SimFeed
from tests.browser.test_kiosk import assert_stays_local, open_kiosk, reading, text_of
from tests.conftest import Servers
from tests.helpers import Service, publish_all, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]
TOKEN = {"Authorization": "Bearer demo-token"}

# Where car `id` of a twin is drawn now (the view interpolates between position messages).
CAR_AT = """([twin, id]) => {
  const view = window.kiosk.state.twins[twin];
  const car = view.cars.get(id);
  if (!car) return null;
  const now = performance.now();
  const f = car.t1 > car.t0 ? Math.min(1, Math.max(0, (now - car.t0) / (car.t1 - car.t0))) : 1;
  return [car.x0 + (car.x1 - car.x0) * f, car.y0 + (car.y1 - car.y0) * f];
}"""
# A positions message with two cars searching in the town without sensors and one in the town with them.
ONE_SEARCHING = """() => {
  const s = window.kiosk.state;
  const car = (id) => [id, 9.37, 53.92, 0, "searching"];
  window.kiosk.applyVehicles({
    site: s.modelSite, interval_s: 0.5, sim_time: "2026-11-21T11:00:00+01:00", bays: [],
    occupied_without_sensors: "", occupied_with_sensors: "",
    without_sensors: [car(1), car(2)], with_sensors: [car(1)],
  });
  const text = (id) => document.getElementById(id).textContent;
  return ["without", "with"].map((side) => `${text("n-search-" + side)} ${text("word-search-" + side)}`);
}"""
# Pixels of the "searching" colour (Okabe-Ito vermillion) on a twin's canvas.
SEARCHING_PIXELS = """(id) => {
  const c = document.getElementById(id);
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - 213) < 8 && Math.abs(data[i + 1] - 94) < 8 && data[i + 2] < 10) n += 1;
  }
  return n;
}"""


@pytest.fixture
def feed(servers: Servers, api_server: str) -> Iterator[SimFeed]:
    simfeed = SimFeed(servers.mqtt_url).start()
    wait_for(
        lambda: httpx.get(f"{api_server}/api/v1/simulators", timeout=5).json(), 10, "the simulator listed"
    )
    yield simfeed
    simfeed.stop()


def positions_seen(tab: Tab, count: int) -> None:
    tab.page.wait_for_function(f"() => window.kiosk.state.positions >= {count}", timeout=15_000)


def moved(tab: Tab, twin: str, car: int) -> bool:
    first = tab.page.evaluate(CAR_AT, [twin, car])
    time.sleep(0.3)
    second = tab.page.evaluate(CAR_AT, [twin, car])
    return first is not None and second is not None and first != second


def test_twin_view_shows_both_towns_moving_with_signs_and_the_typical_day(
    feed: SimFeed, api_server: str, tab: Tab
) -> None:
    serve_contract_data(tab.page)
    open_kiosk(tab, api_server)
    page = tab.page
    assert page.evaluate("document.body.dataset.mode") == "twin"
    positions_seen(tab, 3)
    # The same drivers in both towns; the counts are the cars searching in each, in large type.
    assert text_of(tab, "#twin-without h2") == "Ohne Sensoren"
    assert text_of(tab, "#twin-with h2") == "Mit Sensoren"
    wait_for(lambda: text_of(tab, "#n-search-without") == str(WITHOUT["searching"]), 5, "the count without")
    assert text_of(tab, "#n-search-with") == str(WITH["searching"])
    assert text_of(tab, "#word-search-without") == "Autos suchen einen Parkplatz"
    # Cars move smoothly on both canvases, and more of the searching colour shows on the left.
    assert moved(tab, "without", 0) and moved(tab, "with", 0)
    assert page.evaluate(SEARCHING_PIXELS, "cv-without") > 2 * page.evaluate(SEARCHING_PIXELS, "cv-with") > 0
    # The simulated day and clock.
    assert re.fullmatch(r"Samstag, \d\d:\d\d · Markttag", text_of(tab, "#sim-clock"))
    # The signs, as drivers read them: one at a time, large, the next every few seconds.
    assert page.locator("#signs .sign").count() == 1
    assert page.get_attribute("#signs", "data-count") == "3"
    assert "besetzt" in text_of(tab, "#signs .sign")
    # The headline: the typical day's saving with its band and today's dot, a model estimate with sources.
    wait_for(lambda: page.locator("#headline-card").get_attribute("data-state") == "ok", 5, "the headline")
    assert text_of(tab, '.band-row[data-key="search_min"] .band-num b') == "≈ 312"
    assert text_of(tab, '.band-row[data-key="km"] .band-num b') == "≈ 52,3"
    assert page.locator('.band-row[data-key="km"] .today').is_visible()
    assert text_of(tab, "#headline-card .model-badge") == "Modellrechnung"
    assert "Destatis" in text_of(tab, "#headline-card .source")
    # Search time against occupancy, both twins, "now" marked.
    assert page.locator("#curve-card").get_attribute("data-state") == "ok"
    assert page.locator("#curve .scatterlayer .trace").count() == 2
    assert "jetzt 93 %" in text_of(tab, "#curve")
    assert text_of(tab, "#curve-card .model-badge") == "Modellrechnung"
    assert_stays_local(tab)
    assert tab.console_errors() == []
    tab.screenshot("kiosk-twin-feed-de")
    # One car: the word follows the count (read in the same call, before the feed's next message).
    assert page.evaluate(ONE_SEARCHING) == ["2 Autos suchen einen Parkplatz", "1 Auto sucht einen Parkplatz"]


def test_a_screen_opened_mid_loop_starts_the_days_line_with_what_the_simulator_published(
    feed: SimFeed, api_server: str, tab: Tab
) -> None:
    open_kiosk(tab, api_server)
    tab.page.wait_for_function(f"() => window.kiosk.state.occLive.x.length >= {len(TODAY)}", timeout=10_000)
    line = tab.page.evaluate("() => [window.kiosk.state.occLive.x, window.kiosk.state.occLive.y]")
    assert line[0][: len(TODAY)] == [hour for hour, _ in TODAY]
    assert line[1][: len(TODAY)] == pytest.approx([100 * share for _, share in TODAY])
    assert tab.console_errors() == []


def test_twin_view_in_english(feed: SimFeed, api_server: str, tab: Tab) -> None:
    serve_contract_data(tab.page)
    open_kiosk(tab, api_server, "?lang=en")
    positions_seen(tab, 2)
    assert text_of(tab, "#twin-without h2") == "Without sensors"
    assert text_of(tab, "#word-search-with") == "cars searching for a space"
    assert re.fullmatch(r"Saturday, \d\d:\d\d · Market day", text_of(tab, "#sim-clock"))
    assert "full" in text_of(tab, "#signs")
    assert text_of(tab, "#headline-title") == "A typical market day with sensors saves"
    assert text_of(tab, "#headline-card .model-badge") == "Model estimate"
    assert_stays_local(tab)
    assert tab.console_errors() == []
    tab.screenshot("kiosk-twin-feed-en")


def test_a_toy_car_on_a_real_bay_is_highlighted_on_the_screen(
    servers: Servers, ingester: Service, feed: SimFeed, api_server: str, tab: Tab
) -> None:
    publish_all(servers.mqtt_url, [("parking/showroom/A03/status", reading(False))])
    serve_contract_data(tab.page)
    open_kiosk(tab, api_server)
    page = tab.page
    wait_for(lambda: page.evaluate("window.kiosk.state.bays.get('A03').status") == "free", 10, "A03 free")
    assert page.locator("#hands-on").is_hidden()
    started = time.monotonic()
    publish_all(servers.mqtt_url, [("parking/showroom/A03/status", reading(True))])
    page.wait_for_selector("#hands-on:not([hidden])", timeout=5_000)
    elapsed = time.monotonic() - started
    assert text_of(tab, "#hands-on") == "● Ihr Auto: Platz A03 belegt"
    assert elapsed <= 2.0, f"the highlight took {elapsed:.2f} s"
    # The bay is ringed on the town map too, where the showroom's A03 is in the town.
    town_bay = feed.status().view_bays["A03"]
    ringed = page.evaluate("[...window.kiosk.state.twins.with.highlights.keys()]")
    assert ringed == [page.evaluate(f"window.kiosk.state.twins.with.bayIndex.get('{town_bay}')")]
    assert tab.console_errors() == []
    tab.screenshot("kiosk-hands-on")


# ---------------------------------------------------------------- the real simulator, market day


DOC_SCREENSHOTS = bool(os.environ.get("PARKLOTSE_SCREENSHOTS"))


@pytest.fixture
def simulated_history(stack_env: dict[str, str], api_server: str) -> bool:
    """For the documentation's screenshots only: a week of simulated history, as the demo writes four,
    and its rollups (so the history panels are full). Ordinary runs skip it (a minute of work)."""
    if not DOC_SCREENSHOTS:
        return False
    from parklotse.backfill import run_backfill

    settings = CommonSettings(
        mqtt_url=stack_env["PARKLOTSE_MQTT_URL"],
        influx_url=stack_env["PARKLOTSE_INFLUX_URL"],
        influx_db=stack_env["PARKLOTSE_INFLUX_DB"],
    )
    # In a thread of its own: Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run_backfill, settings, ["town-centre"], io.StringIO(), weeks=1).result()
    for site in ("town-centre", "showroom"):
        built = httpx.post(f"{api_server}/api/v1/sites/{site}/rollup", headers=TOKEN, timeout=300)
        assert built.status_code == 200, built.text
    return True


@pytest.fixture
def simulator(stack_env: dict[str, str], ingester: Service, tmp_path: Path) -> Iterator[Service]:
    service = Service(
        "sim",
        ["simulate", "--scenario", "town-centre", "--speed", "20", "--seed", "1"],
        stack_env,
        tmp_path / "sim.log",
    ).start()
    yield service
    service.stop()


def running_site(api: str) -> str | None:
    listed: list[dict[str, Any]] = httpx.get(f"{api}/api/v1/simulators", timeout=5).json()
    sites = [s["site"] for s in listed]
    return "showroom" if "showroom" in sites else (sites[0] if sites else None)


def test_market_day_more_cars_circle_without_sensors_than_with(
    simulated_history: bool, simulator: Service, api_server: str, tab: Tab
) -> None:
    """Done-when of the issue: cars move on both twins, and "ohne" averages above "mit" over a minute."""
    site = wait_for(lambda: running_site(api_server), 30, "a running simulator")
    accepted = httpx.post(
        f"{api_server}/api/v1/simulator",
        headers=TOKEN,
        json={"action": "start", "site": site, "preset": "markttag", "hour": 11.0, "speed": 20},
        timeout=5,
    )
    assert accepted.status_code == 202, accepted.text
    wait_for(
        lambda: (
            httpx.get(f"{api_server}/api/v1/simulator", params={"site": site}, timeout=5).json()["preset"]
            == "markttag"
        ),
        20,
        "the market-day preset",
    )
    open_kiosk(tab, api_server, f"?site={site}")
    page = tab.page
    positions_seen(tab, 4)
    without: list[int] = []
    with_sensors: list[int] = []
    moves = {"without": 0, "with": 0}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = page.evaluate(
            "[window.kiosk.state.twins.without.searching, window.kiosk.state.twins.with.searching]"
        )
        without.append(counts[0])
        with_sensors.append(counts[1])
        for twin in moves:
            some = page.evaluate(f"[...window.kiosk.state.twins.{twin}.cars.keys()][0]")
            if some is not None and moved(tab, twin, some):
                moves[twin] += 1
        time.sleep(0.4)
    if DOC_SCREENSHOTS:
        # The documentation shows the peak: the typical day computed, the history drawn, more cars
        # circling without sensors than with.
        page.wait_for_selector("#headline-card[data-state=ok]", timeout=180_000)
        if simulated_history:
            wait_for(
                lambda: page.locator("#heat-card").get_attribute("data-state") == "ok", 120, "the heatmap"
            )
        page.wait_for_function(
            "() => { const t = window.kiosk.state.twins;"
            " return t.without.searching >= 8 && t.without.searching > t.with.searching + 3; }",
            timeout=120_000,
        )
    # The screenshots first: they show what happened even when a check below fails.
    tab.screenshot("kiosk-twin-markttag-de", doc="kiosk-twin-de")
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    wait_for(lambda: "Market day" in text_of(tab, "#sim-clock"), 5, "the English clock")
    wait_for(lambda: text_of(tab, "#headline-title").startswith("A typical"), 5, "the English panels drawn")
    tab.screenshot("kiosk-twin-markttag-en", doc="kiosk-twin-en")
    assert_stays_local(tab)
    assert tab.console_errors() == []
    # The staff page of the same run, for the documentation.
    page.goto(f"{api_server}/staff")
    page.evaluate("() => sessionStorage.setItem('parklotse.token', 'demo-token')")
    page.reload()
    page.wait_for_selector("#presets .preset.active[data-preset=markttag]")
    tab.screenshot("staff-markttag", doc="staff")
    assert moves["without"] >= 10 and moves["with"] >= 10, moves
    assert statistics.mean(without) > statistics.mean(with_sensors), (without, with_sensors)
