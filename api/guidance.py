"""Guidance to a free bay, zone counts and the text of variable message signs; pure logic, no I/O.

``Guide.suggest`` sends a driver to the free bay nearest to their destination and holds that bay
for them for a while (a soft reservation), so two drivers asking one after the other are not sent
to the same bay (the herding that makes naive guidance worse than none). Only bays a sensor
currently reports free are ever suggested; unknown, stale, closed and occupied bays never are.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

from api.opendata.snapshot import States, bay_views
from parking.events import BayStatus, ns_to_rfc3339
from parking.registry import Site

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
_NS_PER_S = 1_000_000_000


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres, standing in for walking distance."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def site_destination(site: Site) -> tuple[float, float]:
    """The site's default destination ``[lon, lat]`` from its file, else the centre of its bays."""
    value = site.properties.get("destination")
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        lon, lat = float(value[0]), float(value[1])
        if _valid_position(lon, lat):
            return lon, lat
    return site.center


@dataclass(frozen=True, slots=True)
class BayOption:
    """A free bay and how far it is from the destination."""

    bay: str
    zone: str
    lon: float
    lat: float
    distance_m: float

    def as_message(self) -> dict[str, Any]:
        return {
            "bay": self.bay,
            "zone": self.zone,
            "lon": self.lon,
            "lat": self.lat,
            "distance_m": round(self.distance_m, 1),
        }


@dataclass(frozen=True, slots=True)
class Guidance:
    """The bay a driver is sent to (held for them until ``reserved_until_ns``) and fall-backs."""

    site: str
    bay: BayOption
    alternatives: tuple[BayOption, ...]
    reserved_until_ns: int

    def as_message(self) -> dict[str, Any]:
        return {
            "site": self.site,
            **self.bay.as_message(),
            "reserved_until": ns_to_rfc3339(self.reserved_until_ns),
            "alternatives": [option.as_message() for option in self.alternatives],
        }


class Guide:
    """Soft reservations across requests; one instance per API process.

    A reservation ends when its hold expires, when the bay is seen occupied or closed (someone
    parked there, with luck the driver we sent), or on ``release``. Expired reservations are
    dropped on every call and there is at most one per bay, so memory is bounded by the bays.
    """

    def __init__(self, *, stale_after_ns: int | None = None) -> None:
        self.stale_after_ns = stale_after_ns
        self._held: dict[str, dict[str, int]] = {}  # site -> bay -> reserved until (ns)
        self._lock = threading.Lock()

    def suggest(
        self,
        site: Site,
        states: States,
        dest_lon: float,
        dest_lat: float,
        now_ns: int,
        alternatives: int = 3,
        hold_s: float = 120,
    ) -> Guidance | None:
        """The nearest free, unreserved bay to the destination, now reserved; None if there is none.

        Ties in distance go to the smaller bay id. ``alternatives`` more free, unreserved bays
        follow in order of distance; they are not reserved.
        """
        statuses = effective_statuses(site, states, now_ns, self.stale_after_ns)
        ids = _positions(site).ids
        free = np.fromiter((statuses.get(b) is BayStatus.FREE for b in ids), dtype=bool, count=len(ids))
        return self.suggest_among(
            site, statuses, free, dest_lon, dest_lat, now_ns, alternatives=alternatives, hold_s=hold_s
        )

    def suggest_among(
        self,
        site: Site,
        statuses: Mapping[str, BayStatus],
        free: npt.NDArray[np.bool_],
        dest_lon: float,
        dest_lat: float,
        now_ns: int,
        alternatives: int = 3,
        hold_s: float = 120,
    ) -> Guidance | None:
        """``suggest`` for bays whose effective status is known already (``api.current.SiteNow``).

        ``free`` is True for each free bay in site-file order; ``statuses`` maps bay id to status.
        """
        if not _valid_position(dest_lon, dest_lat):
            raise ValueError(f"destination [{dest_lon}, {dest_lat}] is not a WGS84 longitude/latitude")
        if alternatives < 0:
            raise ValueError(f"alternatives must not be negative, got {alternatives}")
        if not (math.isfinite(hold_s) and hold_s >= 0):
            raise ValueError(f"hold_s must be a non-negative number of seconds, got {hold_s}")
        if free.shape != (len(site.bays),):
            raise ValueError(f"free must have one entry per bay ({len(site.bays)}), got shape {free.shape}")
        with self._lock:
            self._purge_locked(now_ns)
            held = self._held.get(site.id, {})
            for bay_id in [b for b in held if statuses.get(b) in (BayStatus.OCCUPIED, BayStatus.CLOSED)]:
                del held[bay_id]
            options = _nearest_free(site, free, dest_lon, dest_lat, exclude=held, count=1 + alternatives)
            if not options:
                self._drop_if_empty(site.id)
                return None
            chosen = options[0]
            until = now_ns + round(hold_s * _NS_PER_S)
            if until > now_ns:
                self._held.setdefault(site.id, {})[chosen.bay] = until
            else:
                self._drop_if_empty(site.id)
            return Guidance(site.id, chosen, tuple(options[1 : 1 + alternatives]), until)

    def release(self, site_id: str, bay_id: str) -> bool:
        """End a reservation early (the driver parked elsewhere or gave up); False if there was none."""
        with self._lock:
            held = self._held.get(site_id)
            if held is None or held.pop(bay_id, None) is None:
                return False
            self._drop_if_empty(site_id)
            return True

    def reservations(self, site_id: str, now_ns: int) -> dict[str, int]:
        """The site's bays held at ``now_ns``: bay id -> reserved until (ns)."""
        with self._lock:
            return {bay: until for bay, until in self._held.get(site_id, {}).items() if until > now_ns}

    def purge(self, now_ns: int) -> int:
        """Drop every expired reservation; returns how many were dropped."""
        with self._lock:
            return self._purge_locked(now_ns)

    def __len__(self) -> int:
        """Reservations held (expired ones included until the next call purges them)."""
        with self._lock:
            return sum(len(held) for held in self._held.values())

    def _purge_locked(self, now_ns: int) -> int:
        dropped = 0
        for site_id in list(self._held):
            held = self._held[site_id]
            for bay_id in [bay for bay, until in held.items() if until <= now_ns]:
                del held[bay_id]
                dropped += 1
            self._drop_if_empty(site_id)
        return dropped

    def _drop_if_empty(self, site_id: str) -> None:
        if site_id in self._held and not self._held[site_id]:
            del self._held[site_id]


