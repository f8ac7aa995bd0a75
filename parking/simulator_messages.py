"""The live simulator's MQTT messages, typed: one model per message, used by the publisher and the reader.

Topics (built in ``parking.topics``):

* ``parklotse/simulator/{site}/status``: ``SimulatorStatus``, retained, about once a second;
* ``parklotse/simulator/{site}/vehicles``: ``VehiclePositions``, not retained, QoS 0, at most twice a
  second and only while someone listens (the API subscribes while a stream client wants them);
* ``parklotse/simulator/{site}/control``: ``simulator.control.Command`` (the API's control endpoint).

"Without sensors" always means the twin town: the same drivers, with the same random numbers, in
the same streets, with nobody steered. It never means the unguided drivers of the guided run.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Twin = Literal["without_sensors", "with_sensors"]
Steering = Literal["app", "signs", "both"]

# What a car on the road is doing, as the screen tells them apart (shape and colour):
#   approaching: driving from the town entrance to its destination, not searching yet
#   searching:   passed its destination without a bay, cruising
#   guided:      driving to a bay recommended by the app, or following a sign to a zone
#   to_garage:   sent to the garage by a "besetzt" sign, or gave up searching
#   leaving:     drove out of a bay, on its way out of town
VehicleState = Literal["approaching", "searching", "guided", "to_garage", "leaving"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# One car: [driver id, longitude, latitude, heading in degrees clockwise from north, state].
# The driver id is the same in both twins (the same driver), so a screen can pair them.
Vehicle = tuple[int, float, float, Annotated[int, Field(ge=0, lt=360)], VehicleState]


class VehiclePositions(_Message):
    """The cars on the road in both twins at one simulated moment (compact: a list per twin)."""

    site: str
    t_s: float = Field(description="simulated seconds since the run started")
    sim_time: str = Field(description="simulated local date-time, ISO 8601 with offset")
    interval_s: float = Field(gt=0, description="wall seconds until the next message (for interpolation)")
    without_sensors: list[Vehicle]
    with_sensors: list[Vehicle]
    bays: list[str] = Field(description="bay ids in site order; the two strings below follow it")
    occupied_without_sensors: str = Field(description="one character per bay: '1' occupied, '0' free")
    occupied_with_sensors: str = Field(description="one character per bay: '1' occupied, '0' free")


class Band(_Message):
    """A figure over N simulated days: the mean and the 10 % and 90 % quantiles."""

    mean: float
    p10: float
    p90: float


class Saved(_Message):
    """Twin minus run: positive means the sensors helped."""

    search_min: float
    km: float
    co2_kg: float


class SavedBand(_Message):
    search_min: Band
    km: Band
    co2_kg: Band


class HourSaved(_Message):
    hour: int = Field(ge=0, le=23)
    search_min: Band
    km: Band
    co2_kg: Band


class CurvePoint(_Message):
    """Mean search time of drivers arriving at this search-area occupancy, in both twins."""

    occupancy: float = Field(ge=0, le=1)
    without_sensors_min: float | None
    with_sensors_min: float | None
    searches: int = Field(ge=0)


class TypicalDay(_Message):
    """N simulated days of the running settings, computed offline in the background."""

    preset: str
    steering: Steering
    guidance_share: float
    sensor_latency_s: float
    days: int = Field(ge=1)
    per_day: SavedBand
    per_hour: list[HourSaved]
    curve: list[CurvePoint]
    computed_at: str = Field(description="wall time, RFC 3339")
    model_estimate: Literal[True] = True


class GroupToday(_Message):
    """Today's completed searches of one group of drivers."""

    searches: int
    mean_search_min: float | None
    search_km: float
    co2_g: float
    share_no_search: float | None
    gave_up: int
    to_garage: int = 0
    guidance_misses: int


class TwinCount(_Message):
    without_sensors: int
    with_sensors: int


class TwinShare(_Message):
    without_sensors: float
    with_sensors: float


class KpisNow(_Message):
    searching: TwinCount = Field(description="cars searching now in each twin")
    on_road: TwinCount
    occupancy: TwinShare = Field(description="share of all bays occupied")
    search_area_occupancy: TwinShare


class KpisToday(_Message):
    without_sensors: GroupToday
    with_sensors: GroupToday
    guided: GroupToday = Field(description="the steered drivers of the run with sensors")
    unguided: GroupToday = Field(description="the other drivers of the run with sensors")
    saved: Saved | None = Field(description="twin minus run over the drivers finished in both")


class Factor(_Message):
    value: float
    source: str


class LiveKpis(_Message):
    t_s: float
    sim_time: str
    now: KpisNow
    today: KpisToday
    factors: dict[str, Factor]


class SignLine(_Message):
    zone: str
    free: int = Field(ge=0)
    full: bool = Field(description="shows 'besetzt' and points to the garage")


class Sign(_Message):
    """One Parklotse sign as drivers read it: free bays per zone, or "besetzt"."""

    id: str
    lon: float
    lat: float
    lines: list[SignLine]


class SimulatorStatus(_Message):
    """The live simulator's state, settings and figures (retained on the status topic)."""

    site: str
    scenario: str
    scenarios: list[str]
    preset: str
    presets: list[str]
    steering: Steering
    state: Literal["running", "paused"]
    speed: float
    guidance_share: float
    sensor_latency_s: float
    sim_seconds: float
    sim_time: str = Field(description="simulated local date-time, ISO 8601 with offset")
    day_label: str = Field(description="e.g. 'Samstag · Markttag'")
    error: str | None
    updated_at: str
    kpis: LiveKpis
    typical_day: TypicalDay | None = Field(description="None until the first background run finishes")
    typical_day_progress: float | None = Field(default=None, ge=0, le=1)
    real_bays: list[str] = Field(default_factory=list, description="bays with a real sensor on the table")
    signs: list[Sign] = Field(default_factory=list, description="the signs as drivers see them")
