"""Response models of the fleet-health endpoints (``/api/v1/sites/{site}/sensors``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from parking.events import BayStatus
from parking.fleet.rules import ProblemCode, SiteProblemCode


class ProblemView(BaseModel):
    code: ProblemCode | SiteProblemCode = Field(description="What is wrong (docs/fleet.md lists the rules)")
    since: datetime | None = Field(
        description="When the condition began as far as the data tells, else when it was first found; "
        "null for a sensor that has never reported"
    )
    message_de: str = Field(description="The problem in a German sentence, with its figures")
    message_en: str = Field(description="The same in English")


class RadioView(BaseModel):
    rssi_median_dbm: float | None = Field(description="Median RSSI of the last day (best gateway)")
    snr_median_db: float | None = Field(description="Median SNR of the last day")
    messages: int = Field(description="Readings with radio figures in the last day")


SENSOR_EXAMPLE: dict[str, Any] = {
    "bay": "A03",
    "zone": "A",
    "device": "showroom-pls-03",
    "codec": "bosch-pls",
    "status": "occupied",
    "status_since": "2026-11-18T07:12:00.000Z",
    "last_message": "2026-11-21T09:58:12.345Z",
    "battery_v": 3.05,
    "battery_pct": None,
    "radio": {"rssi_median_dbm": -112.0, "snr_median_db": -4.5, "messages": 38},
    "changes_last_hour": 0,
    "rejected_last_day": 0,
    "problems": [
        {
            "code": "battery_low",
            "since": "2026-11-20T02:00:00.000Z",
            "message_de": "Batterie 3,05 V, unter der Schwelle von 3,20 V.",
            "message_en": "Battery at 3.05 V, below the threshold of 3.20 V.",
        }
    ],
}


class SensorView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": SENSOR_EXAMPLE})

    bay: str
    zone: str
    device: str | None = Field(
        description="device_id (The Things Stack) or dev_eui (ChirpStack) of the site file"
    )
    codec: str | None
    status: BayStatus = Field(description="Last status the sensor reported (not marked unknown when silent)")
    status_since: datetime | None = Field(description="When that status began")
    last_message: datetime | None = Field(description="The sensor's latest message of any kind")
    battery_v: float | None
    battery_pct: float | None
    radio: RadioView
    changes_last_hour: int
    rejected_last_day: int = Field(description="The device's dead-lettered messages in the last day")
    problems: list[ProblemView]


class DeadLetterView(BaseModel):
    reason: str
    detail: str
    received_at: datetime


class SensorDetail(SensorView):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                **SENSOR_EXAMPLE,
                "dead_letters": [
                    {
                        "reason": "bad_frame",
                        "detail": "bosch-pls parking status frame must be 1 byte, got 3",
                        "received_at": "2026-11-21T09:40:02.113Z",
                    }
                ],
            }
        }
    )

    dead_letters: list[DeadLetterView] = Field(description="The device's latest refused messages (last day)")


class FleetSummary(BaseModel):
    bays: int
    bays_with_problems: int
    by_problem: dict[str, int] = Field(description="Bays per problem code (every code, 0 included)")


class SiteSensors(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "evaluated_at": "2026-11-21T10:00:00.000Z",
                "deadletter_feed_connected": True,
                "summary": {
                    "bays": 16,
                    "bays_with_problems": 1,
                    "by_problem": {
                        "silent": 0,
                        "stuck": 0,
                        "flapping": 0,
                        "battery_low": 1,
                        "battery_falling": 0,
                        "weak_radio": 0,
                        "rejected": 0,
                    },
                },
                "site_problems": [],
                "sensors": [SENSOR_EXAMPLE],
            }
        }
    )

    site: str
    evaluated_at: datetime = Field(description="When the rules last ran (every PARKLOTSE_FLEET_REFRESH_S)")
    deadletter_feed_connected: bool = Field(
        description="Whether the API hears the ingester's dead letters (else `rejected` cannot show)"
    )
    summary: FleetSummary = Field(description="Counts over all bays of the site, whatever the filter")
    site_problems: list[ProblemView] = Field(description="Site-wide problems (reporting_drop, swing_shrink)")
    sensors: list[SensorView]


class SensorHour(BaseModel):
    start: datetime = Field(description="The hour's start (UTC)")
    messages: int = Field(description="Status readings the sensor sent in the hour, heartbeats included")
    battery_v: float | None = Field(description="Mean battery voltage of the hour, if reported")
    battery_pct: float | None = Field(description="Mean battery percentage of the hour, if reported")


class SensorHistory(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "bay": "A03",
                "days": 7,
                "hours": [
                    {
                        "start": "2026-11-21T09:00:00.000Z",
                        "messages": 4,
                        "battery_v": 3.05,
                        "battery_pct": None,
                    }
                ],
            }
        }
    )

    site: str
    bay: str
    days: int
    hours: list[SensorHour] = Field(description="Every hour of the period, oldest first (0 messages: none)")
