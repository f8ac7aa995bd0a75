"""Prometheus metrics of one ingester, on a registry of its own (no process-wide globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.rejections import Reason


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("parklotse_ingest_received", "MQTT messages received", ["kind"], registry=r)
        self.stored = Counter("parklotse_ingest_points_stored", "Points written to InfluxDB", registry=r)
        self.health_dropped = Counter(
            "parklotse_health_fields_dropped",
            "Health figures left out of stored readings (implausible or unreadable)",
            ["codec", "field", "reason"],
            registry=r,
        )
        self.rejected = Counter(
            "parklotse_ingest_rejected", "Messages refused, by reason", ["reason"], registry=r
        )
        self.acked = Counter(
            "parklotse_ingest_acked", "QoS 1 messages acknowledged to the broker", registry=r
        )
        self.spooled = Counter(
            "parklotse_ingest_spooled_batches", "Batches spooled while InfluxDB was unreachable", registry=r
        )
        self.spool_depth = Gauge(
            "parklotse_ingest_spool_depth_bytes", "Bytes waiting in the on-disk spool", registry=r
        )
        self.write_errors = Counter(
            "parklotse_ingest_write_errors", "Failed InfluxDB writes", ["kind"], registry=r
        )
        self.write_latency = Histogram(
            "parklotse_ingest_write_seconds",
            "InfluxDB write latency per batch",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.lag = Histogram(
            "parklotse_ingest_lag_seconds",
            "Receive → stored latency per message",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.pending = Gauge("parklotse_ingest_pending", "Messages received and not yet stored", registry=r)
        self.connected = Gauge(
            "parklotse_ingest_broker_connected", "1 while connected to the broker", registry=r
        )
        self.last_message = Gauge(
            "parklotse_ingest_last_message_timestamp_seconds",
            "Unix time of the last message received",
            registry=r,
        )
        for reason in Reason:
            self.rejected.labels(reason.value)
