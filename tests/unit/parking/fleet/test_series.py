"""A sensor's hourly history for the staff chart: every hour present, quiet hours with 0 messages."""

from __future__ import annotations

from parking.fleet.rules import HOUR_NS
from parking.fleet.series import hourly_points
from parking.store import Series

START = 1_800_000_000 * 1_000_000_000 // HOUR_NS * HOUR_NS


def test_every_hour_is_listed_and_a_quiet_hour_has_no_messages_and_no_battery() -> None:
    battery = [Series("sensor_health", {}, ["time", "v", "pct"], [[START, 3.61, None]])]
    messages = [Series("bay_status", {}, ["time", "n"], [[START, 4], [START + 2 * HOUR_NS, 1]])]
    points = hourly_points(battery, messages, START, START + 3 * HOUR_NS)
    assert [(p.messages, p.battery_v) for p in points] == [(4, 3.61), (0, None), (1, None)]
