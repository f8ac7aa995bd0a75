"""The site registry: one GeoJSON FeatureCollection per site, read and checked once at start-up.

A bay is a Point or Polygon feature whose properties carry ``bay`` and optionally ``zone``,
``device_id`` (The Things Stack), ``dev_eui`` (ChirpStack), ``codec`` and ``codec_options``.
LineString features are streets, kept only so the dashboard can draw the map without tiles.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from parking.events import NAME_PATTERN, is_valid_name

SITE_FILE_SUFFIXES = (".geojson", ".json")
# Byte codecs the ingester implements (ingest/codecs); a test keeps the two lists equal.
KNOWN_CODECS = frozenset(
    {"bosch-pls", "nwave-nps405", "nwave-nps310", "dingtek-do201", "libelium-parking", "milesight-em400-mud"}
)
_DEV_EUI_HEX = set("0123456789abcdef")
# parking/state/…, parking/events/…, parking/deadletter/… carry derived data, not sensor readings.
RESERVED_SITE_IDS = frozenset({"state", "events", "deadletter"})


class SiteFileError(ValueError):
    """A site file that cannot be used; the message names the file, the feature and the field."""

    def __init__(self, path: Path, where: str, message: str) -> None:
        self.path = path
        self.where = where
        super().__init__(f"{path}: {where}: {message}" if where else f"{path}: {message}")


@dataclass(frozen=True, slots=True)
class Bay:
    site: str
    id: str
    zone: str
    geometry: Mapping[str, Any]
    lon: float
    lat: float
    device_id: str | None = None
    dev_eui: str | None = None
    codec: str | None = None
    codec_options: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Street:
    name: str
    coordinates: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    bays: Mapping[str, Bay]
    streets: tuple[Street, ...] = ()
    center: tuple[float, float] = (0.0, 0.0)
    source: Path | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    # When the site file was last changed, as read with it (open-data exports' static data time).
    modified_ns: int | None = None

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(sorted({bay.zone for bay in self.bays.values()}))

    def feature_collection(self) -> dict[str, Any]:
        """The site as GeoJSON again, as the map and the exports need it."""
        features: list[dict[str, Any]] = [
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [list(p) for p in street.coordinates]},
                "properties": {"kind": "street", "name": street.name},
            }
            for street in self.streets
        ]
        features.extend(
            {
                "type": "Feature",
                "id": f"{self.id}/{bay.id}",
                "geometry": dict(bay.geometry),
                "properties": {"bay": bay.id, "zone": bay.zone},
            }
            for bay in self.bays.values()
        )
        return {"type": "FeatureCollection", "site": {"id": self.id, "name": self.name}, "features": features}


@dataclass(frozen=True, slots=True)
class DeviceBinding:
    """Where a LoRaWAN device's readings go and how its bytes are decoded."""

    bay: Bay
    codec: str | None
    codec_options: Mapping[str, Any]


class Registry:
    """All sites, with the look-ups the ingester needs on its hot path."""

    def __init__(self, sites: Iterable[Site]) -> None:
        self.sites: dict[str, Site] = {}
        self._by_device_id: dict[str, DeviceBinding] = {}
        self._by_dev_eui: dict[str, DeviceBinding] = {}
        for site in sites:
            if site.id in self.sites:
                other = self.sites[site.id].source
                raise SiteFileError(
                    site.source or Path("?"), "site.id", f"site {site.id!r} is also defined in {other}"
                )
            self.sites[site.id] = site
            for bay in site.bays.values():
                binding = DeviceBinding(bay, bay.codec, bay.codec_options)
                for key, index in ((bay.device_id, self._by_device_id), (bay.dev_eui, self._by_dev_eui)):
                    if key is None:
                        continue
                    if key in index:
                        first = index[key].bay
                        raise SiteFileError(
                            site.source or Path("?"),
                            f"bay {bay.id!r}",
                            f"device {key!r} is already bound to bay {first.id!r} of site {first.site!r}",
                        )
                    index[key] = binding

    def site(self, site_id: str) -> Site | None:
        return self.sites.get(site_id)

    def bay(self, site_id: str, bay_id: str) -> Bay | None:
        site = self.sites.get(site_id)
        return site.bays.get(bay_id) if site else None

    def by_device_id(self, device_id: str) -> DeviceBinding | None:
        return self._by_device_id.get(device_id)

    def by_dev_eui(self, dev_eui: str) -> DeviceBinding | None:
        return self._by_dev_eui.get(dev_eui.lower())


def load_registry(sites_dir: Path) -> Registry:
    """Every site file in a folder; the first broken file stops start-up with a precise message."""
    if not sites_dir.is_dir():
        raise SiteFileError(sites_dir, "", "the sites folder does not exist (set PARKLOTSE_SITES_DIR)")
    files = sorted(p for p in sites_dir.iterdir() if p.suffix in SITE_FILE_SUFFIXES and p.is_file())
    if not files:
        raise SiteFileError(sites_dir, "", "no *.geojson site files in the sites folder")
    return Registry(load_site(path) for path in files)


def load_site(path: Path) -> Site:
    try:
        modified_ns = path.stat().st_mtime_ns
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteFileError(path, "", f"cannot read the file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SiteFileError(
            path, f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}"
        ) from exc
    return replace(parse_site(document, path), modified_ns=modified_ns)


