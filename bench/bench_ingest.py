"""Ingest throughput, drain, latency and memory, against a bare paho subscriber (and with
``--peer node-red`` against Node-RED) in the same run, on the same servers, from the same publisher.

    python -m bench ingest [--messages 20000] [--rounds 3] [--ingest-processes 2] [--peer node-red]

Every round measures each consumer in turn, live and draining:
- live: two publisher processes push N QoS 1 messages; from their common start (connected, payloads
  built) until all N are queryable in InfluxDB (the bare subscriber: received);
- drain: N messages queued in the broker for the consumer's persistent session while it is stopped,
  then it starts; from its connection to the broker (its own log line; the bare subscriber's
  on_connect) until all N are stored (start-up is not draining);
- the ingester as one process, and as several processes on an MQTT v5 shared subscription
  (``PARKLOTSE_SHARE_GROUP``, the documented way to scale it);
- the peer: bench/peers/node-red (``mqtt in`` → ``join`` of 1,000 → node-red-contrib-influxdb
  ``influx batch``, versions pinned in its package.json), installed from npm into a cache folder.
First round only: publish → stored latency (p50/p99) at a steady 1,000 msg/s, taken from the retained
state the ingester republishes only after InfluxDB acknowledged the write. Medians over the rounds
and each round's ratio are printed; the machine is shared, so only ratios within a run count.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import shutil
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
NODE_RED_DIR = REPO / "bench" / "peers" / "node-red"


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


def _publisher(
    port: int, start: int, count: int, base_ns: int, rate: float, ready: Any, go: Any, done: Any
) -> None:
    """One publishing process: connects, waits for the common start, paces itself and keeps paho's
    queue short (its cost grows with length)."""
    client = _client(port, inflight=500)
    acked = 0
    lock = threading.Lock()

    def on_publish(*_a: object) -> None:
        nonlocal acked
        with lock:
            acked += 1

    client.on_publish = on_publish
    payloads = _payloads(start, count, base_ns)
    ready.put(True)
    go.wait()
    began = time.monotonic()
    for n, (topic, payload) in enumerate(payloads):
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


def publish(
    port: int, total: int, base_ns: int, processes: int = 2, rate: float = 0.0
) -> tuple[float, float]:
    """Publish ``total`` messages from separate processes: (start, end) in this process's monotonic
    clock, from the common start (every publisher connected, its payloads built) to the broker's
    last PUBACK. Interpreter start-up is outside the timing: it is not the consumer's work."""
    # spawn, not fork: the parent already runs paho network threads, and a fork copies their locks.
    ctx = mp.get_context("spawn")
    ready: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    done: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    go = ctx.Event()
    share = total // processes
    workers = [
        ctx.Process(
            target=_publisher, args=(port, i * share, share, base_ns, rate / processes, ready, go, done)
        )
        for i in range(processes)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=120)
    began = time.monotonic()
    go.set()
    finished = max(float(done.get(timeout=600)) for _ in workers)
    for w in workers:
        w.join()
    return began, finished


class BareSubscriber:
    """A plain paho subscriber that only counts (callback API v2, QoS 1, persistent session): the
    ceiling for any Python consumer on this machine. MQTT 3.1.1 with clean session off, as the
    simplest subscriber is written; paho acknowledges each message on receipt."""

    def __init__(self, port: int, client_id: str) -> None:
        self.port, self.client_id = port, client_id
        self.count = 0
        self.connected = self.first = self.last = 0.0
        self.client: mqtt.Client | None = None

    def start(self) -> BareSubscriber:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=False,
        )
        client.on_message = self._on_message  # before connecting: a backlog arrives right after CONNACK
        subscribed = threading.Event()

        def on_connect(c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, *_: object) -> None:
            self.connected = time.monotonic()
            c.subscribe("parking/+/+/status", qos=1)
            if flags.session_present:
                subscribed.set()  # its SUBACK may queue behind the backlog

        client.on_connect = on_connect
        client.on_subscribe = lambda *_: subscribed.set()
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        if not subscribed.wait(30):
            raise RuntimeError("bare subscriber: no SUBACK")
        self.client = client
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
            time.sleep(0.01)
        return self.last


