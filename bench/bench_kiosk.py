"""The kiosk page in headless Chromium on the real stack: first render, publish-to-screen latency, memory.

    .venv/bin/python bench/bench_kiosk.py [--changes 100] [--updates 10000] [--rate 400]
                                          [--frames-s 20] [--hour-rate 40]
    .venv/bin/python bench/bench_kiosk.py --render-only      the cold first renders only (about a minute)

Starts mosquitto, InfluxDB, the ingester and the API on free loopback ports in a temporary folder
(as the tests do), opens the kiosk page in /usr/bin/chromium (Debian's package, driven by
Playwright; no browser is downloaded) and prints:

* time to first full render (every panel drawn once, the page's ``kiosk-ready`` mark), and of it the
  time until DOMContentLoaded (when the deferred plotly.js has been fetched and run, before any chart):
  cold (fresh browser profile, nothing cached)
  and warm (a kiosk's persistent profile, where Chromium's code cache already holds Plotly);
* publish-to-screen latency over ``--changes`` bay changes: from just before the MQTT publish to the
  animation frame in which the bay's marker shows the new status, p50/p99/max;
* the page's JS heap (after a forced garbage collection, CDP Runtime.getHeapUsage) after the first
  ``--changes`` updates and after ``--updates`` more sent through the whole stack, and their ratio;
  then halfway through and at the end of ``--redraws`` forced, unthrottled redraws in the page (the
  redraws of many hours), whose ratio shows whether redrawing leaks once Plotly has warmed up.

Then the twin view of a simulated site, fed by a stand-in simulator (``tests/browser/simfeed.py``:
typed status and positions of 62 cars in each twin on the real broker, relayed by the real API):

* first full render of the twin view, cold;
* frame time while positions arrive at 2 Hz for ``--frames-s`` seconds: the interval between
  animation frames (what a visitor sees) and the page's drawing time per frame, p50/p95/max;
* JS heap after one minute of positions at 2 Hz, and after an hour's worth of them (7,200 messages):
  the rest of the hour is pushed through the broker, API and stream at ``--hour-rate`` per second, so it
  takes minutes, not an hour. What this measures: growth per message handled (buffers, car objects,
  event listeners). What it does not: growth with wall time alone (timers, the frame loop) beyond the
  few minutes the run lasts; the page keeps no per-frame state, and every buffer is bounded.

Targets: first render ≤ 1.5 s, p99 ≤ 1 s, heap ratio ≤ 1.2, frame time p95 ≤ 50 ms, heap after an
hour of positions ≤ 1.2× after one minute. Runs in about seven minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from playwright.sync_api import CDPSession, Page, sync_playwright

# Runnable as a plain script from a checkout, without installing the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parking.processes import stop_process
from parklotse.servers import LocalInfluxDB, LocalMosquitto, free_port
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.browser.simfeed import SimFeed

REPO = Path(__file__).resolve().parent.parent
SITE = "showroom"
FREE, OCCUPIED = "rgb(0, 158, 115)", "rgb(213, 94, 0)"
# Resolves in the first animation frame in which the bay's marker shows the colour; returns Date.now().
ON_SCREEN = """([bay, colour]) => new Promise((resolve) => {
  const k = window.kiosk.state;
  const check = () => {
    const traces = document.querySelectorAll('#map .scatterlayer .trace');
    const point = traces[traces.length - 1].querySelectorAll('path.point')[k.index.get(bay)];
    if (point && point.style.fill === colour) resolve(Date.now()); else requestAnimationFrame(check);
  };
  check();
})"""


# A long day in fast motion: every update is drawn at once (no throttle), with an occupancy sample
# every tenth, so that whatever a redraw leaks would pile up.
SOAK = """async (n) => {
  const k = window.kiosk;
  const bays = [...k.state.index.keys()];
  for (let i = 0; i < n; i++) {
    const bay = bays[i % bays.length];
    const now = new Date().toISOString();
    const old = k.state.bays.get(bay);
    k.applyBay({site: k.state.site, bay, status: old && old.status === 'occupied' ? 'free' : 'occupied',
                since: now, last_seen: now, battery_v: 3.6, battery_pct: null});
    if (i % 10 === 0) k.sampleOccupancy();
    await k.flush();
  }
}"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def stack(root: Path) -> Iterator[tuple[str, str]]:
    """(MQTT URL, API URL) of a whole local stack, stopped in reverse order afterwards."""
    with ExitStack() as stop:
        mosquitto = LocalMosquitto(root / "mosquitto")
        mosquitto.start()
        stop.callback(mosquitto.stop)
        influx = LocalInfluxDB(root / "influxdb")
        influx.start()
        stop.callback(influx.stop)
        api_port = free_port()
        env = {
            **os.environ,
            "PARKLOTSE_MQTT_URL": mosquitto.url,
            "PARKLOTSE_INFLUX_URL": influx.url,
            "PARKLOTSE_INFLUX_DB": "bench",
            "PARKLOTSE_SPOOL_DIR": str(root / "spool"),
            "PARKLOTSE_DEADLETTER_DIR": str(root / "deadletter"),
            "PARKLOTSE_METRICS_PORT": str(free_port()),
            "PARKLOTSE_BATCH_INTERVAL_S": "0.02",
            "PARKLOTSE_API_TOKEN": "bench-token",
            "PYTHONUNBUFFERED": "1",
        }
        for name, argv in (("ingest", ["ingest"]), ("api", ["api", "--port", str(api_port)])):
            out = (root / f"{name}.log").open("ab")
            stop.callback(out.close)
            process = subprocess.Popen(
                [sys.executable, "-m", "parklotse", *argv],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
            stop.callback(_terminate, process)
        api = f"http://127.0.0.1:{api_port}"
        _wait_until(lambda: _ok(f"{api}/readyz"), 90, "the API")  # a loaded shared machine
        _wait_until(
            lambda: _ok(f"http://127.0.0.1:{env['PARKLOTSE_METRICS_PORT']}/healthz"), 30, "the ingester"
        )
        yield mosquitto.url, api


def _terminate(process: subprocess.Popen[bytes]) -> None:
    stop_process(process, 15)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


class Publisher:
    """Publishes native sensor readings with QoS 1; each reading's ts is later than the one before."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("mqtt://").rsplit(":", 1)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5
        )
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect(host, int(port))
        self.client.loop_start()
        if not connected.wait(10):
            raise SystemExit(f"cannot connect to {url}")
        self.last_ms = 0
        self.state: dict[str, bool] = {}

    def flip(self, bay: str, wait: bool = True) -> tuple[bool, mqtt.MQTTMessageInfo]:
        occupied = not self.state.get(bay, False)
        self.state[bay] = occupied
        self.last_ms = max(int(time.time() * 1000), self.last_ms + 1)
        payload = json.dumps({"occupied": occupied, "ts": self.last_ms}).encode()
        info = self.client.publish(f"parking/{SITE}/{bay}/status", payload, qos=1)
        if wait:
            info.wait_for_publish(10)
        return occupied, info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def ready_ms(page: Page, url: str, dcl: list[float] | None = None) -> float:
    """Milliseconds from navigation to the page's ``kiosk-ready`` mark; DOMContentLoaded goes to ``dcl``."""
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    value: float = page.evaluate("() => performance.getEntriesByName('kiosk-ready')[0].startTime")
    if dcl is not None:
        dcl.append(
            page.evaluate("() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
        )
    return value


def cold_renders(browser: Any, url: str, loads: int) -> tuple[list[float], list[float]]:
    """(ready, DOMContentLoaded) in ms of ``loads`` loads, each in a fresh browser context."""
    ready: list[float] = []
    dcl: list[float] = []
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        ready.append(ready_ms(context.new_page(), url, dcl))
        context.close()
    return ready, dcl


def print_cold(indent: str, ready: list[float], dcl: list[float]) -> None:
    print(
        f"{indent}first full render, cold profile:  median {statistics.median(ready):6.0f} ms  "
        f"max {max(ready):6.0f} ms  ({len(ready)} loads)   target ≤ 1500 ms"
    )
    print(
        f"{indent}  of which until Plotly has run (DOMContentLoaded): median {statistics.median(dcl):6.0f} ms"
    )


def load_span(before: float) -> str:
    """The 1-minute load average at the start and now: how much the shared cores were asked for."""
    return f"load average {before:.1f} → {os.getloadavg()[0]:.1f}"


def heap_mb(cdp: CDPSession) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("HeapProfiler.collectGarbage")
    used: float = cdp.send("Runtime.getHeapUsage")["usedSize"]
    return used / 1e6


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=100, help="bay changes timed end to end")
    parser.add_argument("--updates", type=int, default=10_000, help="updates before the second heap reading")
    parser.add_argument("--rate", type=float, default=400.0, help="publish rate of those updates, per second")
    parser.add_argument("--loads", type=int, default=5, help="page loads per render measurement")
    parser.add_argument("--redraws", type=int, default=3_000, help="forced redraws of the memory soak")
    parser.add_argument(
        "--frames-s", type=float, default=20.0, help="seconds of frame timing at 2 Hz positions"
    )
    parser.add_argument(
        "--hour-rate", type=float, default=40.0, help="positions per second for the hour's rest"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only the cold first renders (real-sensor and twin layouts)",
    )
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")
    rng = random.Random(args.seed)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-kiosk-") as tmp, stack(Path(tmp)) as (mqtt_url, api):
        url = f"{api}/?site={SITE}"
        publisher = Publisher(mqtt_url)
        bays = [b["bay"] for b in httpx.get(f"{api}/api/v1/sites/{SITE}/bays", timeout=10).json()]
        for bay in bays:  # every bay reports once, so the page starts from a known state
            publisher.flip(bay)
        httpx.get(f"{api}/static/plotly.min.js", headers={"Accept-Encoding": "gzip"}, timeout=30)
        with sync_playwright() as playwright:
            log("first render, cold …")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cold, cold_dcl = cold_renders(browser, url, args.loads)
            if args.render_only:
                twin_cold = twin_render(browser, api, mqtt_url, url, args.loads)
                browser.close()
                publisher.close()
                print(
                    f"kiosk benchmark, cold renders only ({SITE}, 1920×1080, headless Chromium, loopback, "
                    f"{load_span(load_before)})"
                )
                print("  real-sensor layout:")
                print_cold("    ", cold, cold_dcl)
                print("  twin view (stand-in simulator):")
                print_cold("    ", *twin_cold)
                return
            log("first render, warm …")
            with tempfile.TemporaryDirectory(prefix="bench-kiosk-profile-") as profile:
                persistent = playwright.chromium.launch_persistent_context(
                    profile,
                    executable_path=CHROMIUM,
                    args=CHROMIUM_ARGS,
                    viewport={"width": 1920, "height": 1080},
                )
                warm = []
                for _ in range(args.loads + 2):
                    page = persistent.new_page()
                    warm.append(ready_ms(page, url))
                    page.close()
                persistent.close()
            warm = warm[2:]  # Chromium keeps code cache from the third load of a script on
            results["render_cold_ms"] = cold
            results["render_warm_ms"] = warm

            log(f"publish-to-screen latency over {args.changes} changes …")
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            ready_ms(page, url)
            latencies = []
            for n in range(args.changes):
                bay = bays[n % len(bays)]
                time.sleep(rng.uniform(0.0, 0.4))  # changes arrive at irregular times, as sensors send them
                t0 = time.time()
                occupied, _ = publisher.flip(bay)
                shown_ms = page.evaluate(ON_SCREEN, [bay, OCCUPIED if occupied else FREE])
                latencies.append(shown_ms / 1000.0 - t0)
            results["latency_s"] = latencies
            events_100: int = page.evaluate("() => window.kiosk.state.events")
            heap_100 = heap_mb(cdp)

            log(f"{args.updates} more updates at {args.rate:.0f}/s …")
            target = events_100 + args.updates
            interval = 1.0 / args.rate
            next_at = time.monotonic()
            pending = []
            for n in range(args.updates):
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pending.append(publisher.flip(bays[n % len(bays)], wait=False)[1])
            for info in pending:
                info.wait_for_publish(30)
            deadline = time.monotonic() + 60
            events = events_100
            while time.monotonic() < deadline:
                events = page.evaluate("() => window.kiosk.state.events")
                if events >= target:
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # the last throttled redraw
            heap_10k = heap_mb(cdp)
            state = page.evaluate(
                "() => ({updates: window.kiosk.state.updates, events: window.kiosk.state.events,"
                " nodes: document.getElementsByTagName('*').length})"
            )
            log(f"{args.redraws} forced redraws in the page …")
            soak_started = time.monotonic()
            page.evaluate(SOAK, args.redraws // 2)
            heap_mid = heap_mb(cdp)
            page.evaluate(SOAK, args.redraws - args.redraws // 2)
            soak_s = time.monotonic() - soak_started
            heap_soak = heap_mb(cdp)
            nodes_soak: int = page.evaluate("() => document.getElementsByTagName('*').length")
            context.close()
            twin = twin_view(browser, api, mqtt_url, url, args)
            browser.close()
        publisher.close()

    cold, warm, lat = results["render_cold_ms"], results["render_warm_ms"], results["latency_s"]
    ratio = heap_10k / heap_100
    p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
    print(
        f"kiosk benchmark ({SITE}, 1920×1080, headless Chromium, loopback, "
        f"{time.monotonic() - started:.0f} s, {load_span(load_before)})"
    )
    print_cold("  ", cold, cold_dcl)
    print(
        f"  first full render, warm profile:  median {statistics.median(warm):6.0f} ms  "
        f"max {max(warm):6.0f} ms  ({len(warm)} loads)"
    )
    print(
        f"  publish → screen over {len(lat)} changes:  p50 {p50 * 1000:4.0f} ms  p99 {p99 * 1000:4.0f} ms  "
        f"max {max(lat) * 1000:4.0f} ms   target p99 ≤ 1000 ms"
    )
    print(f"  JS heap after {events_100} updates:    {heap_100:6.2f} MB")
    print(
        f"  JS heap after {state['events']} updates:  {heap_10k:6.2f} MB   ratio {ratio:.3f}   target ≤ 1.2 "
        f"({state['updates']} redraws, {state['nodes']} DOM elements)"
    )
    soak_ratio = heap_soak / heap_mid
    print(
        f"  forced redraws: JS heap after {args.redraws // 2}: {heap_mid:6.2f} MB, after {args.redraws}: "
        f"{heap_soak:6.2f} MB   ratio {soak_ratio:.3f}   "
        f"({soak_s / max(args.redraws, 1) * 1000:.1f} ms a redraw, "
        f"{nodes_soak} DOM elements)"
    )
    if state["events"] < target:
        print(
            f"  note: the page received {state['events'] - events_100} of {args.updates} updates as "
            "events (the ingester publishes each bay's state once per batch, so two changes of a bay "
            "in one batch arrive as one)"
        )
    print(f"  twin view ({twin['cars']} cars a twin, positions at 2 Hz through broker, API and stream):")
    print_cold("    ", twin["cold"], twin["cold_dcl"])
    fi, fd = twin["interval"], twin["draw"]
    print(
        f"    frame time over {len(fi)} frames ({args.frames_s:.0f} s): p50 {percentile(fi, 0.5):5.1f} ms  "
        f"p95 {percentile(fi, 0.95):5.1f} ms  max {max(fi):6.1f} ms   target p95 ≤ 50 ms"
    )
    print(
        f"    drawing both twins per frame:     p50 {percentile(fd, 0.5):5.2f} ms  "
        f"p95 {percentile(fd, 0.95):5.2f} ms  max {max(fd):6.2f} ms"
    )
    hour_ratio = twin["heap_hour"] / twin["heap_minute"]
    print(
        f"    JS heap after 1 min of positions ({twin['pos_minute']} messages): "
        f"{twin['heap_minute']:6.2f} MB; "
        f"after an hour's worth ({twin['pos_hour']} messages, the rest pushed at {args.hour_rate:.0f}/s in "
        f"{twin['hour_s']:.0f} s): {twin['heap_hour']:6.2f} MB   ratio {hour_ratio:.3f}   target ≤ 1.2"
    )
    ok = (
        statistics.median(cold) <= 1500
        and p99 <= 1.0
        and ratio <= 1.2
        and soak_ratio <= 1.2
        and statistics.median(twin["cold"]) <= 1500
        and percentile(fi, 0.95) <= 50
        and hour_ratio <= 1.2
    )
    print("  all targets met" if ok else "  some targets missed")


def positions_received(page: Page) -> int:
    count: int = page.evaluate("() => window.kiosk.state.positions")
    return count


def twin_render(
    browser: Any, api: str, mqtt_url: str, url: str, loads: int
) -> tuple[list[float], list[float]]:
    """Cold first renders of the twin view, fed by the stand-in simulator."""
    feed = SimFeed(mqtt_url, rate_hz=2.0).start()
    try:
        _wait_until(lambda: httpx.get(f"{api}/api/v1/simulators", timeout=5).json(), 30, "the simulator list")
        log("twin view: first render, cold …")
        return cold_renders(browser, url, loads)
    finally:
        feed.stop()


def twin_view(browser: Any, api: str, mqtt_url: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Cold render, frame times and heap of the twin view, fed by the stand-in simulator."""
    feed = SimFeed(mqtt_url, rate_hz=2.0).start()
    try:
        _wait_until(lambda: httpx.get(f"{api}/api/v1/simulators", timeout=5).json(), 30, "the simulator list")
        log("twin view: first render, cold …")
        cold, cold_dcl = cold_renders(browser, url, args.loads)
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        ready_ms(page, url)
        page.wait_for_function("() => window.kiosk.state.positions >= 4", timeout=30_000)
        cars: int = page.evaluate("() => window.kiosk.state.twins.with.cars.size")
        log(f"twin view: frame times for {args.frames_s:.0f} s …")
        page.evaluate("() => window.kiosk.frameStats(true)")
        time.sleep(args.frames_s)
        frames = page.evaluate("() => window.kiosk.frameStats()")
        log("twin view: one minute of positions at 2 Hz …")
        time.sleep(max(0.0, 60.0 - args.frames_s))
        pos_minute = positions_received(page)
        heap_minute = heap_mb(cdp)
    finally:
        feed.stop(clear=False)
    hour = 7_200
    log(f"twin view: the rest of an hour's positions at {args.hour_rate:.0f}/s …")
    fast = SimFeed(mqtt_url, rate_hz=args.hour_rate, t_s=feed.t_s).start()
    try:
        hour_started = time.monotonic()
        _wait_until(
            lambda: positions_received(page) >= hour or time.monotonic() - hour_started > 900,
            1000,
            "an hour of positions",
        )
        hour_s = time.monotonic() - hour_started
    finally:
        fast.stop()
    time.sleep(1.0)
    pos_hour = positions_received(page)
    heap_hour = heap_mb(cdp)
    context.close()
    return {
        "cars": cars,
        "cold": cold,
        "cold_dcl": cold_dcl,
        "interval": frames["interval"],
        "draw": frames["draw"],
        "pos_minute": pos_minute,
        "heap_minute": heap_minute,
        "pos_hour": pos_hour,
        "heap_hour": heap_hour,
        "hour_s": hour_s,
    }


if __name__ == "__main__":
    main()
