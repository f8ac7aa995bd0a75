"""Settings read once from ``PARKLOTSE_*`` environment variables and passed in; flags override them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The sample sites ship inside the package, so a wheel install has them too.
PACKAGED_SITES_DIR = Path(__file__).resolve().parent / "sample_sites"
DEFAULT_SITES_DIR = PACKAGED_SITES_DIR
# A municipality's own site files, found without any setting when a service starts in their folder.
LOCAL_SITES_DIR = Path("sites")


def find_sites_dir() -> Path:
    """Where the site files are when neither ``--sites-dir`` nor ``PARKLOTSE_SITES_DIR`` says.

    The order (README, "Configuration"): ``--sites-dir``, ``PARKLOTSE_SITES_DIR``, ``./sites`` if it
    exists in the current folder, then the sample sites that ship with the package.
    """
    local = Path.cwd() / LOCAL_SITES_DIR
    return local if local.is_dir() else PACKAGED_SITES_DIR


def default_state_root() -> Path:
    """Where services keep state (spool, dead letters, the demo) unless told: ``./.run``.

    The current folder, never the installed package: site-packages may be read-only and is
    replaced by every upgrade.
    """
    return Path.cwd() / ".run"


# Values of the demo and of examples, and the first words anyone tries; production mode refuses them
# whatever their case and spacing (docs/pilot.md, "Production mode").
DEMO_SECRETS = frozenset(
    {"", "parklotse", "changeme", "demo", "demo-token", "password", "secret", "admin", "test", "token"}
)
# A bearer token is guessed offline at leisure; 32 characters of token_urlsafe are 192 bits.
MIN_TOKEN_LENGTH = 32
MIN_PASSWORD_LENGTH = 12

# What a service uses, and so needs real secrets for in production mode.
Need = Literal["mqtt", "influx", "api_token"]


def is_demo_secret(value: str) -> bool:
    """A demo or example value, compared without regard to case and whitespace."""
    return "".join(value.split()).casefold() in DEMO_SECRETS


def production_problems(
    needs: frozenset[Need],
    *,
    mqtt_username: str | None,
    mqtt_password: str | None,
    influx_username: str | None,
    influx_password: str | None,
    api_token: str | None,
) -> list[str]:
    """Each setting that is not fit for production, named by its variable and with what is wrong."""
    problems: list[str] = []
    if "mqtt" in needs:
        problems += _missing("PARKLOTSE_MQTT_USERNAME", mqtt_username)
        problems += _weak("PARKLOTSE_MQTT_PASSWORD", mqtt_password, MIN_PASSWORD_LENGTH)
    if "influx" in needs:
        problems += _missing("PARKLOTSE_INFLUX_USERNAME", influx_username)
        problems += _weak("PARKLOTSE_INFLUX_PASSWORD", influx_password, MIN_PASSWORD_LENGTH)
    if "api_token" in needs:
        problems += _weak("PARKLOTSE_API_TOKEN", api_token, MIN_TOKEN_LENGTH)
    return problems


def _missing(variable: str, value: str | None) -> list[str]:
    return [f"{variable} is not set"] if value is None or not value.strip() else []


def _weak(variable: str, value: str | None, min_length: int) -> list[str]:
    if value is None or not value.strip():
        return [f"{variable} is not set"]
    if is_demo_secret(value):
        return [f"{variable} is a demo value"]
    if len(value.strip()) < min_length:
        return [f"{variable} is too short ({len(value.strip())} characters, at least {min_length})"]
    return []


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    tls: bool


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """``mqtt://host:port`` or ``mqtts://host:port`` (TLS); port defaults to 1883 / 8883."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT URL {url!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {url!r} has no host")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"MQTT URL {url!r} has an invalid port") from exc
    return MqttEndpoint(host=parts.hostname, port=port, tls=tls)


class CommonSettings(BaseSettings):
    """What every component needs: where the broker, the database and the site files are."""

    model_config = SettingsConfigDict(env_prefix="PARKLOTSE_", extra="ignore", frozen=True)

    mode: Literal["demo", "production"] = "demo"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_ca_file: Path | None = None
    mqtt_tls_insecure: bool = False
    influx_url: str = "http://127.0.0.1:8086"
    influx_db: str = Field(default="parking", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_timeout_s: float = Field(default=10.0, gt=0)
    sites_dir: Path = Field(default_factory=find_sites_dir)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # text: logfmt lines for people; json: one JSON object a line for a log shipper (parking/logs.py)
    log_format: Literal["text", "json"] = "text"

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @field_validator("mqtt_ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None) -> Path | None:
        # Checked once here, so no service connects half-way and then fails on its certificate.
        if value is not None:
            try:
                ssl.create_default_context(cafile=str(value))
            except OSError as exc:  # ssl.SSLError is one too
                raise ValueError(f"cannot load the CA bundle {value}: {exc.strerror or exc}") from exc
        return value

    @field_validator("influx_url")
    @classmethod
    def _check_influx_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"InfluxDB URL {value!r} must look like http://host:8086")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_demo_secrets_in_production(self) -> CommonSettings:
        if self.mode == "production":
            problems = production_problems(
                self._production_needs(),
                mqtt_username=self.mqtt_username,
                mqtt_password=_reveal(self.mqtt_password),
                influx_username=self.influx_username,
                influx_password=_reveal(self.influx_password),
                api_token=_reveal(getattr(self, "api_token", None)),
            )
            if problems:
                raise ValueError(f"production mode needs real secrets: {'; '.join(problems)}")
        return self

    def _production_needs(self) -> frozenset[Need]:
        """What this service connects to or guards; each service's settings say (ingest, api, simulate)."""
        return frozenset()

    @property
    def mqtt(self) -> MqttEndpoint:
        return parse_mqtt_url(self.mqtt_url)


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
