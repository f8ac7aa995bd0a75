"""The live simulator's MQTT messages, typed: one model per message, used by the publisher and the reader.

Topics (built in ``parking.topics``):

* ``parklotse/simulator/{site}/status``: ``SimulatorStatus``, retained, about once a second;
* ``parklotse/simulator/{site}/vehicles``: ``VehiclePositions``, not retained, QoS 0, at most twice a
  second and only while someone watches: the API sends ``VehiclesWanted`` on
  ``parklotse/simulator/{site}/wanted`` every few seconds while a stream client wants positions, and
  the simulator stops when the lease runs out (nothing retained, so a crashed API costs nothing);
* ``parklotse/simulator/{site}/control``: ``simulator.control.Command`` (the API's control endpoint).

One simulator runs one town model (``model_site``) and publishes the bays of every site that is part of
it: the model's own site and, e.g., ``showroom``, whose bays are one block face of the town under the
table's names (its site file says ``"part_of": "town-centre"`` and each bay its ``town_bay``). Each
published site gets its own status; positions are published once, for the model site.

"Without sensors" always means the twin town: the same drivers, with the same random numbers, in
the same streets, with nobody steered. It never means the unguided drivers of the guided run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

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


def _example(build: Callable[[], BaseModel]) -> Callable[[dict[str, Any], type], None]:
    """An OpenAPI example made from a real instance when the schema is built (so it always validates)."""

    def extra(schema: dict[str, Any], _cls: type) -> None:
        schema["examples"] = [build().model_dump(mode="json")]

    return extra


def _config(build: Callable[[], BaseModel]) -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True, json_schema_extra=_example(build))


# One car: [driver id, longitude, latitude, heading in degrees clockwise from north, state].
# The driver id is the same in both twins (the same driver), so a screen can pair them.
Vehicle = tuple[int, float, float, Annotated[int, Field(ge=0, lt=360)], VehicleState]


class VehiclePositions(_Message):
    """The cars on the road in both twins at one simulated moment (compact: a list per twin)."""

    model_config = _config(lambda: example_positions())

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


class Text(_Message):
    de: str
    en: str


class PresetInfo(_Message):
    """A story staff can pick, with the hours the live demo loops through."""

    name: str
    title: Text
    description: Text = Field(description="what it does, in one line")
    day: Literal["weekday", "saturday", "sunday"]
    loop_start_h: float
    loop_end_h: float


class SimulatorStatus(_Message):
    """The live simulator's state, settings and figures (retained on the status topic)."""

    model_config = _config(lambda: example_status())

    site: str = Field(description="the site this status is for (one status per published site)")
    model_site: str = Field(description="the site whose streets the cars drive (VehiclePositions.site)")
    view_bays: dict[str, str] = Field(
        default_factory=dict,
        description="this site's bay id -> the model site's bay id (empty for the model)",
    )
    scenario: str
    scenarios: list[str]
    preset: str
    presets: list[PresetInfo]
    window_hours: tuple[float, float] = Field(description="the simulated hours the live demo loops through")
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
    real_bays: list[str] = Field(
        default_factory=list,
        description="bays of this site whose real sensor, not the model, decides (a toy car on the table)",
    )
    signs: list[Sign] = Field(default_factory=list, description="the signs as drivers see them")
    sensor_heartbeat_s: float | None = Field(
        default=None,
        gt=0,
        description="simulated seconds between two heartbeats of each simulated sensor (None: changes only); "
        "the fleet-health rules judge simulated sensors in simulated time (docs/fleet.md)",
    )
    sensor_faults: dict[str, Literal["silent", "stuck", "flapping"]] = Field(
        default_factory=dict, description="this site's bays whose simulated sensor staff or the preset broke"
    )
    today_occupancy: list[tuple[float, float]] = Field(
        default_factory=list,
        description="this site's occupancy (0-1) as the simulator published it, every five simulated minutes "
        "since its loop began: (hour since local midnight, share occupied); a screen opened mid-loop starts "
        "its day's line with it",
    )


class VehiclesWanted(_Message):
    """The API's lease: publish positions for this many more seconds (sent again while someone watches)."""

    vehicles_for_s: float = Field(gt=0, le=60)


class SimulatorSummary(_Message):
    """One running simulator, as ``GET /api/v1/simulators`` lists it."""

    model_config = _config(
        lambda: SimulatorSummary(
            site="showroom",
            model_site="town-centre",
            state="running",
            preset="markttag",
            sim_time="2026-11-21T11:40:00+01:00",
            day_label="Samstag · Markttag",
        )
    )

    site: str
    model_site: str
    state: Literal["running", "paused"]
    preset: str
    sim_time: str
    day_label: str


class Source(_Message):
    label: str
    url: str


class SavedToday(_Message):
    """Twin minus run, today so far (positive: the sensors helped); None until both have drivers."""

    search_min: float | None
    km: float | None
    co2_kg: float | None
    method: str


class KpiView(_Message):
    """The kiosk's "with and without sensors" figures (``GET /api/v1/kpis`` and SSE ``kpi`` events).

    Both sides are the same town on the same day with the same drivers: ``without_sensors`` is the
    twin nobody steers, ``with_sensors`` the run with the steering. ``guided``/``unguided`` split the
    run with sensors by driver, for those who ask; they are not the comparison.
    """

    model_config = _config(lambda: example_kpi_view())

    site: str
    model_site: str
    model_estimate: Literal[True] = True
    scenario: str
    preset: str
    steering: Steering
    guidance_share: float
    sensor_latency_s: float
    sim_time: str
    day_label: str
    searching_now: TwinCount = Field(description="cars searching now, in the twin without and the run with")
    on_road_now: TwinCount
    without_sensors: GroupToday
    with_sensors: GroupToday
    guided: GroupToday
    unguided: GroupToday
    saved_today: SavedToday
    typical_day: TypicalDay | None = Field(description="the headline: N simulated days of these settings")
    sources: list[Source]
    factors: dict[str, Factor]


