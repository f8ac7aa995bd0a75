"""parklotse/secure.py: the pilot's files rendered for local servers, and credentials.env."""

from __future__ import annotations

import difflib
from pathlib import Path

from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR, MIN_PASSWORD_LENGTH, MIN_TOKEN_LENGTH, is_demo_secret
from parklotse import secure


def _changed(original: str, rendered: str) -> list[str]:
    diff = difflib.unified_diff(original.splitlines(), rendered.splitlines(), lineterm="", n=0)
    # Comments may name the folders too; only settings count.
    changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    return [line for line in changed if not line[1:].lstrip().startswith("#")]


def test_the_local_broker_differs_from_the_pilots_only_in_port_and_folders() -> None:
    rendered = secure.render_mosquitto_conf(18883, Path("/state/broker"), Path("/state/data"))
    changed = _changed(secure.MOSQUITTO_CONF.read_text(), rendered)
    assert sorted(changed) == sorted(
        [
            "-listener 8883",
            "+listener 18883 127.0.0.1",
            "-cafile /mosquitto/config/secrets/ca.crt",
            "+cafile /state/broker/ca.crt",
            "-certfile /mosquitto/config/secrets/server.crt",
            "+certfile /state/broker/server.crt",
            "-keyfile /mosquitto/config/secrets/server.key",
            "+keyfile /state/broker/server.key",
            "-password_file /mosquitto/config/secrets/passwd",
            "+password_file /state/broker/passwd",
            "-acl_file /mosquitto/config/acl",
            f"+acl_file {secure.MOSQUITTO_ACL}",
            "-persistence_location /mosquitto/data/",
            "+persistence_location /state/data/",
        ]
    )


def test_the_local_database_differs_from_the_pilots_only_in_addresses_and_folders() -> None:
    rendered = secure.render_influxdb_conf(18086, 18088, Path("/state/influx"))
    changed = [line.strip() for line in _changed(secure.INFLUXDB_CONF.read_text(), rendered)]
    assert all("bind-address" in line or "dir =" in line for line in changed), changed
    assert "auth-enabled = true" in rendered


def test_the_acl_pattern_gives_a_sensor_its_own_bays_topic_only() -> None:
    assert "pattern write parking/%u/status" in secure.MOSQUITTO_ACL.read_text().splitlines()
    assert secure.sensor_username("showroom", "B20") == "showroom/B20"


def test_credentials_env_holds_what_the_issue_lists_and_reads_back(tmp_path: Path) -> None:
    secret = secure.new_secrets(load_registry(DEFAULT_SITES_DIR))
    values = secure.credentials(
        secret,
        mqtt_url="mqtts://127.0.0.1:8883",
        ca_file=tmp_path / "my ca.crt",
        influx_url="http://127.0.0.1:8086",
    )
    for name in (
        "PARKLOTSE_MQTT_URL",
        "PARKLOTSE_MQTT_CA_FILE",
        "PARKLOTSE_INFLUX_URL",
        "PARKLOTSE_INFLUX_USERNAME",
        "PARKLOTSE_INFLUX_PASSWORD",
        "PARKLOTSE_API_TOKEN",
        "PARKLOTSE_INGEST_MQTT_USERNAME",
        "PARKLOTSE_API_MQTT_PASSWORD",
        "PARKLOTSE_SIMULATOR_MQTT_PASSWORD",
        "PARKLOTSE_EXAMPLE_SENSOR_USERNAME",
        "PARKLOTSE_EXAMPLE_SENSOR_PASSWORD",
        "PARKLOTSE_EXAMPLE_SENSOR_TOPIC",
    ):
        assert values[name], name
    site, bay = values["PARKLOTSE_EXAMPLE_SENSOR_USERNAME"].split("/")
    assert values["PARKLOTSE_EXAMPLE_SENSOR_TOPIC"] == f"parking/{site}/{bay}/status"
    path = tmp_path / "credentials.env"
    secure.write_env_file(path, values)
    assert secure.read_env_file(path) == values
    assert path.stat().st_mode & 0o077 == 0


def test_generated_secrets_pass_production_mode() -> None:
    secret = secure.new_secrets(load_registry(DEFAULT_SITES_DIR))
    assert len(secret.api_token) >= MIN_TOKEN_LENGTH and not is_demo_secret(secret.api_token)
    for password in [secret.influx_password, *secret.broker_users().values()]:
        assert len(password) >= MIN_PASSWORD_LENGTH


def test_earlier_secrets_are_kept() -> None:
    registry = load_registry(DEFAULT_SITES_DIR)
    first = secure.new_secrets(registry)
    values = secure.credentials(first, mqtt_url="mqtts://h:8883", ca_file=Path("ca"), influx_url="http://h:1")
    again = secure.new_secrets(registry, values, first.sensor_passwords)
    assert again == first


def test_each_service_gets_its_own_broker_user() -> None:
    secret = secure.new_secrets(load_registry(DEFAULT_SITES_DIR))
    values = secure.credentials(
        secret, mqtt_url="mqtts://h:8883", ca_file=Path("ca"), influx_url="http://h:1"
    )
    env = secure.service_env(values, "simulator")
    assert env["PARKLOTSE_MQTT_USERNAME"] == secure.SIMULATOR_USER
    assert env["PARKLOTSE_MQTT_PASSWORD"] == secret.service_passwords[secure.SIMULATOR_USER]
    assert not any(name.startswith("PARKLOTSE_EXAMPLE") or "INGEST" in name for name in env)
