"""Settings from PARKLOTSE_* variables and flags overriding them (production mode: tests/unit/parking)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.settings import ApiSettings
from parking.settings import CommonSettings, parse_mqtt_url


def test_environment_variables_set_the_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKLOTSE_MQTT_URL", "mqtt://broker:1884")
    monkeypatch.setenv("PARKLOTSE_INFLUX_URL", "http://db:8087/")
    monkeypatch.setenv("PARKLOTSE_INFLUX_DB", "pilot")
    settings = CommonSettings()
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.tls) == ("broker", 1884, False)
    assert settings.influx_url == "http://db:8087" and settings.influx_db == "pilot"


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKLOTSE_API_PORT", "9000")
    assert ApiSettings(api_port=8123).api_port == 8123


def test_defaults_listen_on_loopback_port_8000() -> None:
    settings = ApiSettings()
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8000)


def test_mqtts_means_tls_on_8883() -> None:
    endpoint = parse_mqtt_url("mqtts://broker.example")
    assert endpoint.tls and endpoint.port == 8883


@pytest.mark.parametrize("url", ["http://broker:1883", "mqtt://", "mqtt://host:notaport"])
def test_a_bad_broker_url_is_refused_with_its_value(url: str) -> None:
    with pytest.raises(ValidationError, match="MQTT URL"):
        CommonSettings(mqtt_url=url)
