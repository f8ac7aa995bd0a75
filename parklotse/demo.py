"""``parklotse demo``: broker, database, ingester, API and simulators on this machine, in one folder.

Ctrl-C stops everything in reverse order of start and leaves no process behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from parking.ports import port_is_free
from parking.processes import stop_processes
from parking.settings import default_state_root
from parklotse.servers import (
    LocalInfluxDB,
    LocalMosquitto,
    SecureInfluxDB,
    SecureMosquitto,
    ServerError,
    free_port,
)

log = logging.getLogger(__name__)


def _preferred_port(port: int) -> int:
    return port if port_is_free(port) else free_port()


def choose_api_port(preferred: int) -> tuple[int, str | None]:
    """The port of the live page, and if it is not the preferred one, a line saying which and why."""
    if port_is_free(preferred):
        return preferred, None
    port = free_port()
    return port, (
        f"parklotse demo: port {preferred} is in use by another program, so the live page is on port "
        f"{port} instead (stop that program or choose one with --port)"
    )


def _kill_leftovers(pid_file: Path) -> None:
    """Processes of an earlier demo that was killed without cleaning up (e.g. kill -9 of the parent)."""
    if not pid_file.exists():
        return
    try:
        pids = json.loads(pid_file.read_text())
    except ValueError:
        pids = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"parklotse" in cmdline or b"mosquitto" in cmdline or b"influxd" in cmdline:
            log.info("stopping leftover process %d of an earlier demo", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    pid_file.unlink()


class Stack:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.servers: list[LocalMosquitto | LocalInfluxDB | SecureMosquitto | SecureInfluxDB] = []
        self.pid_file = state_dir / "pids.json"

    def record(self) -> None:
        pids = [s.pid for s in self.servers if s.pid] + [p.pid for _, p in self.children]
        self.pid_file.write_text(json.dumps(pids))

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log_path = self.state_dir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.children.append((name, process))
        self.record()

    def failed(self) -> str | None:
        for name, process in self.children:
            if process.poll() is not None:
                log_path = self.state_dir / "logs" / f"{name}.log"
                return f"{name} exited with code {process.returncode} (log: {log_path})"
        return None

    def stop(self) -> None:
        stop_processes([process for _name, process in reversed(self.children)], 15.0)
        for server in reversed(self.servers):
            server.stop()
        self.children.clear()
        self.servers.clear()
        self.pid_file.unlink(missing_ok=True)


def run_demo(args: argparse.Namespace) -> int:
    state_dir: Path = (args.state_dir or default_state_root() / "demo").resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(state_dir)
    _kill_leftovers(stack.pid_file)
    # Told first: a kiosk browser pointed at the usual port would otherwise just go blank.
    api_port, moved = choose_api_port(args.api_port)
    if moved:
        print(moved, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return _run(args, stack, stop, api_port)
    except ServerError as exc:
        print(f"parklotse demo: {exc}", file=sys.stderr)
        return 2
    finally:
        print("\nstopping the demo …", flush=True)
        stack.stop()
        print("stopped; state kept in", state_dir, flush=True)


@dataclass
class Wiring:
    """Where the servers are, and each service's environment."""

    mqtt_url: str
    influx_url: str
    env: dict[str, dict[str, str]]  # service (ingest, api, simulator) -> its environment
    token: str
    credentials_file: Path | None = None


def _start_servers(args: argparse.Namespace, stack: Stack) -> Wiring:
    state_dir = stack.state_dir
    base = {
        **os.environ,
        "PARKLOTSE_SPOOL_DIR": str(state_dir / "ingest" / "spool"),
        "PARKLOTSE_DEADLETTER_DIR": str(state_dir / "ingest" / "deadletter"),
        "PARKLOTSE_METRICS_PORT": str(_preferred_port(9108)),
        "PYTHONUNBUFFERED": "1",
    }
    if getattr(args, "secure", False):
        return _start_secure_servers(stack, base)
    mosquitto = LocalMosquitto(state_dir / "mosquitto", port=_preferred_port(1883))
    influx = LocalInfluxDB(state_dir / "influxdb", port=_preferred_port(8086))
    for server in (mosquitto, influx):
        server.start()
        stack.servers.append(server)
        stack.record()
    env = {**base, "PARKLOTSE_MQTT_URL": mosquitto.url, "PARKLOTSE_INFLUX_URL": influx.url}
    return Wiring(mosquitto.url, influx.url, dict.fromkeys(SERVICES, env), _token())


def _start_secure_servers(stack: Stack, base: dict[str, str]) -> Wiring:
    """The pilot's locks (docs/pilot.md): TLS broker with passwords and ACL, InfluxDB with authentication."""
    from parking.registry import load_registry
    from parking.settings import CommonSettings
    from parklotse import secure

    state_dir = stack.state_dir
    secrets_dir = state_dir / "secrets"
    credentials_file = state_dir / "credentials.env"
    registry = load_registry(CommonSettings().sites_dir)
    previous = secure.read_env_file(credentials_file)
    secret = secure.prepare(secrets_dir, registry, ["localhost", "127.0.0.1"], previous)
    broker_dir = secure.broker_dir(secrets_dir)
    mosquitto = SecureMosquitto(
        state_dir / "mosquitto-secure", port=_preferred_port(8883), secrets_dir=broker_dir
    )
    influx = SecureInfluxDB(
        state_dir / "influxdb-secure",
        port=_preferred_port(8086),
        username=secure.INFLUX_USER,
        password=secret.influx_password,
    )
    for server in (mosquitto, influx):
        stack.servers.append(server)
        server.start()
        stack.record()
    values = secure.credentials(
        secret, mqtt_url=mosquitto.url, ca_file=broker_dir / "ca.crt", influx_url=influx.url
    )
    secure.write_env_file(credentials_file, values)
    env = {
        service: {**base, **secure.service_env(values, service), "PARKLOTSE_MODE": "production"}
        for service in SERVICES
    }
    return Wiring(mosquitto.url, influx.url, env, secret.api_token, credentials_file)


