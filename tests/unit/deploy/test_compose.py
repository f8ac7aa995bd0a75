"""docker-compose.yml, checked without a Docker engine: services, ports, settings, files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import ApiSettings
from ingest.settings import IngestSettings

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return document


def known_variables() -> set[str]:
    fields = set(IngestSettings.model_fields) | set(ApiSettings.model_fields)
    return {f"PARKLOTSE_{name.upper()}" for name in fields}


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"mosquitto", "influxdb", "ingest", "api", "simulator"}


def test_every_environment_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    known = known_variables()
    for name, service in compose["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("PARKLOTSE_"):
                assert variable in known, f"{name}: {variable} is not a Parklotse setting"


def test_the_api_port_is_published_and_matches_its_setting(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["ports"] == [f"8000:{api['environment']['PARKLOTSE_API_PORT']}"]
    assert api["environment"]["PARKLOTSE_API_HOST"] == "0.0.0.0"


def test_app_services_reach_the_servers_by_service_name(compose: dict[str, Any]) -> None:
    for name in ("ingest", "api", "simulator"):
        env = compose["services"][name]["environment"]
        assert env["PARKLOTSE_MQTT_URL"] == "mqtt://mosquitto:1883"
        assert env["PARKLOTSE_INFLUX_URL"] == "http://influxdb:8086"


def test_long_running_services_have_health_checks(compose: dict[str, Any]) -> None:
    for name in ("mosquitto", "influxdb", "ingest", "api"):
        assert "healthcheck" in compose["services"][name], name


def test_referenced_files_exist_and_volumes_are_named(compose: dict[str, Any]) -> None:
    assert (REPO / "Dockerfile").is_file()
    declared = set(compose["volumes"])
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), source
            else:
                assert source in declared, source


def test_no_secret_is_committed(compose: dict[str, Any]) -> None:
    token = compose["services"]["api"]["environment"]["PARKLOTSE_API_TOKEN"]
    assert token.startswith("${PARKLOTSE_API_TOKEN")


def test_every_service_command_is_one_the_command_line_accepts(compose: dict[str, Any]) -> None:
    from parklotse.cli import build_parser

    parser = build_parser()
    for name, service in compose["services"].items():
        command = service.get("command")
        if name in ("mosquitto", "influxdb") or command is None:
            continue
        parser.parse_args(command)  # exits (SystemExit) on an unknown flag or value


def test_the_image_copies_every_package_the_project_installs() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in patterns}
    copied = {
        line.split()[1]
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and not line.startswith(("COPY pyproject", "COPY --from="))
    }
    assert packages == copied, "the Dockerfile copies other folders than pyproject.toml installs"


def test_one_image_is_built_once_and_shared_by_the_services(compose: dict[str, Any]) -> None:
    apps = {name: compose["services"][name] for name in ("ingest", "api", "simulator")}
    assert [name for name, service in apps.items() if "build" in service] == ["ingest"]
    assert {service["image"] for service in apps.values()} == {"parklotse:latest"}
    assert all(service["pull_policy"] == "never" for name, service in apps.items() if name != "ingest")


def test_the_open_broker_and_database_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    for name in ("mosquitto", "influxdb"):
        assert all(port.startswith("127.0.0.1:") for port in compose["services"][name]["ports"]), name
