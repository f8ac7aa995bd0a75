"""deploy/prometheus/alerts.yml is valid rule syntax and names only metrics the API exports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from api.alerts import AlertWebhook
from api.fleet import FleetCollector, FleetMonitor, SiteHealth
from api.settings import ApiSettings
from parking.fleet.rules import Problem, SiteProblemCode
from parking.registry import load_registry
from parking.settings import DEFAULT_SITES_DIR
from parking.state import LiveState
from parking.store import InfluxStore

ALERTS = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "alerts.yml"
DURATION = re.compile(r"[0-9]+(ms|s|m|h|d|w|y)")


def exported_names() -> set[str]:
    registry = load_registry(DEFAULT_SITES_DIR)
    settings = ApiSettings(alert_webhook_url="http://127.0.0.1:9/hook")
    monitor = FleetMonitor(
        settings,
        registry,
        InfluxStore("http://127.0.0.1:9", "none"),
        LiveState(registry),
        AlertWebhook("http://127.0.0.1:9/hook"),
    )
    drop = Problem(SiteProblemCode.REPORTING_DROP, 0, "", "")
    monitor._reports["showroom"] = SiteHealth("showroom", 1, [], [drop], {"silent": 2})
    metrics = CollectorRegistry()
    metrics.register(FleetCollector(monitor))
    return {sample.name for family in metrics.collect() for sample in family.samples}


def test_the_file_has_the_shape_of_prometheus_rule_groups() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["alert"].isidentifier() and isinstance(rule["expr"], str)
            assert "for" not in rule or DURATION.fullmatch(rule["for"])


def test_every_expression_names_metrics_the_api_exports() -> None:
    exported = exported_names()
    document = yaml.safe_load(ALERTS.read_text())
    named = {
        name
        for group in document["groups"]
        for rule in group["rules"]
        for name in re.findall(r"parklotse_[a-z_]+", rule["expr"])
    }
    assert named and named <= exported, named - exported