class IngestProcess:
    """One ``parklotse ingest`` process with its own state folder, client id and health endpoint."""

    def __init__(
        self, mosquitto: LocalMosquitto, influx: LocalInfluxDB, db: str, state: Path, share_group: str | None
    ) -> None:
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
            "PARKLOTSE_LOG_LEVEL": "INFO",  # quiet at INFO; its connection line times the drain
        }
        if share_group:
            self.env["PARKLOTSE_SHARE_GROUP"] = share_group
        state.mkdir(parents=True, exist_ok=True)
        self.log = state / "ingest.log"
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> int:
        """Start the process; returns where its log stood before, for ``connected_at``."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "parklotse", "ingest"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        return offset

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
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


class Ingester:
    """The Parklotse ingester as deployed: one process, or several on an MQTT v5 shared subscription
    (``PARKLOTSE_SHARE_GROUP``, each with its own client id and spool), writing to one database."""

    def __init__(
        self, mosquitto: LocalMosquitto, influx: LocalInfluxDB, db: str, state: Path, processes: int = 1
    ) -> None:
        group = f"bench{uuid.uuid4().hex[:6]}" if processes > 1 else None
        self.processes = [
            IngestProcess(mosquitto, influx, db, state / f"p{i}", group) for i in range(processes)
        ]

    def start(self) -> float:
        """Start every process; returns when the first of them had connected to the broker."""
        offsets = [p.spawn() for p in self.processes]
        logs = [(p.log, offset) for p, offset in zip(self.processes, offsets, strict=True)]
        connected = wait_logged(logs, b"connected to mqtt://")
        for p in self.processes:
            p.wait_healthy()
        return connected

    def peak_rss_mib(self) -> float:
        return max(p.peak_rss_mib() for p in self.processes)

    def stop(self) -> None:
        for p in self.processes:
            p.stop()


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


def wait_logged(
    logs: list[tuple[Path, int]],
    needle: bytes,
    process: subprocess.Popen[bytes] | None = None,
    timeout_s: float = 60,
) -> float:
    """When ``needle`` first appeared in any of the logs after its offset (polled every 5 ms): how
    the drain is timed from the consumer's own connection, so that start-up (interpreter, modules,
    flow) is not counted as draining, the same way for every consumer."""
    deadline = time.monotonic() + timeout_s
    while True:
        for log, offset in logs:
            if log.exists():
                with log.open("rb") as f:
                    f.seek(offset)
                    if needle in f.read():
                        return time.monotonic()
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            tails = "\n".join(log.read_text()[-1000:] for log, _ in logs if log.exists())
            raise RuntimeError(f"{needle.decode()!r} not logged: {tails}")
        time.sleep(0.005)


def node_red_cache() -> Path:
    """Where the pinned Node-RED flow is installed: one folder per package.json content."""
    spec = (NODE_RED_DIR / "package.json").read_bytes()
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "parklotse" / "bench" / f"node-red-{hashlib.sha256(spec).hexdigest()[:12]}"


def install_node_red() -> Path:
    """The pinned Node-RED and InfluxDB node from the npm registry (once); returns red.js."""
    cache = node_red_cache()
    red = cache / "node_modules" / "node-red" / "red.js"
    if red.exists():
        return red
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("bench ingest --peer node-red needs node (>= 18) and npm: apt install nodejs npm")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        raise SystemExit(f"Node-RED 4 needs Node.js >= 18; this machine has {version}")
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy(NODE_RED_DIR / "package.json", cache / "package.json")
    print(f"installing Node-RED from the npm registry into {cache} ...", flush=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--omit=dev"], cwd=cache, check=True)
    return red


class NodeRed:
    """The peer: Node-RED's ``mqtt in`` → ``join`` of 1,000 → ``influx batch`` (bench/peers/node-red)."""

    def __init__(
        self, red: Path, mosquitto: LocalMosquitto, influx: LocalInfluxDB, db: str, state: Path
    ) -> None:
        self.red = red
        state.mkdir(parents=True, exist_ok=True)
        shutil.copy(NODE_RED_DIR / "flows.json", state / "flows.json")
        httpx.post(
            f"{influx.url}/query", params={"q": f'CREATE DATABASE "{db}"'}, timeout=30
        ).raise_for_status()
        self.state = state
        self.env = {
            **os.environ,
            "PARKLOTSE_BENCH_MQTT_PORT": str(mosquitto.port),
            "PARKLOTSE_BENCH_CLIENT_ID": f"bench-node-red-{uuid.uuid4().hex[:6]}",
            "PARKLOTSE_BENCH_INFLUX_PORT": str(influx.port),
            "PARKLOTSE_BENCH_INFLUX_DB": db,
            "PARKLOTSE_BENCH_UI_PORT": str(free_port()),
        }
        self.log = state / "node-red.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start Node-RED; returns when it had connected to the broker."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    shutil.which("node") or "node",
                    str(self.red),
                    "--settings",
                    str(NODE_RED_DIR / "settings.js"),
                    "--userDir",
                    str(self.state),
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.state,
            )
        connected = wait_logged([(self.log, offset)], b"Connected to broker", self.process)
        time.sleep(0.5)  # its SUBSCRIBE follows the CONNACK; Node-RED logs no SUBACK
        return connected

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


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


