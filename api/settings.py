"""API settings (``PARKLOTSE_*``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from forecast.calendar import DEFAULT_REGION
from forecast.model import MIN_HISTORY_DAYS
from parking.settings import CommonSettings, Need


class ApiSettings(CommonSettings):
    @property
    def fleet_needs_token(self) -> bool:
        if self.api_private_reads:
            return True
        return self.mode == "production" if self.api_private_fleet is None else self.api_private_fleet

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65_535)
    # Bearer token for control endpoints (simulator, admin); the demo value is refused in production mode.
    api_token: SecretStr = SecretStr("demo-token")
    # Read endpoints are public unless this is set; then they need the token too.
    api_private_reads: bool = False
    # The sensors' health (devices, batteries, refused payloads) is for staff: unset, it needs the token
    # in production mode and is open in the demo; true or false decides for both (docs/pilot.md).
    api_private_fleet: bool | None = None
    cors_origins: list[str] = Field(default_factory=list)
    # A bay whose sensor has been silent this long is shown as unknown.
    stale_after_s: float = Field(default=6 * 3600.0, gt=0)
    # A state message claiming a time further ahead of this clock is ignored (forged, or a clock far
    # off): the ingester takes readings up to 300 s ahead (its max_future_s), plus 300 s for its
    # host's clock and this one differing. docs/api.md.
    state_max_future_s: float = Field(default=600.0, ge=0)
    # Guidance holds (api.guidance.HoldPolicy; docs/api.md says why each default).
    guidance_hold_s: float = Field(default=120.0, ge=0, le=3600)
    guidance_scarce_hold_s: float = Field(default=30.0, ge=0, le=3600)
    guidance_scarce_free_share: float = Field(default=0.15, ge=0, le=1)
    guidance_max_held_share: float = Field(default=0.5, ge=0, le=1)
    guidance_client_holds: int = Field(default=2, ge=0)
    api_client_id: str = Field(default="", max_length=64)
    sse_ping_s: float = Field(default=15.0, gt=0)
    sse_replay: int = Field(default=10_000, ge=0, le=1_000_000)
    # What one client may send (api/http_limits.py): a request's headers must arrive within
    # header_timeout_s and its body within body_timeout_s after them, else 408 and the connection
    # closes; larger headers get 431, larger bodies 413. Beyond max_connections new requests get 503.
    api_header_timeout_s: float = Field(default=10.0, gt=0)
    api_body_timeout_s: float = Field(default=30.0, gt=0)
    api_keep_alive_s: int = Field(default=5, ge=1)
    api_max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    api_max_connections: int = Field(default=1000, ge=1)
    # Sensor fleet health (docs/fleet.md: every default and its source).
    fleet_enabled: bool = True
    fleet_refresh_s: float = Field(default=60.0, gt=0)
    fleet_slow_refresh_s: float = Field(default=900.0, gt=0)
    fleet_battery_refresh_s: float = Field(default=6 * 3600.0, gt=0)
    fleet_silent_after_s: float = Field(default=25 * 3600.0, gt=0)
    fleet_silent_after_s_by_codec: dict[str, float] = Field(default_factory=dict)
    fleet_stuck_occupied_s: float = Field(default=72 * 3600.0, gt=0)
    fleet_stuck_free_s: float = Field(default=14 * 86400.0, gt=0)
    fleet_zone_active_s: float = Field(default=24 * 3600.0, gt=0)
    fleet_flapping_changes_per_hour: int = Field(default=20, ge=1)
    fleet_battery_low_v: float = Field(default=3.2, ge=0)
    fleet_battery_low_v_by_codec: dict[str, float] = Field(default_factory=dict)
    fleet_battery_low_pct: float = Field(default=20.0, ge=0, le=100)
    fleet_battery_empty_days: float = Field(default=30.0, gt=0)
    fleet_battery_min_days: int = Field(default=3, ge=2)
    fleet_weak_rssi_dbm: float = -120.0
    fleet_weak_snr_db: float = -15.0
    fleet_radio_min_messages: int = Field(default=3, ge=1)
    fleet_rejected_per_day: int = Field(default=5, ge=0)
    fleet_reporting_drop_share: float = Field(default=0.15, gt=0, lt=1)
    fleet_swing_shrink_ratio: float = Field(default=0.5, gt=0, lt=1)
    alert_webhook_url: str | None = None
    alert_webhook_queue: int = Field(default=100, ge=1, le=100_000)
    alert_webhook_retry_initial_s: float = Field(default=1.0, gt=0)
    alert_webhook_retry_max_s: float = Field(default=300.0, gt=0)
    alert_webhook_attempts: int = Field(default=10, ge=1)
    # History rollups (docs/history.md, "The keeper"). False on extra API replicas: they then only
    # read how far the rollup another replica keeps goes.
    rollup_enabled: bool = True
    rollup_interval_s: float = Field(default=300.0, gt=0, le=86_400)
    # Hours of the last day are compared with the raw readings at every pass; all history this often.
    rollup_recheck_s: float = Field(default=86_400.0, gt=0)
    rollup_chunk_days: int = Field(default=7, ge=1, le=31)
    # Forecasts (docs/forecast.md, "Settings").
    forecast_enabled: bool = True
    forecast_history_days: int = Field(default=56, ge=MIN_HISTORY_DAYS + 1, le=400)
    forecast_backtest_days: int = Field(default=7, ge=1, le=28)
    forecast_refit_s: float = Field(default=86_400.0, gt=0)
    forecast_refresh_s: float = Field(default=300.0, gt=0)
    forecast_holidays: str = DEFAULT_REGION

    @field_validator("alert_webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError(f"alert webhook URL {value!r} must look like https://host/path")
        return value or None

    def _production_needs(self) -> frozenset[Need]:
        return frozenset({"mqtt", "influx", "api_token"})
