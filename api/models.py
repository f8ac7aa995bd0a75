"""Response models: the typed edge of the API (they also make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
                "stale_after_s": 21600.0,
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
    stale_after_s: float = Field(
        description="A bay whose sensor has been silent longer than this is shown as unknown "
        "(PARKLOTSE_STALE_AFTER_S)"
    )
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
    model_config = ConfigDict(json_schema_extra={"example": {"detail": "site 'nowhere' is not known"}})

    detail: str = Field(description="What went wrong, naming the parameter or resource")


class FieldError(BaseModel):
    """One failed check of a parameter (pydantic's error, made JSON-safe)."""

    type: str = Field(examples=["less_than_equal"])
    loc: list[str | int] = Field(description="Where: query, path, header or body, then the name")
    msg: str
    input: Any = Field(default=None, description="The value that failed")
    ctx: dict[str, Any] | None = None


class ValidationProblem(BaseModel):
    """A 422: a parameter failed its type or bounds, or a range or combination is not allowed."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "detail": "query.lat: Input should be less than or equal to 90",
                "errors": [
                    {
                        "type": "less_than_equal",
                        "loc": ["query", "lat"],
                        "msg": "Input should be less than or equal to 90",
                        "input": "200",
                        "ctx": {"le": 90.0},
                    }
                ],
            }
        }
    )

    detail: str = Field(description="Each problem as `location: message`, joined by '; '")
    errors: list[FieldError] | None = Field(
        default=None, description="Every failed check, when parameters failed their type or bounds"
    )


class Destination(BaseModel):
    lat: float
    lon: float


class BayOption(BaseModel):
    bay: str
    zone: str
    lon: float
    lat: float
    distance_m: float = Field(description="Straight-line distance to the destination")


class GuidanceAnswer(BaseModel):
    """The bay to drive to, or ``bay: null`` and a message when none is free."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "destination": {"lat": 53.92, "lon": 9.37},
                "site": "town-centre",
                "bay": "TC-0412",
                "zone": "Markt",
                "lon": 9.3702,
                "lat": 53.9203,
                "distance_m": 38.4,
                "reserved_until": "2026-11-21T10:02:00.000Z",
                "alternatives": [
                    {"bay": "TC-0415", "zone": "Markt", "lon": 9.3706, "lat": 53.9204, "distance_m": 52.0}
                ],
            }
        }
    )

    site: str
    destination: Destination
    bay: str | None = Field(description="The free bay to drive to; null if no bay is free")
    zone: str | None = None
    lon: float | None = None
    lat: float | None = None
    distance_m: float | None = None
    reserved_until: datetime | None = Field(
        default=None,
        description="End of the bay's soft reservation for this driver; null when it is not held "
        "(holds are bounded so that nobody can hide every free bay)",
    )
    alternatives: list[BayOption]
    message: str | None = Field(default=None, description="Why there is no bay")


class SignCounts(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zones": [{"zone": "A", "free": 3, "occupied": 5, "unknown": 0, "closed": 0, "total": 8}],
            }
        }
    )

    site: str
    zones: list[ZoneSummary]