def parse_site(document: Any, path: Path) -> Site:
    """Check a site document; pure, so every rule is testable without files."""
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise SiteFileError(path, "type", "a site file must be a GeoJSON FeatureCollection")
    meta = document.get("site")
    if not isinstance(meta, dict):
        raise SiteFileError(path, "site", 'missing top-level member "site": {"id": ..., "name": ...}')
    site_id = meta.get("id")
    if not isinstance(site_id, str) or not is_valid_name(site_id):
        raise SiteFileError(path, "site.id", f"must be a string matching {NAME_PATTERN}, got {site_id!r}")
    if site_id in RESERVED_SITE_IDS:
        raise SiteFileError(path, "site.id", f"{site_id!r} is reserved for Parklotse's own topics")
    name = meta.get("name", site_id)
    if not isinstance(name, str) or not name.strip():
        raise SiteFileError(path, "site.name", f"must be a non-empty string, got {name!r}")
    features = document.get("features")
    if not isinstance(features, list):
        raise SiteFileError(path, "features", "must be a list of GeoJSON features")

    bays: dict[str, Bay] = {}
    streets: list[Street] = []
    for index, feature in enumerate(features):
        where = f"feature {index}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise SiteFileError(path, where, 'is not a GeoJSON Feature ("type": "Feature")')
        geometry = feature.get("geometry")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise SiteFileError(path, f"{where}.properties", "must be an object")
        if not isinstance(geometry, dict):
            raise SiteFileError(path, f"{where}.geometry", "is missing")
        kind = geometry.get("type")
        if kind in ("LineString", "MultiLineString"):
            streets.extend(_streets(geometry, props, path, where))
            continue
        if kind not in ("Point", "Polygon"):
            raise SiteFileError(
                path, f"{where}.geometry.type", f"a bay must be a Point or Polygon, got {kind!r}"
            )
        bay = _bay(site_id, geometry, props, path, where)
        if bay.id in bays:
            raise SiteFileError(
                path, f"{where} (bay {bay.id!r}).properties.bay", "duplicate bay id in this site"
            )
        bays[bay.id] = bay

    if not bays:
        raise SiteFileError(path, "features", "the site has no bays (Point or Polygon features with a 'bay')")
    lon = sum(b.lon for b in bays.values()) / len(bays)
    lat = sum(b.lat for b in bays.values()) / len(bays)
    extra = {k: v for k, v in meta.items() if k not in ("id", "name")}
    return Site(site_id, name, bays, tuple(streets), (lon, lat), path, extra)


def _bay(site_id: str, geometry: dict[str, Any], props: dict[str, Any], path: Path, where: str) -> Bay:
    bay_id = props.get("bay")
    if not isinstance(bay_id, str) or not is_valid_name(bay_id):
        raise SiteFileError(
            path, f"{where}.properties.bay", f"must be a string matching {NAME_PATTERN}, got {bay_id!r}"
        )
    where = f"{where} (bay {bay_id!r})"
    zone = props.get("zone", "default")
    if not isinstance(zone, str) or not zone.strip():
        raise SiteFileError(path, f"{where}.properties.zone", f"must be a non-empty string, got {zone!r}")
    lon, lat = _centroid(geometry, path, f"{where}.geometry.coordinates")

    device_id = _optional_str(props, "device_id", path, where)
    dev_eui = _optional_str(props, "dev_eui", path, where)
    if dev_eui is not None:
        dev_eui = dev_eui.lower()
        if len(dev_eui) != 16 or not set(dev_eui) <= _DEV_EUI_HEX:
            raise SiteFileError(
                path, f"{where}.properties.dev_eui", f"must be 16 hex digits, got {dev_eui!r}"
            )
    codec = _optional_str(props, "codec", path, where)
    if codec is not None and codec not in KNOWN_CODECS:
        known = ", ".join(sorted(KNOWN_CODECS))
        raise SiteFileError(path, f"{where}.properties.codec", f"unknown codec {codec!r} (known: {known})")
    options = props.get("codec_options", {})
    if not isinstance(options, dict):
        raise SiteFileError(path, f"{where}.properties.codec_options", "must be an object")
    known_keys = {"bay", "zone", "device_id", "dev_eui", "codec", "codec_options"}
    extra = {k: v for k, v in props.items() if k not in known_keys}
    return Bay(site_id, bay_id, zone, geometry, lon, lat, device_id, dev_eui, codec, options, extra)


def _optional_str(props: dict[str, Any], key: str, path: Path, where: str) -> str | None:
    value = props.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SiteFileError(path, f"{where}.properties.{key}", f"must be a non-empty string, got {value!r}")
    return value


def _position(value: Any, path: Path, where: str) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    ):
        raise SiteFileError(path, where, f"a position must be [longitude, latitude], got {value!r}")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise SiteFileError(path, where, f"[{lon}, {lat}] is not a WGS84 longitude/latitude")
    return lon, lat


def _centroid(geometry: dict[str, Any], path: Path, where: str) -> tuple[float, float]:
    coordinates = geometry.get("coordinates")
    if geometry["type"] == "Point":
        return _position(coordinates, path, where)
    if not isinstance(coordinates, list) or not coordinates or not isinstance(coordinates[0], list):
        raise SiteFileError(path, where, "a Polygon needs a list of linear rings")
    ring = [_position(p, path, where) for p in coordinates[0]]
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise SiteFileError(path, where, "a Polygon ring needs at least 4 positions and must be closed")
    points = ring[:-1]
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def _streets(geometry: dict[str, Any], props: dict[str, Any], path: Path, where: str) -> list[Street]:
    name = str(props.get("name", ""))
    lines = geometry.get("coordinates")
    if geometry["type"] == "LineString":
        lines = [lines]
    if not isinstance(lines, list):
        raise SiteFileError(path, f"{where}.geometry.coordinates", "must be a list of positions")
    result = []
    for line in lines:
        if not isinstance(line, list) or len(line) < 2:
            raise SiteFileError(path, f"{where}.geometry.coordinates", "a line needs at least two positions")
        result.append(Street(name, tuple(_position(p, path, f"{where}.geometry.coordinates") for p in line)))
    return result
