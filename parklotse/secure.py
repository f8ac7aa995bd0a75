"""The secrets of a locked-down stack, and the pilot's configuration files rendered for local servers.

One folder holds everything secret: the CA's key, ``sensors.csv`` with each native sensor's password,
``credentials.env`` with the ``PARKLOTSE_*`` values the services use, and ``broker/`` with what the
broker reads: the CA certificate, the server certificate and key, and the password file (one user per
service, per network-server integration and per native sensor).
``parklotse demo --secure`` and ``parklotse pilot-secrets`` write it; docker-compose.production.yml and
the demo use the configuration files in ``parklotse/pilot/`` with it (docs/pilot.md).
"""

from __future__ import annotations

import csv
import secrets
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from parking import topics
from parking.registry import Registry
from parklotse.servers import ServerError, find_binary

PILOT_DIR = Path(__file__).resolve().parent / "pilot"
MOSQUITTO_CONF = PILOT_DIR / "mosquitto.conf"
MOSQUITTO_ACL = PILOT_DIR / "acl"
INFLUXDB_CONF = PILOT_DIR / "influxdb.conf"

INGEST_USER = "parklotse-ingest"
API_USER = "parklotse-api"
SIMULATOR_USER = "parklotse-simulator"
TTS_USER = "parklotse-tts"
CHIRPSTACK_USER = "parklotse-chirpstack"
INFLUX_USER = "parklotse"
# The variable prefix of each broker user in credentials.env; compose maps them onto each service's
# PARKLOTSE_MQTT_USERNAME / PARKLOTSE_MQTT_PASSWORD.
SERVICE_USERS = {
    "INGEST": INGEST_USER,
    "API": API_USER,
    "SIMULATOR": SIMULATOR_USER,
    "TTS": TTS_USER,
    "CHIRPSTACK": CHIRPSTACK_USER,
}
# Site ids that would turn a sensor's topic parking/{site}/{bay}/status into a derived topic.
_RESERVED_SITES = frozenset({"state", "events", "deadletter"})
# Names every server certificate carries: compose's service name and this machine.
DEFAULT_HOSTS = ("mosquitto", "localhost", "127.0.0.1")
CERT_DAYS = 825  # the longest validity clients still accept for a server certificate


def sensor_username(site: str, bay: str) -> str:
    """A native sensor's broker user: the ACL's ``pattern write parking/%u/status`` is its bay's topic."""
    return f"{site}/{bay}"


def random_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Secrets:
    """Every password and the token; kept in credentials.env and sensors.csv."""

    service_passwords: dict[str, str]  # broker user -> password
    sensor_passwords: dict[str, str]  # sensor user ("site/bay") -> password
    influx_password: str
    api_token: str
    example_sensor: str = field(default="")

    def broker_users(self) -> dict[str, str]:
        return {**self.service_passwords, **self.sensor_passwords}


def new_secrets(
    registry: Registry,
    previous: Mapping[str, str] | None = None,
    sensors_before: Mapping[str, str] | None = None,
) -> Secrets:
    """Random secrets for the services and for every bay of the site files; earlier ones are kept.

    Kept so that a restarted demo still logs in to the InfluxDB whose admin it created the first time,
    and so that adding a site does not change every sensor's password.
    """
    previous = previous or {}
    sensors_before = sensors_before or {}
    services = {
        user: previous.get(f"PARKLOTSE_{prefix}_MQTT_PASSWORD") or random_secret()
        for prefix, user in SERVICE_USERS.items()
    }
    sensors: dict[str, str] = {}
    for site in registry.sites.values():
        if site.id in _RESERVED_SITES:
            raise ServerError(f"site id {site.id!r} is reserved for derived topics; rename the site")
        for bay in site.bays:
            name = sensor_username(site.id, bay)
            sensors[name] = sensors_before.get(name) or random_secret()
    example = next(iter(sensors), "")
    return Secrets(
        service_passwords=services,
        sensor_passwords=sensors,
        influx_password=previous.get("PARKLOTSE_INFLUX_PASSWORD") or random_secret(),
        api_token=previous.get("PARKLOTSE_API_TOKEN") or random_secret(),
        example_sensor=example,
    )


