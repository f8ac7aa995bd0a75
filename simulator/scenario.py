"""Scenario files: every model parameter in one validated, documented place.

A scenario is a JSON file in ``simulator/scenarios/`` (or any path). ``town-centre.json`` holds every
parameter with its default and, under ``sources``, where each default comes from. Other scenarios
name it in ``"extends"`` and override only what differs. Validation is strict (unknown keys,
negative rates and shares outside 0..1 are errors) and every error names the file and the field.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from parking.events import NAME_PATTERN
from simulator.faults import FaultKind

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
DEFAULT_SCENARIO = "town-centre"

Share = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
HourlyProfile = Annotated[list[NonNegative], Field(min_length=24, max_length=24)]


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        self.path = Path(path)
        self.field = field
        super().__init__(f"{path}: {field}: {message}" if field else f"{path}: {message}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RegistrySite(_Model):
    """Bays from a site file of the registry (``PARKLOTSE_SITES_DIR``)."""

    kind: Literal["registry"]
    id: str = Field(pattern=f"^{NAME_PATTERN}$")


class GridSite(_Model):
    """A synthetic street grid built in code (for scale runs; nothing large is shipped as a file)."""

    kind: Literal["grid"]
    id: str = Field(pattern=f"^{NAME_PATTERN}$")
    name: str = Field(min_length=1)
    bay_prefix: str = Field(pattern=r"^[A-Za-z0-9_]{1,16}$")
    nodes: int = Field(ge=2, le=400)
    block_m: Positive
    bays_per_face: int = Field(ge=1, le=200)
    origin: tuple[float, float]  # lon, lat of the south-west node


class Attractor(_Model):
    name: str = Field(min_length=1)
    east_m: float
    north_m: float
    sigma_m: Positive
    weight: NonNegative


class Space(_Model):
    attractors: list[Attractor] = Field(min_length=1)
    background_weight: NonNegative
    search_area_radius_m: Positive
    fallback_block_m: Positive


class DayValues(_Model):
    weekday: NonNegative
    saturday: NonNegative
    sunday: NonNegative


class DayProfiles(_Model):
    weekday: HourlyProfile
    saturday: HourlyProfile
    sunday: HourlyProfile

    @field_validator("weekday", "saturday", "sunday")
    @classmethod
    def _not_all_zero(cls, value: list[float]) -> list[float]:
        if sum(value) <= 0:
            raise ValueError("an hourly profile needs at least one hour above 0")
        return value


class Demand(_Model):
    weekday_arrivals_per_day: NonNegative
    day_factor: DayValues
    visitor_profile: DayProfiles
    long_stay_share: Share
    long_stay_profile: DayProfiles
    resident_arrivals_per_day: NonNegative
    resident_profile: DayProfiles


class Dwell(_Model):
    visitor_median_min: Positive
    visitor_sigma: Positive
    long_stay_median_min: Positive
    long_stay_sigma: Positive
    resident_median_min: Positive
    resident_sigma: Positive


class Search(_Model):
    speed_kmh: Positive
    search_radius_m: NonNegative
    accepted_base_m: NonNegative
    accepted_growth_m_per_min: NonNegative
    accepted_max_m: Positive
    head_for_destination_fraction: Share
    notice_probability: Share
    give_up_min: Positive


class Guidance(_Model):
    share: Share
    sensor_latency_s: Annotated[float, Field(ge=0.0, le=86_400.0)]
    detection_error: Annotated[float, Field(ge=0.0, le=0.5)]
    miss_memory_s: NonNegative
    ask_radius_m: NonNegative


SteeringMode = Literal["app", "signs", "both"]
STEERING_MODES: tuple[SteeringMode, ...] = ("app", "signs", "both")


class Place(_Model):
    """A point of the network, in metres east and north of the site's destination (snapped to a junction)."""

    name: str = Field(min_length=1)
    east_m: float
    north_m: float


class Entrance(Place):
    share: Share


class Garage(Place):
    capacity: int = Field(ge=0)


class Steering(_Model):
    mode: SteeringMode
    sign_compliance: Share
    signs_at_entrances: bool
    sign_junctions: list[Place]
    full_below: int = Field(ge=0)
    full_share: Share


class Sensors(_Model):
    failed_share: Share
    failed_from_hour: Annotated[float, Field(ge=0.0, le=24.0)]


class Emissions(_Model):
    fleet_g_per_km: NonNegative
    stop_and_go_factor: Annotated[float, Field(ge=1.0)]
    ev_share: Share


class Traffic(_Model):
    background_veh_per_h_per_street: NonNegative
    background_speed_kmh: Positive
    catchment_population: NonNegative
    car_co2_t_per_inhabitant_year: NonNegative


