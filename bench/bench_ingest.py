"""Ingest throughput, drain, latency and memory, against a bare paho subscriber in the same run.

    python -m bench ingest [--messages 20000]

(a) live: publisher processes push N QoS 1 messages; time until all are queryable in InfluxDB;
(b) the same stream into a bare paho subscriber that only counts (the ceiling of this machine);
(c) drain: N messages queued in the broker for a stopped consumer, then the consumer starts;
(d) publish → stored latency (p50/p99) at a steady 1,000 msg/s, taken from the retained state the
    ingester republishes only after InfluxDB acknowledged the write;
(e) the ingester's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from parking.events import ns_to_rfc3339
from parklotse.servers import LocalInfluxDB, LocalMosquitto, free_port

BAYS = [f"TC-{n:04d}" for n in range(1, 721)]
REPO = Path(__file__).resolve().parent.parent


def _client(
    port: int,
    client_id: str = "",
    *,
    persistent: bool = False,
    inflight: int = 20,
    on_message: Any = None,
) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.max_inflight_messages_set(inflight)
    if on_message is not None:
        # Before connecting: a persistent session's backlog arrives right after CONNACK.
        client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if persistent:
        props.SessionExpiryInterval = 3600
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", port, clean_start=not persistent, properties=props)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError("cannot connect to the broker")
    return client


def _payloads(start: int, count: int, base_ns: int) -> list[tuple[str, bytes]]:
    return [
        (
            f"parking/town-centre/{BAYS[i % len(BAYS)]}/status",
            json.dumps({"occupied": i % 3 != 0, "ts": ns_to_rfc3339(base_ns + i * 1_000_000)}).encode(),
        )
        for i in range(start, start + count)
    ]


def _publisher(port: int, start: int, count: int, base_ns: int, rate: float, done: mp.Queue) -> None:  # type: ignore[type-arg]
    """One publishing process: paces itself and keeps paho's queue short (its cost grows with length)."""
    client = _client(port, inflight=500)
    acked = 0
    lock = threading.Lock()

    def on_publish(*_a: object) -> None:
        nonlocal acked
        with lock:
            acked += 1

    client.on_publish = on_publish
    began = time.monotonic()
    for n, (topic, payload) in enumerate(_payloads(start, count, base_ns)):
        if rate > 0:
            due = began + n / rate
            if due > time.monotonic():
                time.sleep(max(0.0, due - time.monotonic()))
        while n - acked > 1_000:
            time.sleep(0.0005)
        client.publish(topic, payload, qos=1)
    while acked < count:
        time.sleep(0.001)
    client.disconnect()
    client.loop_stop()
    done.put(time.monotonic())


def publish(port: int, total: int, base_ns: int, processes: int = 2, rate: float = 0.0) -> float:
    """Publish ``total`` messages from separate processes; returns when the broker acked all."""
    # spawn, not fork: the parent already runs paho network threads, and a fork copies their locks.
    ctx = mp.get_context("spawn")
    done: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    share = total // processes
    workers = [
        ctx.Process(target=_publisher, args=(port, i * share, share, base_ns, rate / processes, done))
        for i in range(processes)
    ]
    for w in workers:
        w.start()
    finished = max(float(done.get(timeout=600)) for _ in workers)
    for w in workers:
        w.join()
    return finished


class BareSubscriber:
    """A paho QoS 1 subscriber that only counts: the ceiling for any consumer on this machine."""

    def __init__(self, port: int, client_id: str) -> None:
        self.port, self.client_id = port, client_id
        self.count = 0
        self.first = self.last = 0.0
        self.client: mqtt.Client | None = None

    def start(self) -> BareSubscriber:
        self.client = _client(self.port, self.client_id, persistent=True, on_message=self._on_message)
        self.client.subscribe("parking/+/+/status", qos=1)
        time.sleep(0.2)
        return self

    def _on_message(self, *_a: object) -> None:
        now = time.monotonic()
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now

    def stop(self) -> None:
        if self.client:
            self.client.disconnect()
            self.client.loop_stop()

    def wait(self, n: int, timeout_s: float = 600) -> float:
        deadline = time.monotonic() + timeout_s
        while self.count < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"bare subscriber got {self.count} of {n}")
            time.sleep(0.002)
        return self.last