# ----------------------------------------------------------------------------- examples
# Real instances, so the OpenAPI examples and the tests that use them always fit the models.


def _group(searches: int, mean_min: float, km: float) -> GroupToday:
    return GroupToday(
        searches=searches,
        mean_search_min=mean_min,
        search_km=km,
        co2_g=km * 232.7,
        share_no_search=0.4,
        gave_up=2,
        to_garage=0,
        guidance_misses=0,
    )


def example_kpis() -> LiveKpis:
    return LiveKpis(
        t_s=5400.0,
        sim_time="2026-11-21T11:40:00+01:00",
        now=KpisNow(
            searching=TwinCount(without_sensors=14, with_sensors=9),
            on_road=TwinCount(without_sensors=31, with_sensors=27),
            occupancy=TwinShare(without_sensors=0.91, with_sensors=0.9),
            search_area_occupancy=TwinShare(without_sensors=0.95, with_sensors=0.94),
        ),
        today=KpisToday(
            without_sensors=_group(612, 2.4, 81.6),
            with_sensors=_group(610, 1.9, 64.2),
            guided=_group(190, 1.1, 11.9),
            unguided=_group(420, 2.3, 52.3),
            saved=Saved(search_min=104.4, km=17.4, co2_kg=4.05),
        ),
        factors={
            "co2_g_per_search_km": Factor(value=232.7, source="Destatis 2017: 179 g/km × 1.3 stop-and-go"),
        },
    )


def _band(mean: float) -> Band:
    return Band(mean=mean, p10=round(mean * 0.6, 3), p90=round(mean * 1.4, 3))


def example_typical_day() -> TypicalDay:
    return TypicalDay(
        preset="markttag",
        steering="both",
        guidance_share=0.3,
        sensor_latency_s=30.0,
        days=20,
        per_day=SavedBand(search_min=_band(180.0), km=_band(30.0), co2_kg=_band(7.0)),
        per_hour=[HourSaved(hour=11, search_min=_band(40.0), km=_band(6.7), co2_kg=_band(1.56))],
        curve=[CurvePoint(occupancy=0.9, without_sensors_min=2.6, with_sensors_min=1.8, searches=420)],
        computed_at="2026-11-21T10:15:02Z",
    )


def example_status(site: str = "showroom", updated_at: str = "2026-11-21T10:15:02Z") -> SimulatorStatus:
    view = {"A01": "TC-0133", "A02": "TC-0134"} if site == "showroom" else {}
    return SimulatorStatus(
        site=site,
        model_site="town-centre",
        view_bays=view,
        scenario="town-centre",
        scenarios=["showroom", "town-centre"],
        preset="markttag",
        presets=[
            PresetInfo(
                name="markttag",
                title=Text(de="Markttag", en="Market day"),
                description=Text(de="Samstag mit Wochenmarkt", en="Saturday with a market"),
                day="saturday",
                loop_start_h=9.0,
                loop_end_h=17.0,
            )
        ],
        window_hours=(9.0, 17.0),
        steering="both",
        state="running",
        speed=30.0,
        guidance_share=0.3,
        sensor_latency_s=30.0,
        sim_seconds=5400.0,
        sim_time="2026-11-21T11:40:00+01:00",
        day_label="Samstag · Markttag",
        error=None,
        updated_at=updated_at,
        kpis=example_kpis(),
        typical_day=example_typical_day(),
        typical_day_progress=1.0,
        real_bays=["A03"] if site == "showroom" else [],
        signs=[
            Sign(
                id="entrance-west",
                lon=9.3662,
                lat=53.92,
                lines=[
                    SignLine(zone="Markt", free=0, full=True),
                    SignLine(zone="Innenstadt", free=12, full=False),
                ],
            )
        ],
    )


def example_positions() -> VehiclePositions:
    return VehiclePositions(
        site="town-centre",
        t_s=5400.0,
        sim_time="2026-11-21T11:40:00+01:00",
        interval_s=0.5,
        without_sensors=[(17, 9.3671, 53.9196, 90, "searching"), (18, 9.3702, 53.9188, 0, "approaching")],
        with_sensors=[(17, 9.3684, 53.9196, 90, "guided"), (18, 9.3702, 53.9188, 0, "approaching")],
        bays=["TC-0133", "TC-0134"],
        occupied_without_sensors="11",
        occupied_with_sensors="10",
    )


def example_kpi_view() -> KpiView:
    kpis = example_kpis()
    today = kpis.today
    return KpiView(
        site="showroom",
        model_site="town-centre",
        scenario="town-centre",
        preset="markttag",
        steering="both",
        guidance_share=0.3,
        sensor_latency_s=30.0,
        sim_time=kpis.sim_time,
        day_label="Samstag · Markttag",
        searching_now=kpis.now.searching,
        on_road_now=kpis.now.on_road,
        without_sensors=today.without_sensors,
        with_sensors=today.with_sensors,
        guided=today.guided,
        unguided=today.unguided,
        saved_today=SavedToday(search_min=104.4, km=17.4, co2_kg=4.05, method="the twin minus the run"),
        typical_day=example_typical_day(),
        sources=[
            Source(label="start2park (Frankfurt UAS, GPS-Messung)", url="https://start2park.fluxguide.com/")
        ],
        factors=kpis.factors,
    )