SERVICES = ("ingest", "api", "simulator")


def _run(args: argparse.Namespace, stack: Stack, stop: threading.Event, api_port: int) -> int:
    state_dir = stack.state_dir
    wiring = _start_servers(args, stack)
    for env in wiring.env.values():
        env["PARKLOTSE_API_PORT"] = str(api_port)
    print(_addresses(f"http://127.0.0.1:{api_port}/", wiring.token), flush=True)
    # Before the API starts, so that its rollup keeper builds the rollups of all of it at start-up.
    history_sites = [] if args.no_backfill else _backfill(args, wiring.env["api"])
    command = [sys.executable, "-m", "parklotse"]
    stack.spawn("ingest", [*command, "ingest"], wiring.env["ingest"])
    stack.spawn("api", [*command, "api"], wiring.env["api"])
    url = f"http://127.0.0.1:{api_port}/"
    _wait_http(f"{url}healthz", stack, stop)
    _wait_history(url, history_sites, stack, stop)
    for scenario in simulated_models(args.scenario or ["showroom"]):
        # One simulator per town model: it publishes every site that shows it (the town centre and the
        # showroom table), looping through the preset's busy hours whatever the hour outside. The
        # showroom scenario is the town model with what a town with sensors runs (app and signs).
        stack.spawn(
            f"simulate-{scenario}",
            [
                *command,
                "simulate",
                "--scenario",
                scenario,
                "--speed",
                str(args.speed),
                "--preset",
                args.preset,
            ],
            wiring.env["simulator"],
        )
    secured = (
        f"  secured:    TLS broker with passwords and ACL, InfluxDB with authentication, production mode\n"
        f"  secrets:    {wiring.credentials_file} (every PARKLOTSE_* credential, shell syntax)\n"
        if wiring.credentials_file
        else ""
    )
    print(
        f"\nParklotse demo is running.\n"
        f"  live page:  {url}   (town centre: {url}?site=town-centre, English: {url}?lang=en)\n"
        f"  staff page: {url}staff   (token: {wiring.token})\n"
        f"  API docs:   {url}docs\n"
        f"  broker:     {wiring.mqtt_url}    InfluxDB: {wiring.influx_url}\n"
        f"{secured}"
        f"  state/logs: {state_dir}\n"
        f"Press Ctrl-C to stop.\n",
        flush=True,
    )
    while not stop.wait(0.5):
        problem = stack.failed()
        if problem:
            print(f"parklotse demo: {problem}", file=sys.stderr)
            return 1
    return 0


def _token() -> str:
    """The control token the API will use: it reads the same PARKLOTSE_* environment."""
    from api.settings import ApiSettings

    return ApiSettings().api_token.get_secret_value()


def _addresses(url: str, token: str) -> str:
    return f"Parklotse demo: live page {url}  ·  staff page {url}staff (token: {token})"


def simulated_models(scenarios: list[str]) -> list[str]:
    """The scenarios to run live, one per town model (showroom and town-centre share one)."""
    from simulator.scenario import load_scenario

    chosen: dict[str, str] = {}
    for name in scenarios:
        chosen.setdefault(load_scenario(name).site.model_dump_json(), name)
    return list(chosen.values())


def _backfill(args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    """Weeks of simulated history for the simulated sites; returns the sites that have it."""
    from pydantic import SecretStr

    from parking.settings import CommonSettings
    from parklotse.backfill import run_backfill

    password = env.get("PARKLOTSE_INFLUX_PASSWORD")
    settings = CommonSettings(
        influx_url=env["PARKLOTSE_INFLUX_URL"],
        influx_username=env.get("PARKLOTSE_INFLUX_USERNAME"),
        influx_password=SecretStr(password) if password else None,
    )
    outcomes = run_backfill(settings, args.scenario or ["showroom", "town-centre"], sys.stdout)
    return [o.site for o in outcomes]


def _wait_history(url: str, sites: list[str], stack: Stack, stop: threading.Event) -> None:
    """Until the API answers the sites' four-week heatmaps (its keeper builds the rollups first)."""
    from parklotse.backfill import history_served

    if not sites:
        return
    started = time.monotonic()
    print("  preparing the history panels (rollups) …", flush=True)
    deadline = started + 180.0
    while not stop.is_set() and time.monotonic() < deadline:
        problem = stack.failed()
        if problem:
            raise ServerError(problem)
        if history_served(url, sites):
            print(f"  history panels ready after {time.monotonic() - started:.1f} s", flush=True)
            return
        time.sleep(0.5)
    if not stop.is_set():
        print("  the history panels are not ready yet; the page fills them as soon as they are", flush=True)


def _wait_http(url: str, stack: Stack, stop: threading.Event, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        problem = stack.failed()
        if problem:
            raise ServerError(problem)
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    if not stop.is_set():
        raise ServerError(f"{url} did not answer within {timeout_s:.0f} s")
