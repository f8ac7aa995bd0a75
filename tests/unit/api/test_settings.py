"""Who may read what: the API's access settings."""

from __future__ import annotations

import pytest

from api.settings import ApiSettings
from tests.unit.parking.test_production_mode import REAL


def test_the_sensors_health_is_open_in_the_demo() -> None:
    assert not ApiSettings().fleet_needs_token


def test_the_sensors_health_needs_the_token_in_production() -> None:
    assert ApiSettings(mode="production", **REAL).fleet_needs_token


@pytest.mark.parametrize("mode", ["demo", "production"])
def test_an_explicit_private_fleet_setting_decides_in_both_modes(mode: str) -> None:
    settings = REAL if mode == "production" else {}
    assert ApiSettings(mode=mode, api_private_fleet=True, **settings).fleet_needs_token
    assert not ApiSettings(mode=mode, api_private_fleet=False, **settings).fleet_needs_token


def test_private_reads_make_the_sensors_private_too() -> None:
    assert ApiSettings(api_private_reads=True, api_private_fleet=False).fleet_needs_token