def credentials(secrets_: Secrets, *, mqtt_url: str, ca_file: Path, influx_url: str) -> dict[str, str]:
    """The credentials.env variables (docs/pilot.md, "Where each secret lives")."""
    values = {
        "PARKLOTSE_MQTT_URL": mqtt_url,
        "PARKLOTSE_MQTT_CA_FILE": str(ca_file),
        "PARKLOTSE_INFLUX_URL": influx_url,
        "PARKLOTSE_INFLUX_USERNAME": INFLUX_USER,
        "PARKLOTSE_INFLUX_PASSWORD": secrets_.influx_password,
        "PARKLOTSE_API_TOKEN": secrets_.api_token,
    }
    for prefix, user in SERVICE_USERS.items():
        values[f"PARKLOTSE_{prefix}_MQTT_USERNAME"] = user
        values[f"PARKLOTSE_{prefix}_MQTT_PASSWORD"] = secrets_.service_passwords[user]
    if secrets_.example_sensor:
        site, bay = secrets_.example_sensor.split("/", 1)
        values["PARKLOTSE_EXAMPLE_SENSOR_USERNAME"] = secrets_.example_sensor
        values["PARKLOTSE_EXAMPLE_SENSOR_PASSWORD"] = secrets_.sensor_passwords[secrets_.example_sensor]
        values["PARKLOTSE_EXAMPLE_SENSOR_TOPIC"] = topics.native_status(site, bay)
    return values