def effective_statuses(
    site: Site, states: States, now_ns: int, stale_after_ns: int | None
) -> dict[str, BayStatus]:
    """Each bay's status by ``bay_views``' rules (silent too long: unknown), without building views."""
    given = states.values() if isinstance(states, Mapping) else states
    cutoff = now_ns - stale_after_ns if stale_after_ns is not None else None
    statuses: dict[str, BayStatus] = {}
    for state in given:
        if state.site == site.id and state.bay in site.bays:
            seen = state.last_seen_ns
            # with_staleness only where it can change something (a call per bay costs the most).
            if cutoff is not None and stale_after_ns is not None and seen is not None and seen < cutoff:
                state = state.with_staleness(now_ns, stale_after_ns)
            statuses[state.bay] = state.status
    return statuses


class _Positions:
    """A site's bays as arrays (ids in site-file order, radians), for distances to all of them at once."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.bays = list(site.bays.values())
        self.ids = [bay.id for bay in self.bays]
        self.index = {bay_id: i for i, bay_id in enumerate(self.ids)}
        self.lon = np.radians(np.array([bay.lon for bay in self.bays], dtype=float))
        self.lat = np.radians(np.array([bay.lat for bay in self.bays], dtype=float))
        self.cos_lat = np.cos(self.lat)

    def distances(self, dest_lon: float, dest_lat: float) -> npt.NDArray[np.float64]:
        """Haversine like ``distance_m``, to within float rounding."""
        lat2, lon2 = math.radians(dest_lat), math.radians(dest_lon)
        h = (
            np.sin((lat2 - self.lat) / 2) ** 2
            + self.cos_lat * math.cos(lat2) * np.sin((lon2 - self.lon) / 2) ** 2
        )
        result: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        return result


_POSITIONS: dict[str, _Positions] = {}


def _positions(site: Site) -> _Positions:
    cached = _POSITIONS.get(site.id)
    if cached is None or cached.site is not site:
        cached = _POSITIONS[site.id] = _Positions(site)
    return cached


def _nearest_free(
    site: Site,
    free: npt.NDArray[np.bool_],
    dest_lon: float,
    dest_lat: float,
    exclude: dict[str, int],
    count: int,
) -> list[BayOption]:
    """The ``count`` free bays nearest the destination, nearest first.

    Distances to every bay at once (numpy) pick the candidates; their exact ``distance_m`` (to the
    millimetre, ties to the smaller bay id) orders them, as a full sort would.
    """
    positions = _positions(site)
    if exclude:
        free = free.copy()
        for bay_id in exclude:
            index = positions.index.get(bay_id)
            if index is not None:
                free[index] = False
    candidates = np.flatnonzero(free)
    if count <= 0 or candidates.size == 0:
        return []
    rough = positions.distances(dest_lon, dest_lat)[candidates]
    k = min(count, candidates.size)
    kth = np.partition(rough, k - 1)[k - 1]
    # 1 cm more than the k-th rough distance takes in every bay whose exact distance could rank.
    ranked = sorted(
        (round(d, 3), bay.id, d, bay)
        for bay in (positions.bays[i] for i in candidates[rough <= kth + 0.01])
        for d in (distance_m(bay.lon, bay.lat, dest_lon, dest_lat),)
    )
    return [BayOption(bay.id, bay.zone, bay.lon, bay.lat, d) for _, _, d, bay in ranked[:count]]


def _valid_position(lon: float, lat: float) -> bool:
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90


_CountKey = Literal["free", "occupied", "unknown", "closed"]
_COUNT_KEYS: dict[BayStatus, _CountKey] = {
    BayStatus.FREE: "free",
    BayStatus.OCCUPIED: "occupied",
    BayStatus.UNKNOWN: "unknown",
    BayStatus.CLOSED: "closed",
}


class ZoneCount(TypedDict):
    zone: str
    free: int
    occupied: int
    unknown: int
    closed: int
    total: int


def zone_counts(
    site: Site, states: States, *, now_ns: int | None = None, stale_after_ns: int | None = None
) -> list[ZoneCount]:
    """Bays per status in every zone of the site, zones in alphabetical order.

    Pass ``now_ns`` and ``stale_after_ns`` to count silent sensors as unknown.
    """
    tally: dict[str, ZoneCount] = {
        zone: ZoneCount(zone=zone, free=0, occupied=0, unknown=0, closed=0, total=0) for zone in site.zones
    }
    for view in bay_views(site, states, now_ns, stale_after_ns):
        count = tally[view.bay.zone]
        count[_COUNT_KEYS[view.status]] += 1
        count["total"] += 1
    return list(tally.values())


_SIGN_WORDS = {
    "de": {"free": "frei", "full": "besetzt", "closed": "geschlossen"},
    "en": {"free": "free", "full": "full", "closed": "closed"},
}
SIGN_NO_DATA = "---"


def sign_text(
    site: Site, counts: Sequence[ZoneCount], lang: Literal["de", "en"] = "de", *, title: bool = False
) -> str:
    """Plain text for a variable message sign: one line per zone, e.g. ``Markt    12 frei``.

    A zone with no free bay reads ``besetzt`` (``full``); a zone whose bays are all closed reads
    ``geschlossen`` (``closed``); a zone without any live sensor reads ``---`` rather than
    claiming it is full. ``title`` puts the site's name on the first line.
    """
    if lang not in _SIGN_WORDS:
        raise ValueError(f"sign language must be 'de' or 'en', got {lang!r}")
    words = _SIGN_WORDS[lang]
    rows: list[tuple[str, str]] = []
    for count in counts:
        if count["free"] > 0:
            value = f"{count['free']} {words['free']}"
        elif count["total"] > 0 and count["closed"] == count["total"]:
            value = words["closed"]
        elif count["occupied"] == 0:
            value = SIGN_NO_DATA
        else:
            value = words["full"]
        rows.append((count["zone"], value))
    lines = [site.name] if title else []
    if rows:
        zone_width = max(len(zone) for zone, _ in rows)
        value_width = max(len(value) for _, value in rows)
        lines.extend(f"{zone.ljust(zone_width)}  {value.rjust(value_width)}" for zone, value in rows)
    return "\n".join(lines)
