"""Response models: the typed edge of the API (they also make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from parking.events import BayStatus


class ZoneSummary(BaseModel):
    zone: str
    total: int
    free: int
    occupied: int
    unknown: int
    closed: int


class SiteSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": "showroom",
                "name": "Showroom-Parkplatz",
                "total": 16,
                "free": 9,
                "occupied": 6,
                "unknown": 1,
                "closed": 0,
                "updated_at": "2026-11-21T10:00:00.000Z",
                "zones": [],
            }
        }
    )

    id: str
    name: str
    total: int = Field(description="Bays in the site")
    free: int
    occupied: int
    unknown: int = Field(description="Bays with no reading yet or whose sensor has been silent too long")
    closed: int
    updated_at: datetime | None = Field(description="Time of the newest reading of any bay in the site")
    zones: list[ZoneSummary]


class BayView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "bay": "A01",
                "zone": "A",
                "status": "occupied",
                "since": "2026-11-21T09:58:12.345Z",
                "last_seen": "2026-11-21T09:58:12.345Z",
                "battery_v": 3.6,
                "battery_pct": None,
                "lon": 10.135,
                "lat": 54.3213,
            }
        }
    )

    bay: str
    zone: str
    status: BayStatus
    since: datetime | None = Field(description="When the current status began")
    last_seen: datetime | None = Field(description="Last contact with the bay's sensor")
    battery_v: float | None = None
    battery_pct: float | None = None
    lon: float
    lat: float


class Problem(BaseModel):
    detail: str