def service_env(values: Mapping[str, str], service: str) -> dict[str, str]:
    """The variables one service reads: its own broker user as PARKLOTSE_MQTT_USERNAME/PASSWORD."""
    prefix = service.upper()
    env = {
        name: value
        for name, value in values.items()
        if not name.startswith("PARKLOTSE_EXAMPLE_")
        and "_MQTT_USERNAME" not in name
        and "_MQTT_PASSWORD" not in name
    }
    env["PARKLOTSE_MQTT_USERNAME"] = values[f"PARKLOTSE_{prefix}_MQTT_USERNAME"]
    env["PARKLOTSE_MQTT_PASSWORD"] = values[f"PARKLOTSE_{prefix}_MQTT_PASSWORD"]
    return env


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Shell syntax, one NAME=value a line, readable by its owner only."""
    lines = ["# Parklotse credentials (docs/pilot.md). Secret: keep this file to its owner (mode 600)."]
    lines += [f"{name}={shlex.quote(value)}" for name, value in values.items()]
    _write_private(path, "\n".join(lines) + "\n")


def read_env_file(path: Path) -> dict[str, str]:
    """What write_env_file wrote; an absent file is empty."""
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, _, raw = line.partition("=")
            parts = shlex.split(raw)
            values[name.strip()] = parts[0] if parts else ""
    return values


def write_sensor_list(path: Path, secrets_: Secrets) -> None:
    """username, password and topic of every native sensor, for provisioning them."""
    rows = [["username", "password", "topic"]]
    for user, password in secrets_.sensor_passwords.items():
        site, bay = user.split("/", 1)
        rows.append([user, password, topics.native_status(site, bay)])
    path.touch(mode=0o600, exist_ok=True)
    with path.open("w", newline="") as out:
        csv.writer(out).writerows(rows)
    path.chmod(0o600)


def read_sensor_list(path: Path) -> dict[str, str]:
    """username -> password from sensors.csv; an absent file is empty."""
    if not path.exists():
        return {}
    with path.open(newline="") as source:
        return {row["username"]: row["password"] for row in csv.DictReader(source) if row.get("password")}


def write_password_file(path: Path, users: Mapping[str, str]) -> None:
    """mosquitto's password file, hashed by mosquitto_passwd in one run."""
    binary = find_binary("mosquitto_passwd", "it comes with mosquitto: sudo apt-get install mosquitto")
    for user, password in users.items():
        if ":" in user or any(c in user for c in "+#\n") or "\n" in password:
            raise ServerError(f"broker user {user!r} cannot be written to a password file")
    _write_private(path, "".join(f"{user}:{password}\n" for user, password in users.items()))
    result = subprocess.run([binary, "-U", str(path)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        path.unlink(missing_ok=True)
        raise ServerError(f"mosquitto_passwd failed: {result.stderr.strip() or result.stdout.strip()}")


def broker_dir(secrets_dir: Path) -> Path:
    """What the broker reads (ca.crt, server.crt, server.key, passwd), and nothing else: compose mounts it."""
    return secrets_dir / "broker"


def prepare(
    secrets_dir: Path, registry: Registry, hosts: Iterable[str], previous: Mapping[str, str]
) -> Secrets:
    """Secrets, certificates, the broker's password file and sensors.csv in ``secrets_dir``."""
    secrets_dir.mkdir(parents=True, exist_ok=True)
    secrets_dir.chmod(0o700)
    secret = new_secrets(registry, previous, read_sensor_list(secrets_dir / "sensors.csv"))
    make_certificates(secrets_dir, hosts)
    write_password_file(broker_dir(secrets_dir) / "passwd", secret.broker_users())
    write_sensor_list(secrets_dir / "sensors.csv", secret)
    return secret


def make_certificates(folder: Path, hosts: Iterable[str]) -> None:
    """A CA (ca.key here, ca.crt in broker/) and a server certificate for ``hosts`` (broker/server.*).

    The CA is kept when it exists, so clients that trust it keep working after a new server certificate.
    """
    openssl = find_binary("openssl", "install it with: sudo apt-get install openssl")
    broker = broker_dir(folder)
    broker.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = folder / "ca.key", broker / "ca.crt"
    if not (ca_key.exists() and ca_crt.exists()):
        _openssl(
            openssl,
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
            ["-keyout", str(ca_key), "-out", str(ca_crt), "-days", "3650", "-subj", "/CN=Parklotse pilot CA"],
            [
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        )
    names = [f"IP:{host}" if _is_ip(host) else f"DNS:{host}" for host in dict.fromkeys(hosts)]
    server_crt = broker / "server.crt"
    if server_crt.exists() and (broker / "server.key").exists():
        shown = _openssl(openssl, ["x509", "-in", str(server_crt), "-noout", "-ext", "subjectAltName"])
        have = {name.strip().replace("IP Address:", "IP:") for name in shown.splitlines()[-1].split(",")}
        if set(names) <= have:
            return  # it already names every host: clients that pinned it keep working
    extensions = folder / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={','.join(names)}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    request = folder / "server.csr"
    _openssl(
        openssl,
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
        ["-keyout", str(broker / "server.key"), "-out", str(request), "-subj", "/CN=Parklotse broker"],
    )
    _openssl(
        openssl,
        ["x509", "-req", "-in", str(request), "-CA", str(ca_crt), "-CAkey", str(ca_key)],
        ["-CAserial", str(folder / "ca.srl"), "-CAcreateserial"],
        ["-out", str(server_crt), "-days", str(CERT_DAYS), "-extfile", str(extensions)],
    )
    request.unlink()
    extensions.unlink()
    for key in (ca_key, broker / "server.key"):
        key.chmod(0o600)


def _openssl(binary: str, *parts: list[str]) -> str:
    argv = [binary, *(arg for part in parts for arg in part)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerError(f"openssl {argv[1]} failed: {result.stderr.strip()[-500:]}")
    return result.stdout


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def _replace_each_once(text: str, replacements: Iterable[tuple[str, str]], what: str) -> str:
    for old, new in replacements:
        if text.count(old) < 1:
            raise ServerError(f"{what} has no {old!r} to replace; was it edited?")
        text = text.replace(old, new)
    return text


def render_mosquitto_conf(port: int, secrets_dir: Path, data_dir: Path, *, as_root: bool = False) -> str:
    """parklotse/pilot/mosquitto.conf for a local broker: a loopback port and local folders, nothing else."""
    text = _replace_each_once(
        MOSQUITTO_CONF.read_text(),
        [
            ("\nlistener 8883\n", f"\nlistener {port} 127.0.0.1\n"),
            ("/mosquitto/config/secrets/", f"{secrets_dir}/"),
            ("/mosquitto/config/acl", str(MOSQUITTO_ACL)),
            ("/mosquitto/data/", f"{data_dir}/"),
        ],
        str(MOSQUITTO_CONF),
    )
    # Started as root, mosquitto drops to the 'mosquitto' user, which cannot read a private folder.
    return text + ("user root\n" if as_root else "")


def render_influxdb_conf(http_port: int, rpc_port: int, data_dir: Path) -> str:
    """parklotse/pilot/influxdb.conf for a local influxd: loopback ports and local folders, nothing else."""
    return _replace_each_once(
        INFLUXDB_CONF.read_text(),
        [
            ('bind-address = "127.0.0.1:8088"', f'bind-address = "127.0.0.1:{rpc_port}"'),
            ('bind-address = ":8086"', f'bind-address = "127.0.0.1:{http_port}"'),
            ("/var/lib/influxdb/", f"{data_dir}/"),
        ],
        str(INFLUXDB_CONF),
    )