class Windows(_Model):
    peak_occupancy: Share
    off_peak_occupancy: Share

    @model_validator(mode="after")
    def _ordered(self) -> Windows:
        if self.off_peak_occupancy > self.peak_occupancy:
            raise ValueError("off_peak_occupancy must not be above peak_occupancy")
        return self


class Run(_Model):
    start_date: date
    sample_interval_s: Annotated[float, Field(gt=0.0, le=3600.0)]
    warmup_days: int = Field(ge=0, le=7)


DayKind = Literal["weekday", "saturday", "sunday"]
_Date = date  # a preset's field is called "date"


class Text(_Model):
    de: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Preset(_Model):
    """A story staff can pick: which day, which hours the live demo loops through, how busy, what fails."""

    title: Text
    description: Text
    day: DayKind
    date: _Date | None = None
    loop_start_h: Annotated[float, Field(ge=0.0, lt=24.0)]
    loop_end_h: Annotated[float, Field(gt=0.0, le=24.0)]
    demand_factor: Annotated[float, Field(ge=0.0, le=5.0)]
    sensor_failed_share: Share
    sensor_failed_from_h: Annotated[float, Field(ge=0.0, le=24.0)]
    # live only: shares of the sensors that publish as stuck or flapping (simulator.faults)
    sensor_faults: dict[FaultKind, Share] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Preset:
        if self.loop_end_h <= self.loop_start_h:
            raise ValueError("loop_end_h must be after loop_start_h")
        if self.date is not None and _day_kind(self.date) != self.day:
            raise ValueError(f"date {self.date} is not a {self.day}")
        return self


def _day_kind(day: _Date) -> DayKind:
    weekday = day.weekday()
    return "saturday" if weekday == 5 else "sunday" if weekday == 6 else "weekday"


class ReportSettings(_Model):
    sweep_days: int = Field(ge=1, le=28)
    sweep_latencies_s: list[Annotated[float, Field(ge=0.0, le=86_400.0)]] = Field(min_length=1)
    sweep_latency_share: Share
    sweep_shares: list[Share] = Field(min_length=1)


class Scenario(_Model):
    name: str = Field(pattern=f"^{NAME_PATTERN}$")
    description: str
    # held against docs/research.md §7 (T1-T5) for seeds 1-16; a scenario that is not says so in reports
    calibrated: bool
    site: Annotated[RegistrySite | GridSite, Field(discriminator="kind")]
    space: Space
    demand: Demand
    dwell: Dwell
    search: Search
    guidance: Guidance
    entrances: list[Entrance] = Field(min_length=1)
    garages: list[Garage]
    steering: Steering
    sensors: Sensors
    emissions: Emissions
    traffic: Traffic
    windows: Windows
    run: Run
    report: ReportSettings
    presets: dict[str, Preset] = Field(min_length=1)
    default_preset: str
    sources: dict[str, str]

    @model_validator(mode="after")
    def _shares_and_presets(self) -> Scenario:
        total = sum(e.share for e in self.entrances)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"entrances: the shares must add up to 1 (they add up to {total:g})")
        for name in self.presets:
            if not _PRESET_NAME.match(name):
                raise ValueError(f"presets.{name}: a preset name is lower-case letters, digits and '-'")
        if self.default_preset not in self.presets:
            raise ValueError(
                f"default_preset: no preset {self.default_preset!r} (known: {', '.join(self.presets)})"
            )
        return self

    @model_validator(mode="after")
    def _sources_name_parameters(self) -> Scenario:
        known = set(parameter_paths(type(self)))
        known |= {path.rsplit(".", i)[0] for path in known for i in range(1, path.count(".") + 1)}
        for key in self.sources:
            if key not in known:
                raise ValueError(f"sources.{key}: not a scenario parameter or section")
        return self

    def source(self, path: str) -> str | None:
        """Where a parameter's value comes from: its own entry in ``sources``, else its section's."""
        while path:
            if path in self.sources:
                return self.sources[path]
            path = path.rpartition(".")[0]
        return None

    def preset(self, name: str | None) -> Preset:
        """A preset by name (None: the default); ValueError naming the known ones."""
        key = self.default_preset if name is None else name
        if key not in self.presets:
            raise ValueError(
                f"no preset {key!r} in scenario {self.name!r} (known: {', '.join(self.presets)})"
            )
        return self.presets[key]

    def with_steering(self, mode: SteeringMode | None = None, share: float | None = None) -> Scenario:
        """Another steering mode; ``share`` sets the share of its steered drivers (both: app and signs)."""
        mode = self.steering.mode if mode is None else mode
        if mode not in STEERING_MODES:
            raise ValueError(f"steering must be one of {', '.join(STEERING_MODES)}, got {mode!r}")
        steering = self.steering.model_copy(update={"mode": mode})
        guidance = self.guidance
        if share is not None:
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"guidance share must be within 0..1, got {share}")
            if mode in ("signs", "both"):
                steering = steering.model_copy(update={"sign_compliance": share})
            if mode in ("app", "both"):
                guidance = guidance.model_copy(update={"share": share})
        return self.model_copy(update={"steering": steering, "guidance": guidance})

    def with_demand_factor(self, factor: float) -> Scenario:
        if not 0.0 <= factor <= 5.0:
            raise ValueError(f"demand factor must be within 0..5, got {factor}")
        d = self.demand
        demand = d.model_copy(
            update={
                "weekday_arrivals_per_day": d.weekday_arrivals_per_day * factor,
                "resident_arrivals_per_day": d.resident_arrivals_per_day * factor,
            }
        )
        return self.model_copy(update={"demand": demand})

    def with_sensor_failure(self, share: float, from_hour: float = 0.0) -> Scenario:
        return self.model_copy(update={"sensors": Sensors(failed_share=share, failed_from_hour=from_hour)})

    def with_guidance(self, share: float | None = None, latency_s: float | None = None) -> Scenario:
        guidance = self.guidance.model_copy(
            update={
                "share": self.guidance.share if share is None else share,
                "sensor_latency_s": self.guidance.sensor_latency_s if latency_s is None else latency_s,
            }
        )
        return self.model_copy(update={"guidance": guidance})


