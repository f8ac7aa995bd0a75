"""Guidance to a free bay and the text of variable message signs; pure logic, no I/O.

``Guide.suggest`` sends a driver to the free bay nearest to their destination and holds that bay
for them for a while (a soft reservation), so two drivers asking one after the other are not sent
to the same bay (the herding that makes naive guidance worse than none). Only bays shown free
(``api.current``) are ever suggested; unknown, stale, closed and occupied bays never are. How much
may be held is bounded (``HoldPolicy``), so that anonymous callers cannot hide every free bay.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from api.current import SiteNow
from api.models import ZoneSummary
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
    """The bay a driver is sent to and fall-backs; ``reserved_until_ns`` is when the bay's hold
    for this driver ends, None when it is not held (see ``HoldPolicy``)."""

    site: str
    bay: BayOption
    alternatives: tuple[BayOption, ...]
    reserved_until_ns: int | None

    def as_message(self) -> dict[str, Any]:
        until = self.reserved_until_ns
        return {
            "site": self.site,
            **self.bay.as_message(),
            "reserved_until": ns_to_rfc3339(until) if until is not None else None,
            "alternatives": [option.as_message() for option in self.alternatives],
        }


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """How much the soft reservations may hold, so that callers can never hide every free bay.

    A zone never has more than ``max_held_share`` of its free bays held at once (rounded down: a
    zone with one free bay holds none), so the next driver is always sent to a free bay while
    there is one; one client (an IP address, an IPv6 /64) holds at most ``client_holds`` bays at
    once; a hold lasts ``hold_s``, or ``scarce_hold_s`` in a zone where fewer than
    ``scarce_free_share`` of the bays are free. Past a limit the driver is still guided, without
    a hold. docs/api.md says why each default.
    """

    hold_s: float = 120.0
    scarce_hold_s: float = 30.0
    scarce_free_share: float = 0.15
    max_held_share: float = 0.5
    client_holds: int = 2

    def __post_init__(self) -> None:
        for name in ("hold_s", "scarce_hold_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number of seconds, got {value}")
        for name in ("scarce_free_share", "max_held_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1, got {value}")
        if self.client_holds < 0:
            raise ValueError(f"client_holds must not be negative, got {self.client_holds}")


@dataclass(frozen=True, slots=True)
class _Hold:
    until_ns: int
    client: str


class Guide:
    """Soft reservations across requests; one instance per API process.

    A reservation ends when its hold expires or when the bay is seen occupied or closed (someone
    parked there, with luck the driver we sent). Expired reservations are dropped on every call
    and there is at most one per bay, so memory is bounded by the bays.
    """

    def __init__(self, policy: HoldPolicy | None = None) -> None:
        self.policy = policy or HoldPolicy()
        self._held: dict[str, dict[str, _Hold]] = {}  # site -> bay -> hold
        self._by_client: dict[str, int] = {}  # client -> bays it holds
        self._lock = threading.Lock()

    def suggest(
        self,
        now: SiteNow,
        dest_lon: float,
        dest_lat: float,
        now_ns: int,
        *,
        alternatives: int = 3,
        client: str = "",
    ) -> Guidance | None:
        """The nearest free, unreserved bay to the destination, held for ``client`` if the policy
        allows; None if no bay is free.

        ``now`` is the site as shown (``CurrentView.of``): only bays shown free are suggested.
        Ties in distance go to the smaller bay id. ``alternatives`` more free, unreserved bays
        follow in order of distance; they are not reserved.
        """
        if not _valid_position(dest_lon, dest_lat):
            raise ValueError(f"destination [{dest_lon}, {dest_lat}] is not a WGS84 longitude/latitude")
        if alternatives < 0:
            raise ValueError(f"alternatives must not be negative, got {alternatives}")
        site = now.site
        statuses = now.statuses
        with self._lock:
            self._purge_locked(now_ns)
            taken = (BayStatus.OCCUPIED, BayStatus.CLOSED)
            for bay_id in [b for b in self._held.get(site.id, {}) if statuses.get(b) in taken]:
                self._drop_locked(site.id, bay_id)
            held = self._held.get(site.id, {})
            options = _nearest_free(site, now.free, dest_lon, dest_lat, exclude=held, count=1 + alternatives)
            if not options:
                return None
            chosen = options[0]
            hold_s = self._hold_s_locked(now, chosen.zone, client)
            until = now_ns + round(hold_s * _NS_PER_S) if hold_s > 0 else None
            if until is not None:
                self._held.setdefault(site.id, {})[chosen.bay] = _Hold(until, client)
                self._by_client[client] = self._by_client.get(client, 0) + 1
            return Guidance(site.id, chosen, tuple(options[1 : 1 + alternatives]), until)

    def _hold_s_locked(self, now: SiteNow, zone: str, client: str) -> float:
        """How long to hold a bay of ``zone`` for ``client`` now; 0 when the policy allows no hold."""
        policy = self.policy
        if self._by_client.get(client, 0) >= policy.client_holds:
            return 0.0
        counts = next(z for z in now.summary.zones if z.zone == zone)
        bays = now.site.bays
        held_in_zone = sum(1 for bay_id in self._held.get(now.site.id, {}) if bays[bay_id].zone == zone)
        if held_in_zone + 1 > math.floor(policy.max_held_share * counts.free):
            return 0.0
        scarce = counts.free < policy.scarce_free_share * counts.total
        return policy.scarce_hold_s if scarce else policy.hold_s

    def reservations(self, site_id: str, now_ns: int) -> dict[str, int]:
        """The site's bays held at ``now_ns``: bay id -> reserved until (ns)."""
        with self._lock:
            held = self._held.get(site_id, {})
            return {bay: hold.until_ns for bay, hold in held.items() if hold.until_ns > now_ns}

    def __len__(self) -> int:
        """Reservations held (expired ones included until the next call purges them)."""
        with self._lock:
            return sum(len(held) for held in self._held.values())

    def _purge_locked(self, now_ns: int) -> None:
        for site_id in list(self._held):
            for bay_id in [bay for bay, hold in self._held[site_id].items() if hold.until_ns <= now_ns]:
                self._drop_locked(site_id, bay_id)

    def _drop_locked(self, site_id: str, bay_id: str) -> None:
        held = self._held[site_id]
        hold = held.pop(bay_id)
        left = self._by_client[hold.client] - 1
        if left:
            self._by_client[hold.client] = left
        else:
            del self._by_client[hold.client]
        if not held:
            del self._held[site_id]


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
    exclude: Collection[str],
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


_SIGN_WORDS = {
    "de": {"free": "frei", "full": "besetzt", "closed": "geschlossen"},
    "en": {"free": "free", "full": "full", "closed": "closed"},
}
SIGN_NO_DATA = "---"


def sign_text(
    site: Site, counts: Sequence[ZoneSummary], lang: Literal["de", "en"] = "de", *, title: bool = False
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
        if count.free > 0:
            value = f"{count.free} {words['free']}"
        elif count.total > 0 and count.closed == count.total:
            value = words["closed"]
        elif count.occupied == 0:
            value = SIGN_NO_DATA
        else:
            value = words["full"]
        rows.append((count.zone, value))
    lines = [site.name] if title else []
    if rows:
        zone_width = max(len(zone) for zone, _ in rows)
        value_width = max(len(value) for _, value in rows)
        lines.extend(f"{zone.ljust(zone_width)}  {value.rjust(value_width)}" for zone, value in rows)
    return "\n".join(lines)
