"""Real mosquitto and influxd processes on loopback ports, for the demo and the test fixtures.

Each server keeps its state in one folder, is started from Debian's binaries and stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from parking.processes import stop_process


class ServerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def find_binary(name: str, hint: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ServerError(f"{name} is not installed; {hint}")


def _wait(
    predicate: object, timeout_s: float, what: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServerError(f"{what} exited with code {process.returncode} during start-up:\n{tail}")
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise ServerError(f"{what} did not become ready within {timeout_s:.0f} s (log: {log})")


@dataclass
class _Managed:
    state_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _spawn(self, argv: list[str], log: Path) -> None:
        with log.open("ab") as out:
            # A session of its own keeps Ctrl-C in the terminal from reaching the server directly;
            # the owner stops it in order instead.
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        (self.state_dir / "pid").write_text(str(self.process.pid))

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited in time."""
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, timeout_s, kill_wait_s=timeout_s)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)


@dataclass
class LocalMosquitto(_Managed):
    def start(self, timeout_s: float = 15.0) -> None:
        binary = find_binary("mosquitto", "install it with: sudo apt-get install mosquitto")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        conf = self.state_dir / "mosquitto.conf"
        conf.write_text(self._config())
        self._spawn([binary, "-c", str(conf)], self.state_dir / "mosquitto.stdout")
        assert self.process is not None
        _wait(lambda: _tcp_ready(self.port), timeout_s, "mosquitto", self.process, self._log())

    def _log(self) -> Path:
        return self.state_dir / "mosquitto.log"

    def _config(self) -> str:
        return "\n".join(
            [
                f"listener {self.port} 127.0.0.1",
                # Started as root, mosquitto would drop to the 'mosquitto' user, which cannot
                # write a state folder inside root's temporary folders: no log, no persistence.
                *(["user root"] if os.geteuid() == 0 else []),
                "allow_anonymous true",
                "persistence true",
                f"persistence_location {self.state_dir}/",
                "autosave_interval 60",
                # The ingester's persistent session may hold a large backlog while InfluxDB is down.
                "max_queued_messages 1000000",
                "max_queued_bytes 0",
                "max_inflight_messages 0",
                "log_type error",
                "log_type warning",
                f"log_dest file {self.state_dir}/mosquitto.log",
                "",
            ]
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@dataclass
class LocalInfluxDB(_Managed):
    rpc_port: int = 0

    def start(self, timeout_s: float = 30.0) -> None:
        binary = find_binary("influxd", "install it with: sudo apt-get install influxdb")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.rpc_port = self.rpc_port or free_port()
        conf = self.state_dir / "influxdb.conf"
        conf.write_text(self._config())
        log = self.state_dir / "influxd.log"
        self._spawn([binary, "-config", str(conf)], log)
        assert self.process is not None
        # /ping answers without credentials even with authentication on.
        _wait(lambda: _http_ready(f"{self.url}/ping"), timeout_s, "influxd", self.process, log)
        self._ready()

    def _ready(self) -> None:
        """What a started server needs before it is used."""

    def _config(self) -> str:
        return f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{self.state_dir}/meta"

[data]
  dir = "{self.state_dir}/data"
  wal-dir = "{self.state_dir}/wal"
  query-log-enabled = false
  trace-logging-enabled = false

[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 0

[monitor]
  store-enabled = false

[continuous_queries]
  log-enabled = false
"""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _tcp_ready(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _http_ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 204
    except httpx.HTTPError:
        return False


@dataclass
class SecureMosquitto(LocalMosquitto):
    """mosquitto started with the pilot's configuration (parklotse/pilot/mosquitto.conf): TLS, passwords, ACL.

    ``secrets_dir`` holds what parklotse/secure.py writes: ca.crt, server.crt, server.key, passwd.
    """

    secrets_dir: Path = Path()

    def _config(self) -> str:
        from parklotse.secure import render_mosquitto_conf

        return render_mosquitto_conf(self.port, self.secrets_dir, self.state_dir, as_root=os.geteuid() == 0)

    def _log(self) -> Path:
        return self.state_dir / "mosquitto.stdout"  # the pilot's broker logs to stdout

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"


@dataclass
class SecureInfluxDB(LocalInfluxDB):
    """influxd started with the pilot's configuration (authentication on); the admin made on first start."""

    username: str = ""
    password: str = field(default="", repr=False)

    def _config(self) -> str:
        from parklotse.secure import render_influxdb_conf

        return render_influxdb_conf(self.port, self.rpc_port, self.state_dir)

    def _ready(self) -> None:
        query = f"{self.url}/query"
        # Allowed without credentials only while the database has no user at all (its first start).
        escaped = self.password.replace("\\", "\\\\").replace("'", "\\'")
        statement = f"CREATE USER \"{self.username}\" WITH PASSWORD '{escaped}' WITH ALL PRIVILEGES"
        httpx.post(query, data={"q": statement}, timeout=10.0)
        answer = httpx.post(
            query, data={"q": "SHOW USERS"}, auth=(self.username, self.password), timeout=10.0
        )
        if answer.status_code != 200:
            raise ServerError(
                f"InfluxDB in {self.state_dir} refuses user {self.username!r} ({answer.status_code}): it was "
                "created with other credentials; use those, or remove the folder to start afresh"
            )
