"""docker-compose.production.yml, checked without a Docker engine against the pilot's very files.

The broker and the database of the production compose read parklotse/pilot/, the files the secure demo
and tests/integration/test_secure_stack.py start mosquitto and influxd with; every secret comes from
the environment under the names parklotse/secure.py writes to credentials.env.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import ApiSettings
from ingest.settings import IngestSettings
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR, parse_mqtt_url
from parklotse import secure
from parklotse.cli import build_parser

REPO = Path(__file__).resolve().parents[3]
APPS = ("ingest", "api", "simulator")
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(:\?[^}]*|:-[^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.production.yml").read_text())
    return document


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> host path of a service's bind mounts and volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.rsplit(":", 2)[:2] if volume.endswith(":ro") else volume.rsplit(":", 1)
        mounts[target] = source
    return mounts


def _conf_paths(text: str, keys: tuple[str, ...]) -> dict[str, str]:
    paths = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in keys:
            paths[parts[0]] = parts[1]
    return paths


def _mounted(path: str, mounts: dict[str, str]) -> str | None:
    """The host path that provides ``path`` inside the container, or None."""
    for target, source in mounts.items():
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return source + path[len(target.rstrip("/")) :]
    return None


def _credential_names() -> set[str]:
    secret = secure.new_secrets(load_registry(DEFAULT_SITES_DIR))
    return set(
        secure.credentials(secret, mqtt_url="mqtts://h:8883", ca_file=Path("ca.crt"), influx_url="http://h:1")
    )


def test_the_broker_runs_the_pilots_configuration_and_acl(compose: dict[str, Any]) -> None:
    mounts = _mounts(compose["services"]["mosquitto"])
    assert mounts["/mosquitto/config/mosquitto.conf"] == "./parklotse/pilot/mosquitto.conf"
    conf = secure.MOSQUITTO_CONF.read_text()
    paths = _conf_paths(conf, ("cafile", "certfile", "keyfile", "password_file", "acl_file"))
    assert set(paths) == {"cafile", "certfile", "keyfile", "password_file", "acl_file"}
    assert _mounted(paths["acl_file"], mounts) == "./parklotse/pilot/acl"
    for key in ("cafile", "certfile", "keyfile", "password_file"):
        source = _mounted(paths[key], mounts)
        # The broker/ folder that pilot-secrets writes, and nothing else of the secrets.
        assert source is not None and source.startswith("${PARKLOTSE_SECRETS_DIR:-./secrets}/broker/"), key
    assert _mounted("/mosquitto/data/", mounts) == "mosquitto-data/"


def test_the_broker_listens_on_tls_only_and_publishes_just_that_port(compose: dict[str, Any]) -> None:
    conf = secure.MOSQUITTO_CONF.read_text()
    listeners = [line.split() for line in conf.splitlines() if line.startswith("listener ")]
    assert listeners == [["listener", "8883"]]
    assert "allow_anonymous false" in conf.splitlines()
    assert compose["services"]["mosquitto"]["ports"] == ["8883:8883"]


def test_influxdb_runs_the_pilots_configuration_with_authentication(compose: dict[str, Any]) -> None:
    influx = compose["services"]["influxdb"]
    mounts = _mounts(influx)
    assert mounts["/etc/influxdb/influxdb.conf"] == "./parklotse/pilot/influxdb.conf"
    conf = secure.INFLUXDB_CONF.read_text()
    assert "auth-enabled = true" in conf
    for folder in re.findall(r'dir = "([^"]+)"', conf):
        assert _mounted(folder, mounts) is not None, folder
    assert influx["environment"]["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    assert "ports" not in influx


def test_only_the_broker_and_the_api_publish_ports(compose: dict[str, Any]) -> None:
    published = {
        name: service["ports"] for name, service in compose["services"].items() if "ports" in service
    }
    api = compose["services"]["api"]["environment"]
    assert published == {"mosquitto": ["8883:8883"], "api": [f"8000:{api['PARKLOTSE_API_PORT']}"]}


def test_every_app_service_runs_in_production_mode_over_tls(compose: dict[str, Any]) -> None:
    conf_port = 8883
    for name in APPS:
        service = compose["services"][name]
        env = service["environment"]
        assert env["PARKLOTSE_MODE"] == "production", name
        endpoint = parse_mqtt_url(env["PARKLOTSE_MQTT_URL"])
        assert (endpoint.host, endpoint.port, endpoint.tls) == ("mosquitto", conf_port, True), name
        # The CA file named in the environment is the pilot's CA, mounted read-only.
        assert _mounted(env["PARKLOTSE_MQTT_CA_FILE"], _mounts(service)) == (
            "${PARKLOTSE_SECRETS_DIR:-./secrets}/broker/ca.crt"
        ), name


def test_the_servers_certificate_names_the_host_the_services_use(compose: dict[str, Any]) -> None:
    for name in APPS:
        host = parse_mqtt_url(compose["services"][name]["environment"]["PARKLOTSE_MQTT_URL"]).host
        assert host in secure.DEFAULT_HOSTS, name


def test_every_secret_comes_from_the_environment_under_a_name_credentials_env_has(
    compose: dict[str, Any],
) -> None:
    names = _credential_names()
    secret_settings = ("PASSWORD", "TOKEN", "USERNAME")
    for name, service in compose["services"].items():
        for variable, value in service.get("environment", {}).items():
            if any(word in variable for word in secret_settings):
                found = VARIABLE.fullmatch(str(value))
                assert found, f"{name}: {variable} is not taken from the environment"
                assert found.group(2).startswith(":?"), f"{name}: {variable} must be required, not defaulted"
                assert found.group(1) in names, f"{name}: {found.group(1)} is not in credentials.env"


def test_each_service_logs_in_to_the_broker_as_its_own_user(compose: dict[str, Any]) -> None:
    for name in APPS:
        env = compose["services"][name]["environment"]
        assert env["PARKLOTSE_MQTT_USERNAME"].startswith(f"${{PARKLOTSE_{name.upper()}_MQTT_USERNAME:?")
        assert env["PARKLOTSE_MQTT_PASSWORD"].startswith(f"${{PARKLOTSE_{name.upper()}_MQTT_PASSWORD:?")


def test_the_simulator_gets_no_database_secrets(compose: dict[str, Any]) -> None:
    assert not any("INFLUX" in variable for variable in compose["services"]["simulator"]["environment"])


def test_every_environment_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    known = {
        f"PARKLOTSE_{name.upper()}"
        for name in set(IngestSettings.model_fields) | set(ApiSettings.model_fields)
    }
    for name in APPS:
        for variable in compose["services"][name]["environment"]:
            assert variable in known, f"{name}: {variable} is not a Parklotse setting"


def test_volumes_are_named_or_files_of_the_repository(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for source in _mounts(service).values():
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source}"
            elif not source.startswith("${PARKLOTSE_SECRETS_DIR"):
                assert source in declared, f"{name}: {source}"


def test_one_image_is_built_once_and_shared(compose: dict[str, Any]) -> None:
    apps = {name: compose["services"][name] for name in APPS}
    assert [name for name, service in apps.items() if "build" in service] == ["ingest"]
    assert {service["image"] for service in apps.values()} == {"parklotse:latest"}


def test_every_service_command_is_one_the_command_line_accepts(compose: dict[str, Any]) -> None:
    parser = build_parser()
    for name in APPS:
        parser.parse_args(compose["services"][name]["command"])
