"""Production mode: every service refuses to start without real secrets for what it uses."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from api.settings import ApiSettings
from ingest.settings import IngestSettings
from parking.settings import MIN_PASSWORD_LENGTH, MIN_TOKEN_LENGTH, CommonSettings, is_demo_secret
from parklotse.cli import main
from simulator.settings import SimulatorSettings

PASSWORD = "Wq3-broker-pass-91"
TOKEN = "t" * MIN_TOKEN_LENGTH
REAL: dict[str, Any] = {
    "mqtt_username": "parklotse-ingest",
    "mqtt_password": PASSWORD,
    "influx_username": "parklotse",
    "influx_password": "Db-pass-5fa9c2e1",
    "api_token": TOKEN,
}


def test_every_service_starts_in_production_with_real_secrets() -> None:
    assert IngestSettings(mode="production", **REAL).mode == "production"
    assert ApiSettings(mode="production", **REAL).mode == "production"
    assert SimulatorSettings(mode="production", **REAL).mode == "production"


def test_demo_mode_asks_for_nothing() -> None:
    assert ApiSettings().mode == "demo"
    assert IngestSettings().mode == "demo"


@pytest.mark.parametrize(
    "value", ["demo-token", "DEMO-TOKEN", " demo-token ", "Demo-Token\n", "changeme", "pass word"]
)
def test_demo_values_are_recognised_whatever_their_case_and_spacing(value: str) -> None:
    assert is_demo_secret(value)


def test_a_real_value_is_not_a_demo_value() -> None:
    assert not is_demo_secret("demo-token-but-longer")


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (IngestSettings, "PARKLOTSE_MQTT_USERNAME"),
        (IngestSettings, "PARKLOTSE_MQTT_PASSWORD"),
        (IngestSettings, "PARKLOTSE_INFLUX_USERNAME"),
        (IngestSettings, "PARKLOTSE_INFLUX_PASSWORD"),
        (ApiSettings, "PARKLOTSE_MQTT_USERNAME"),
        (ApiSettings, "PARKLOTSE_MQTT_PASSWORD"),
        (ApiSettings, "PARKLOTSE_INFLUX_USERNAME"),
        (ApiSettings, "PARKLOTSE_INFLUX_PASSWORD"),
        (ApiSettings, "PARKLOTSE_API_TOKEN"),
        (SimulatorSettings, "PARKLOTSE_MQTT_USERNAME"),
        (SimulatorSettings, "PARKLOTSE_MQTT_PASSWORD"),
    ],
)
def test_each_service_names_the_unset_variable_it_needs(
    settings: type[CommonSettings], variable: str
) -> None:
    values = {k: v for k, v in REAL.items() if f"PARKLOTSE_{k.upper()}" != variable}
    # Unset, the API token is the demo's (the demo runs without setting it).
    with pytest.raises(ValidationError, match=f"{variable} is (not set|a demo value)"):
        settings(mode="production", **values)


@pytest.mark.parametrize("token", ["demo-token", "DEMO-TOKEN", " demo-token ", "changeme", "password"])
def test_the_api_refuses_a_demo_token_in_any_case_or_spacing(token: str) -> None:
    with pytest.raises(ValidationError, match="PARKLOTSE_API_TOKEN is a demo value"):
        ApiSettings(mode="production", **{**REAL, "api_token": token})


@pytest.mark.parametrize(
    "token", ["a", "x" * (MIN_TOKEN_LENGTH - 1), " " + "x" * (MIN_TOKEN_LENGTH - 1) + " "]
)
def test_the_api_refuses_a_short_token(token: str) -> None:
    with pytest.raises(
        ValidationError, match=f"PARKLOTSE_API_TOKEN is too short .*at least {MIN_TOKEN_LENGTH}"
    ):
        ApiSettings(mode="production", **{**REAL, "api_token": token})


@pytest.mark.parametrize(
    ("field", "value"), [("mqtt_password", "parklotse"), ("influx_password", " ChangeMe ")]
)
def test_the_ingester_refuses_the_demo_passwords(field: str, value: str) -> None:
    variable = f"PARKLOTSE_{field.upper()}"
    with pytest.raises(ValidationError, match=f"{variable} is a demo value"):
        IngestSettings(mode="production", **{**REAL, field: value})


def test_a_short_broker_password_is_refused() -> None:
    with pytest.raises(
        ValidationError, match=f"PARKLOTSE_MQTT_PASSWORD is too short .*{MIN_PASSWORD_LENGTH}"
    ):
        SimulatorSettings(mode="production", **{**REAL, "mqtt_password": "short-pw"})


def test_the_simulator_does_not_need_database_secrets() -> None:
    values: dict[str, Any] = {"mqtt_username": "parklotse-simulator", "mqtt_password": PASSWORD}
    assert SimulatorSettings(mode="production", **values).mode == "production"


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as raised:
        ApiSettings(mode="production")
    message = str(raised.value)
    for variable in ("MQTT_USERNAME", "MQTT_PASSWORD", "INFLUX_USERNAME", "INFLUX_PASSWORD"):
        assert f"PARKLOTSE_{variable} is not set" in message
    assert "PARKLOTSE_API_TOKEN is a demo value" in message


@pytest.mark.parametrize(
    ("argv", "variable"),
    [
        (["ingest"], "PARKLOTSE_INFLUX_PASSWORD"),
        (["api"], "PARKLOTSE_API_TOKEN"),
        (["simulate", "--scenario", "showroom"], "PARKLOTSE_MQTT_PASSWORD"),
    ],
)
def test_each_command_exits_with_code_2_and_one_line_naming_the_variable(
    argv: list[str], variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(REAL):
        monkeypatch.delenv(f"PARKLOTSE_{name.upper()}", raising=False)
    monkeypatch.setenv("PARKLOTSE_MODE", "production")
    monkeypatch.setenv("PARKLOTSE_MQTT_USERNAME", "someone")
    monkeypatch.setenv("PARKLOTSE_MQTT_PASSWORD", "Parklotse")
    monkeypatch.setenv("PARKLOTSE_INFLUX_USERNAME", "someone")
    monkeypatch.setenv("PARKLOTSE_INFLUX_PASSWORD", "changeme ")
    monkeypatch.setenv("PARKLOTSE_API_TOKEN", "DEMO-TOKEN")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and variable in err[0] and err[0].startswith("parklotse: production mode")
