"""API settings (``PARKLOTSE_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from parking.settings import CommonSettings


class ApiSettings(CommonSettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65_535)
    # Bearer token for control endpoints (simulator, admin); the demo value is refused in production mode.
    api_token: SecretStr = SecretStr("demo-token")
    # Read endpoints are public unless this is set; then they need the token too.
    api_private_reads: bool = False
    cors_origins: list[str] = Field(default_factory=list)
    # A bay whose sensor has been silent this long is shown as unknown.
    stale_after_s: float = Field(default=6 * 3600.0, gt=0)
    api_client_id: str = Field(default="", max_length=64)
    sse_ping_s: float = Field(default=15.0, gt=0)
    sse_replay: int = Field(default=10_000, ge=0, le=1_000_000)

    def _secret_names(self) -> tuple[str, ...]:
        return ("api_token",)