class Ingester:
    def __init__(self, mosquitto: LocalMosquitto, influx: LocalInfluxDB, db: str, state: Path) -> None:
        self.metrics_port = free_port()
        self.env = {
            **os.environ,
            "PARKLOTSE_MQTT_URL": mosquitto.url,
            "PARKLOTSE_INFLUX_URL": influx.url,
            "PARKLOTSE_INFLUX_DB": db,
            "PARKLOTSE_SPOOL_DIR": str(state / "spool"),
            "PARKLOTSE_DEADLETTER_DIR": str(state / "deadletter"),
            "PARKLOTSE_METRICS_PORT": str(self.metrics_port),
            "PARKLOTSE_INGEST_CLIENT_ID": f"bench-{uuid.uuid4().hex[:6]}",
            "PARKLOTSE_LOG_LEVEL": "WARNING",
        }
        state.mkdir(parents=True, exist_ok=True)
        self.log = state / "ingest.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "parklotse", "ingest"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"ingester did not start: {self.log.read_text()[-2000:]}")

    def peak_rss_mib(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def count_stored(influx: LocalInfluxDB, db: str) -> int:
    r = httpx.get(
        f"{influx.url}/query", params={"db": db, "q": "SELECT count(occupied) FROM bay_status"}, timeout=30
    )
    series = r.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def wait_stored(influx: LocalInfluxDB, db: str, n: int, timeout_s: float = 600) -> float:
    deadline = time.monotonic() + timeout_s
    while True:
        if count_stored(influx, db) >= n:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {count_stored(influx, db)} of {n} stored")
        time.sleep(0.02)


def latency(mosquitto: LocalMosquitto, rate: float, seconds: float) -> tuple[float, float]:
    """p50/p99 ms from publish to the retained state the ingester publishes after the write."""
    sent: dict[str, float] = {}
    delays: list[float] = []
    watcher = _client(mosquitto.port)

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        data = json.loads(message.payload)
        key = f"{data['bay']}|{data['last_seen']}"
        if key in sent:
            delays.append((time.monotonic() - sent.pop(key)) * 1000)

    watcher.on_message = on_message
    watcher.subscribe("parking/state/town-centre/+", qos=0)
    time.sleep(0.5)
    publisher = _client(mosquitto.port)
    total = int(rate * seconds)
    base = time.time_ns() // 1_000_000 * 1_000_000
    began = time.monotonic()
    for i in range(total):
        due = began + i / rate
        if due > time.monotonic():
            time.sleep(max(0.0, due - time.monotonic()))
        ts = base + i * 1_000_000
        bay = BAYS[i % len(BAYS)]
        key = f"{bay}|{ns_to_rfc3339(ts)}"
        sent[key] = time.monotonic()
        publisher.publish(
            f"parking/town-centre/{bay}/status",
            json.dumps({"occupied": i % 2 == 0, "ts": ns_to_rfc3339(ts)}),
            qos=1,
        )
    deadline = time.monotonic() + 30
    while sent and time.monotonic() < deadline:
        time.sleep(0.01)
    publisher.disconnect()
    watcher.disconnect()
    q = statistics.quantiles(delays, n=100)
    return q[49], q[98]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m bench ingest")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    n = args.messages
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="parklotse-bench-") as tmp:
        root = Path(tmp)
        mosquitto, influx = LocalMosquitto(root / "mosquitto"), LocalInfluxDB(root / "influxdb")
        mosquitto.start()
        influx.start()
        # A SIGTERM (e.g. from timeout) must still stop the servers in the finally below.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            base = time.time_ns() - 3_600 * 10**9
            # (b) the ceiling: a bare subscriber, live and draining a backlog.
            bare = BareSubscriber(mosquitto.port, "bare-live").start()
            began = time.monotonic()
            publish(mosquitto.port, n, base)
            results["bare_live_msg_s"] = n / (bare.wait(n) - began)
            bare.stop()
            idle = BareSubscriber(mosquitto.port, "bare-drain").start()
            idle.stop()  # persistent session: the broker queues for it
            publish(mosquitto.port, n, base)
            drain = BareSubscriber(mosquitto.port, "bare-drain")
            began = time.monotonic()
            drain.start()
            results["bare_drain_msg_s"] = n / (drain.wait(n) - began)
            drain.stop()

            # (a) the ingester, live.
            ingester = Ingester(mosquitto, influx, "bench_live", root / "live")
            ingester.start()
            began = time.monotonic()
            publish(mosquitto.port, n, base)
            results["ingest_live_msg_s"] = n / (wait_stored(influx, "bench_live", n) - began)
            results["ingest_peak_rss_mib"] = ingester.peak_rss_mib()
            # (d) latency at a steady 1,000 msg/s, same ingester.
            p50, p99 = latency(mosquitto, 1_000, args.latency_seconds)
            results["latency_p50_ms"], results["latency_p99_ms"] = p50, p99
            results["ingest_peak_rss_mib"] = max(results["ingest_peak_rss_mib"], ingester.peak_rss_mib())
            ingester.stop()

            # (c) drain: a backlog queued for the ingester's persistent session while it is stopped.
            drainer = Ingester(mosquitto, influx, "bench_drain", root / "drain")
            started = time.monotonic()
            drainer.start()
            # Process start-up (interpreter, imports, connect) is not draining; measured here with no
            # backlog and taken off the drain time below.
            startup_s = time.monotonic() - started
            drainer.stop()
            publish(mosquitto.port, n, base + 10**9)
            began = time.monotonic()
            drainer.start()
            drain_s = wait_stored(influx, "bench_drain", n) - began - startup_s
            results["ingest_startup_s"] = startup_s
            results["ingest_drain_msg_s"] = n / drain_s
            results["ingest_peak_rss_mib"] = max(results["ingest_peak_rss_mib"], drainer.peak_rss_mib())
            drainer.stop()
        finally:
            influx.stop()
            mosquitto.stop()

    results["live_ratio"] = results["ingest_live_msg_s"] / results["bare_live_msg_s"]
    results["drain_ratio"] = results["ingest_drain_msg_s"] / results["bare_drain_msg_s"]
    print(f"ingest benchmark, {n:,} QoS 1 messages, local mosquitto and InfluxDB")
    print(f"  (b) bare paho subscriber, live:     {results['bare_live_msg_s']:9,.0f} msg/s (ceiling)")
    print(
        f"  (a) ingester, live → queryable:     {results['ingest_live_msg_s']:9,.0f} msg/s "
        f"= {results['live_ratio']:.2f}× the ceiling (target ≥ 0.7×)"
    )
    print(f"      bare paho subscriber, drain:    {results['bare_drain_msg_s']:9,.0f} msg/s (ceiling)")
    print(
        f"  (c) ingester, drain of backlog:     {results['ingest_drain_msg_s']:9,.0f} msg/s "
        f"= {results['drain_ratio']:.2f}× the ceiling (target ≥ 0.5×)"
    )
    print(
        f"  (d) publish → stored at 1,000 msg/s: p50 {results['latency_p50_ms']:.1f} ms, "
        f"p99 {results['latency_p99_ms']:.1f} ms (target p99 ≤ 250 ms)"
    )
    print(f"      (drain excludes the ingester's measured start-up of {results['ingest_startup_s']:.2f} s)")
    print(f"  (e) ingester peak RSS:              {results['ingest_peak_rss_mib']:9.1f} MiB")
    return results


if __name__ == "__main__":
    main()