def _round(
    args: argparse.Namespace,
    r: int,
    mosquitto: LocalMosquitto,
    influx: LocalInfluxDB,
    root: Path,
    red: Path | None,
) -> dict[str, float]:
    """One round: every consumer live, then draining a backlog queued while it was away."""
    n = args.messages
    out: dict[str, float] = {}
    base = time.time_ns() - 3_600 * 10**9 + r * 10 * 10**9

    bare = BareSubscriber(mosquitto.port, f"bare-live-{r}").start()
    began, _ = publish(mosquitto.port, n, base)
    out["bare_live"] = n / (bare.wait(n) - began)
    bare.stop()
    BareSubscriber(mosquitto.port, f"bare-drain-{r}").start().stop()  # the broker now queues for it
    publish(mosquitto.port, n, base)
    drain = BareSubscriber(mosquitto.port, f"bare-drain-{r}").start()
    drain.wait(n)
    out["bare_drain"] = n / (drain.last - drain.connected)
    drain.stop()

    for processes in sorted({1, args.ingest_processes}):
        key = "ingest" if processes == 1 else f"ingest{processes}"
        live_db, drain_db = f"{key}_live_{r}", f"{key}_drain_{r}"
        ingester = Ingester(mosquitto, influx, live_db, root / f"{key}-live-{r}", processes)
        ingester.start()
        began, _ = publish(mosquitto.port, n, base + 10**9)
        out[f"{key}_live"] = n / (wait_stored(influx, live_db, n) - began)
        out[f"{key}_peak_rss_mib"] = ingester.peak_rss_mib()
        if r == 0 and processes == 1:
            # publish → stored latency at a steady 1,000 msg/s, same ingester, first round only.
            out["latency_p50_ms"], out["latency_p99_ms"] = latency(mosquitto, 1_000, args.latency_seconds)
            out[f"{key}_peak_rss_mib"] = max(out[f"{key}_peak_rss_mib"], ingester.peak_rss_mib())
        ingester.stop()
        drainer = Ingester(mosquitto, influx, drain_db, root / f"{key}-drain-{r}", processes)
        drainer.start()  # creates the persistent session(s)
        drainer.stop()
        publish(mosquitto.port, n, base + 2 * 10**9)
        connected = drainer.start()
        out[f"{key}_drain"] = n / (wait_stored(influx, drain_db, n) - connected)
        out[f"{key}_peak_rss_mib"] = max(out[f"{key}_peak_rss_mib"], drainer.peak_rss_mib())
        drainer.stop()

    if red is not None:
        live = NodeRed(red, mosquitto, influx, f"node_red_live_{r}", root / f"node-red-live-{r}")
        live.start()
        began, _ = publish(mosquitto.port, n, base + 3 * 10**9)
        out["peer_live"] = n / (wait_stored(influx, f"node_red_live_{r}", n) - began)
        live.stop()
        backlog = NodeRed(red, mosquitto, influx, f"node_red_drain_{r}", root / f"node-red-drain-{r}")
        backlog.start()
        backlog.stop()
        publish(mosquitto.port, n, base + 4 * 10**9)
        connected = backlog.start()
        out["peer_drain"] = n / (wait_stored(influx, f"node_red_drain_{r}", n) - connected)
        backlog.stop()
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m bench ingest")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every consumer in turn; medians are reported"
    )
    parser.add_argument(
        "--ingest-processes",
        type=int,
        default=2,
        help="also measure this many ingest processes on a shared subscription (1: only one process)",
    )
    parser.add_argument(
        "--peer",
        choices=["node-red"],
        help="also measure a peer: node-red installs the pinned flow of bench/peers/node-red from npm",
    )
    args = parser.parse_args(argv)
    n = args.messages
    red = install_node_red() if args.peer == "node-red" else None
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="parklotse-bench-") as tmp:
        root = Path(tmp)
        mosquitto, influx = LocalMosquitto(root / "mosquitto"), LocalInfluxDB(root / "influxdb")
        mosquitto.start()
        influx.start()
        # A SIGTERM (e.g. from timeout) must still stop the servers in the finally below.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            for r in range(args.rounds):
                rounds.append(_round(args, r, mosquitto, influx, root, red))
        finally:
            influx.stop()
            mosquitto.stop()

    results = {key: statistics.median(row[key] for row in rounds if key in row) for key in rounds[0]}
    ingesters = [("ingest", "Parklotse ingester, 1 process")]
    if args.ingest_processes > 1:
        label = f"Parklotse ingester, {args.ingest_processes} processes"
        ingesters.append((f"ingest{args.ingest_processes}", f"{label} ($share)"))

    def ratios(a: str, b: str) -> str:
        each = sorted(row[a] / row[b] for row in rounds)
        return f"{statistics.median(each):5.2f}× (rounds {', '.join(f'{x:.2f}' for x in each)})"

    print(f"ingest benchmark: {n:,} QoS 1 messages from two publisher processes, local mosquitto and")
    print(f"InfluxDB, {args.rounds} rounds of every consumer in turn; medians (msg/s)")
    print("  live: from the publishers' common start to the last message stored (bare: received)")
    print("  drain: a backlog queued while the consumer was away, from its connection to the last stored")
    rows = [("bare paho subscriber (counts only)", "bare"), *((label, key) for key, label in ingesters)]
    if red is not None:
        rows.append(("Node-RED 4.1.15 + influxdb 0.7.0", "peer"))
    print(f"  {'':40s} {'live':>9s} {'drain':>9s}")
    for label, key in rows:
        print(f"  {label:40s} {results[f'{key}_live']:9,.0f} {results[f'{key}_drain']:9,.0f}")
    for key, label in ingesters:
        for kind in ("live", "drain"):
            print(f"  {label}, {kind}:")
            print(f"      / bare paho  {ratios(f'{key}_{kind}', f'bare_{kind}')}")
            if red is not None:
                results[f"{key}_peer_{kind}_ratio"] = statistics.median(
                    row[f"{key}_{kind}"] / row[f"peer_{kind}"] for row in rounds
                )
                print(f"      / Node-RED   {ratios(f'{key}_{kind}', f'peer_{kind}')}")
    print(
        f"  ingester (1 process) publish → stored at 1,000 msg/s: p50 {results['latency_p50_ms']:.1f} ms, "
        f"p99 {results['latency_p99_ms']:.1f} ms (target p99 ≤ 250 ms)"
    )
    for key, label in ingesters:
        rss = max(row[f"{key}_peak_rss_mib"] for row in rounds)
        print(f"  {label}: peak RSS {rss:.1f} MiB per process")
    return results


if __name__ == "__main__":
    main()
