"""The history answers as the API sends them (pydantic models; their examples show in OpenAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from parking.history.sums import WEEKDAYS
from parking.history.windows import DAY_NS, SEED_LOOKBACK_NS


class OccupancyPoint(BaseModel):
    time: str = Field(
        description="Start of the interval, RFC 3339 UTC", json_schema_extra={"format": "date-time"}
    )
    occupancy: float | None = Field(
        ge=0, le=1, description="Occupied share of the bay-minutes whose state was known; null if none"
    )
    reporting: int = Field(description="Bays whose state was known (the most at any minute of the interval)")


class OccupancyHistory(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": None,
                "every": "15m",
                "source": "rollup",
                "start": "2026-11-20T10:00:00.000Z",
                "end": "2026-11-20T10:30:00.000Z",
                "points": [
                    {"time": "2026-11-20T10:00:00.000Z", "occupancy": 0.625, "reporting": 16},
                    {"time": "2026-11-20T10:15:00.000Z", "occupancy": 0.6875, "reporting": 16},
                ],
            }
        }
    )

    site: str
    zone: str | None
    every: str = Field(examples=["15m"])
    tz: str = Field("UTC", description="The time zone whose midnights the intervals start at")
    source: Literal["raw", "rollup"] = Field(description="rollup if a rollup answered (most of) it")
    start: str = Field(description="Start of the first interval (start aligned down to every)")
    end: str = Field(description="End of the last interval (end aligned up to every)")
    points: list[OccupancyPoint]


class TimelineInitial(BaseModel):
    status: Literal["occupied", "free", "unknown"]
    since: str | None = Field(description="Time of the reading the status comes from")


class TimelineChange(BaseModel):
    time: str
    status: Literal["occupied", "free"]


class BayTimeline(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "bay": "A01",
                "zone": "A",
                "start": "2026-11-20T00:00:00.000Z",
                "end": "2026-11-21T00:00:00.000Z",
                "initial": {"status": "free", "since": "2026-11-19T18:02:11.000Z"},
                "changes": [
                    {"time": "2026-11-20T08:14:03.000Z", "status": "occupied"},
                    {"time": "2026-11-20T09:41:57.000Z", "status": "free"},
                ],
                "truncated": False,
                "next": None,
            }
        }
    )

    site: str
    bay: str
    zone: str
    start: str
    end: str
    initial: TimelineInitial = Field(
        description=f"Status at start (readings up to {SEED_LOOKBACK_NS // DAY_NS} days back)"
    )
    changes: list[TimelineChange]
    truncated: bool
    next: str | None = Field(
        description="When truncated: the time of the next change; ask again with start=next"
    )


_EXAMPLE_HOURS: list[JsonValue] = [0.2 if h < 7 else 0.6 if h < 18 else 0.3 for h in range(24)]


class Heatmap(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": None,
                "weeks": 4,
                "tz": "Europe/Berlin",
                "start": "2026-10-24T10:00:00.000Z",
                "end": "2026-11-21T10:00:00.000Z",
                "source": "rollup",
                "weekdays": list(WEEKDAYS),
                "hours": list(range(24)),
                "values": [_EXAMPLE_HOURS for _ in WEEKDAYS],
            }
        }
    )

    site: str
    zone: str | None
    weeks: int
    tz: str
    start: str
    end: str
    source: Literal["raw", "rollup"]
    weekdays: list[str]
    hours: list[int]
    values: list[list[float | None]] = Field(description="values[weekday][hour], Monday first, local time")


class TurnoverPoint(BaseModel):
    time: str
    arrivals: int = Field(description="free -> occupied changes in the interval")
    per_bay: float | None = Field(description="arrivals per bay of the site or zone")


class Turnover(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": None,
                "every": "1d",
                "source": "rollup",
                "start": "2026-11-19T00:00:00.000Z",
                "end": "2026-11-21T00:00:00.000Z",
                "bays": 16,
                "total_arrivals": 142,
                "points": [
                    {"time": "2026-11-19T00:00:00.000Z", "arrivals": 75, "per_bay": 4.6875},
                    {"time": "2026-11-20T00:00:00.000Z", "arrivals": 67, "per_bay": 4.1875},
                ],
            }
        }
    )

    site: str
    zone: str | None
    every: str
    tz: str = Field("UTC", description="The time zone whose midnights the intervals start at")
    source: Literal["raw", "rollup"]
    start: str
    end: str
    bays: int
    total_arrivals: int
    points: list[TurnoverPoint]


class DwellBin(BaseModel):
    from_min: int
    to_min: int | None = Field(description="Exclusive; null for the last, open-ended bin")
    count: int


class Dwell(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "zone": None,
                "start": "2026-11-14T00:00:00.000Z",
                "end": "2026-11-21T00:00:00.000Z",
                "visits": 412,
                "open": 3,
                "mean_min": 74.5,
                "median_min": 48.0,
                "bins": [
                    {"from_min": 0, "to_min": 15, "count": 61},
                    {"from_min": 15, "to_min": 30, "count": 70},
                    {"from_min": 1440, "to_min": None, "count": 2},
                ],
            }
        }
    )

    site: str
    zone: str | None
    start: str
    end: str
    visits: int = Field(description="Visits that arrived in the range and left within a day after its end")
    open: int = Field(description="Visits that arrived in the range and had not left by then")
    mean_min: float | None
    median_min: float | None
    bins: list[DwellBin]


class DayPoint(BaseModel):
    time: str = Field(description="Start of the interval, RFC 3339 UTC (the stored, simulated time)")
    hour: float = Field(description="Its local clock time in hours, Europe/Berlin (10.25 = 10:15)")
    occupancy: float | None = Field(ge=0, le=1)
    reporting: int


class ReferenceDay(BaseModel):
    date: str = Field(description="The simulated day shown, a local date (Europe/Berlin)")
    day_type: Literal["weekday", "saturday", "sunday"]
    start: str
    end: str
    source: Literal["raw", "rollup"]
    points: list[DayPoint]


class BackfillSpan(BaseModel):
    start: str
    end: str
    readings: int
    scenario: str
    seed: int


class SimulatedDay(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "town-centre",
                "simulated": True,
                "timeline": "simulated",
                "tz": "Europe/Berlin",
                "every": "15m",
                "sim_time": "2026-11-21T11:40:00+01:00",
                "day_label": "Samstag · Markttag",
                "day_type": "saturday",
                "reference": {
                    "date": "2026-11-14",
                    "day_type": "saturday",
                    "start": "2026-11-13T23:00:00.000Z",
                    "end": "2026-11-14T23:00:00.000Z",
                    "source": "rollup",
                    "points": [
                        {"time": "2026-11-13T23:00:00.000Z", "hour": 0.0, "occupancy": 0.21, "reporting": 720}
                    ],
                },
                "backfill": {
                    "start": "2026-10-23T22:00:00.000Z",
                    "end": "2026-11-21T09:12:31.000Z",
                    "readings": 189332,
                    "scenario": "town-centre",
                    "seed": 1,
                },
                "heatmap_end": "2026-11-21T09:00:00.000Z",
                "model_estimate": True,
            }
        }
    )

    site: str
    simulated: bool = Field(description="Whether a simulator runs the site or it has simulated history")
    timeline: Literal["simulated", "wall"] = Field(
        description="simulated: draw the day on the simulator's clock; wall: a real-sensor site, "
        "use /occupancy over the last 24 hours"
    )
    tz: str
    every: str
    sim_time: str | None = Field(description="The running simulator's clock (ISO 8601 with offset)")
    day_label: str | None
    day_type: Literal["weekday", "saturday", "sunday"] | None = Field(
        description="The kind of day simulated now (or today's, without a running simulator)"
    )
    reference: ReferenceDay | None = Field(
        description="The latest whole simulated day of that kind in the stored simulated history"
    )
    backfill: BackfillSpan | None = Field(description="The latest simulated history written")
    heatmap_end: str | None = Field(
        description="Ask /heatmap?weeks=4&end= this: the weeks of simulated history, without live loops"
    )
    model_estimate: bool = Field(description="True: every figure here comes from the traffic model")


class RollupReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "site": "showroom",
                "start": "2026-11-01T00:00:00.000Z",
                "end": "2026-11-21T10:00:00.000Z",
                "hours": 490,
                "watermark": "2026-11-21T10:00:00.000Z",
            }
        }
    )

    site: str
    start: str | None
    end: str | None
    hours: int
    watermark: str | None = Field(description="Time before which the rollups answer")