_PRESET_NAME = re.compile(r"^[a-z0-9-]{1,32}$")


def parameter_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every leaf parameter (what ``sources`` keys may name)."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        if not prefix and name in ("name", "description", "calibrated", "sources", "default_preset"):
            continue
        path = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths.extend(parameter_paths(annotation, f"{path}."))
        else:
            paths.append(path)
    if not prefix:
        for site_model in (RegistrySite, GridSite):
            paths.extend(f"site.{name}" for name in site_model.model_fields if f"site.{name}" not in paths)
        paths.remove("site")
    return paths


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.json"))


def resolve_scenario_path(name_or_path: str) -> Path:
    """A shipped scenario by name, or a file path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or "/" in name_or_path:
        if not candidate.is_file():
            raise ScenarioError(candidate, "", "no such scenario file")
        return candidate
    path = SCENARIO_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = ", ".join(scenario_names())
        raise ScenarioError(name_or_path, "", f"no scenario of that name (known: {known})")
    return path


def load_scenario(name_or_path: str | Path) -> Scenario:
    path = name_or_path if isinstance(name_or_path, Path) else resolve_scenario_path(name_or_path)
    document = _merged_document(path, ())
    try:
        return Scenario.model_validate(document)
    except ValidationError as exc:
        raise _scenario_error(path, exc) from None


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "", f"cannot read the file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            path, f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}"
        ) from exc
    if not isinstance(document, dict):
        raise ScenarioError(path, "", "a scenario file must hold a JSON object")
    return document


def _merged_document(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The file's object laid over the scenario it ``extends`` (objects merge, everything else replaces)."""
    if path.resolve() in seen:
        raise ScenarioError(path, "extends", "scenarios extend each other in a circle")
    document = _read(path)
    parent_name = document.pop("extends", None)
    if parent_name is None:
        return document
    if not isinstance(parent_name, str):
        raise ScenarioError(path, "extends", f"must be the name of a scenario, got {parent_name!r}")
    try:
        parent_path = resolve_scenario_path(parent_name)
    except ScenarioError as exc:
        raise ScenarioError(path, "extends", str(exc)) from None
    parent = _merged_document(parent_path, (*seen, path.resolve()))
    return _deep_merge(parent, document)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            if key == "site" and value.get("kind", merged[key].get("kind")) != merged[key].get("kind"):
                merged[key] = value  # another kind of site replaces the parent's, it does not mix with it
            else:
                merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_UNION_TAGS = {"registry", "grid"}


def _scenario_error(path: Path, exc: ValidationError) -> ScenarioError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = [str(part) for part in first["loc"] if not (part in _UNION_TAGS and first["loc"][0] == "site")]
    field = ".".join(loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        message = "unknown key (not a scenario parameter)"
    else:
        message = first["msg"].removeprefix("Value error, ")
        if re.match(r"^[a-z_]+(\.[^:]+)?: ", message):  # a validator that names the field itself
            field, _, message = message.partition(": ")
        elif first["type"] != "missing":
            message = f"{message} (got {first['input']!r})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return ScenarioError(path, field, message)
