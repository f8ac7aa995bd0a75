"""Ingester settings (``PARKLOTSE_*``), read once and passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from parking.settings import CommonSettings, Need, default_state_root


class IngestSettings(CommonSettings):
    ingest_client_id: str = Field(default="parklotse-ingest", min_length=1, max_length=64)
    # How long the broker keeps our session (and queues for us) while the ingester is away.
    session_expiry_s: int = Field(default=7 * 86_400, ge=0, le=2**32 - 1)
    # MQTT v5 Receive Maximum: un-acknowledged QoS 1 messages the broker may have in flight to us.
    # Well above two batches: the ingester acknowledges a batch only once it is stored, and with a
    # window of two batches the broker waits for those acks before sending more (a drain at half
    # speed). What the ingester has not read yet waits in the socket, not in its memory.
    receive_maximum: int = Field(default=10_000, ge=1, le=65_535)
    # QoS 1 publishes (states, events, dead letters) the ingester may have unacknowledged at once
    # (0: no limit). Keep it at or below the broker's Receive Maximum (mosquitto's
    # max_inflight_messages; deploy/mosquitto/mosquitto.conf sets no limit); a lower one is logged.
    publish_inflight: int = Field(default=1_000, ge=0, le=65_535)
    share_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    batch_size: int = Field(default=1_000, ge=1, le=100_000)
    batch_interval_s: float = Field(default=0.05, gt=0, le=10)
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=15.0, gt=0)
    spool_dir: Path = Field(default_factory=lambda: default_state_root() / "ingest" / "spool")
    spool_max_mb: float = Field(default=512.0, gt=0)
    deadletter_dir: Path = Field(default_factory=lambda: default_state_root() / "ingest" / "deadletter")
    deadletter_file_mb: float = Field(default=16.0, gt=0)
    deadletter_files: int = Field(default=5, ge=1)
    max_payload_bytes: int = Field(default=65_536, ge=64)
    max_future_s: float = Field(default=300.0, ge=0)
    idle_warning_s: float = Field(default=900.0, gt=0)
    log_interval_s: float = Field(default=60.0, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9108, ge=0, le=65_535)

    def _production_needs(self) -> frozenset[Need]:
        return frozenset({"mqtt", "influx"})
