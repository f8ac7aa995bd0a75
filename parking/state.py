"""Current state of every bay, built by applying readings; pure, so the API and tests share it.

Also the contract of the retained ``parking/state/{site}/{bay}`` message (``StateMessage``): the
ingester encodes it, the API and the simulator's hands-on corner decode it, all with this model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from parking import topics
from parking.events import BayReading, BayStatus, ns_to_rfc3339
from parking.registry import Registry
from parking.timestamps import parse_rfc3339


def _rfc3339_ns(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    return parse_rfc3339(value)


# A time as nanoseconds since the epoch inside, as RFC 3339 (milliseconds, UTC) on the wire.
WireTime = Annotated[
    int | None,
    BeforeValidator(_rfc3339_ns),
    PlainSerializer(lambda ns: None if ns is None else ns_to_rfc3339(ns), return_type=str | None),
]


class StateMessage(BaseModel):
    """The retained ``parking/state/{site}/{bay}`` message: a bay's state after the ingester stored
    a reading. The topic names the bay; ``site`` and ``bay`` in the body are informative. Fields
    added by later versions are ignored, so an older API reads a newer ingester's messages."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    site: str | None = None
    bay: str | None = None
    status: BayStatus
    since: WireTime = Field(default=None, description="When the current status began")
    last_seen: WireTime = Field(default=None, description="The sensor's latest contact of any kind")
    battery_v: float | None = None
    battery_pct: float | None = None
    confirmed: WireTime = Field(
        default=None, description="Event time of the newest reading that carried an occupancy"
    )

    def to_state(self, site: str, bay: str) -> BayState:
        return BayState(
            site,
            bay,
            self.status,
            self.since,
            self.last_seen,
            self.battery_v,
            self.battery_pct,
            self.confirmed,
        )


class StateMessageError(ValueError):
    """A message on a state topic that is not a usable bay state; the text says why."""


@dataclass(frozen=True, slots=True)
class BayState:
    """What is known about one bay now.

    ``since_ns`` is when the current status began (the first reading that showed it);
    ``confirmed_ns`` the event time of the newest reading that carried an occupancy (the one the
    status follows); ``last_seen_ns`` is the sensor's latest contact of any kind.
    """

    site: str
    bay: str
    status: BayStatus = BayStatus.UNKNOWN
    since_ns: int | None = None
    last_seen_ns: int | None = None
    battery_v: float | None = None
    battery_pct: float | None = None
    confirmed_ns: int | None = None

    @property
    def status_time_ns(self) -> int | None:
        """The event time the status is known for; ``since`` for a state that does not say
        (from an older ingester, or seeded from the database, where the two are the same)."""
        return self.confirmed_ns if self.confirmed_ns is not None else self.since_ns

    def message(self) -> StateMessage:
        """This state as the ``parking/state/{site}/{bay}`` message."""
        # Built from a BayState, which is valid by construction: nothing to validate again.
        return StateMessage.model_construct(
            site=self.site,
            bay=self.bay,
            status=self.status,
            since=self.since_ns,
            last_seen=self.last_seen_ns,
            battery_v=self.battery_v,
            battery_pct=self.battery_pct,
            confirmed=self.confirmed_ns,
        )

    def as_message(self) -> dict[str, Any]:
        """``message().model_dump(mode="json")``, made by hand: the ingester encodes one per stored
        reading and the model's way costs about three times as long. Tests hold the two equal."""
        return {
            "site": self.site,
            "bay": self.bay,
            "status": self.status.value,
            "since": ns_to_rfc3339(self.since_ns) if self.since_ns is not None else None,
            "last_seen": ns_to_rfc3339(self.last_seen_ns) if self.last_seen_ns is not None else None,
            "battery_v": self.battery_v,
            "battery_pct": self.battery_pct,
            "confirmed": ns_to_rfc3339(self.confirmed_ns) if self.confirmed_ns is not None else None,
        }

    def newest_time_ns(self) -> int | None:
        """The latest of the times the state claims (since, last seen, confirmed); None if none."""
        times = [t for t in (self.since_ns, self.last_seen_ns, self.confirmed_ns) if t is not None]
        return max(times) if times else None

    def stale_at_ns(self, stale_after_ns: int) -> int | None:
        """The first moment this state is shown as unknown (its sensor silent for longer than
        ``stale_after_ns``); None if it never is (unknown or closed already, or never heard)."""
        if self.status in (BayStatus.UNKNOWN, BayStatus.CLOSED) or self.last_seen_ns is None:
            return None
        return self.last_seen_ns + stale_after_ns + 1

    def with_staleness(self, now_ns: int, stale_after_ns: int) -> BayState:
        """A bay whose sensor has been silent too long is shown as unknown, whatever it last said."""
        stale_at = self.stale_at_ns(stale_after_ns)
        if stale_at is None or now_ns < stale_at:
            return self
        return replace(self, status=BayStatus.UNKNOWN)


def apply_reading(current: BayState, reading: BayReading) -> BayState:
    """The next state. Readings may arrive out of order (a gateway's backlog, a redelivery): every
    one is stored, but the status follows the newest event time, so an older reading never rolls
    it back, whatever arrived in between."""
    newest_contact = current.last_seen_ns is None or reading.time_ns >= current.last_seen_ns
    last_seen = reading.time_ns if newest_contact else current.last_seen_ns
    battery_v, battery_pct = current.battery_v, current.battery_pct
    if newest_contact:
        battery_v = reading.health.battery_v if reading.health.battery_v is not None else battery_v
        battery_pct = reading.health.battery_pct if reading.health.battery_pct is not None else battery_pct
    status, since, confirmed = current.status, current.since_ns, current.confirmed_ns
    known = current.status_time_ns
    if reading.occupied is not None and (known is None or reading.time_ns >= known):
        confirmed = reading.time_ns
        if reading.status != current.status:
            status, since = reading.status, reading.time_ns
    return replace(
        current,
        status=status,
        since_ns=since,
        last_seen_ns=last_seen,
        battery_v=battery_v,
        battery_pct=battery_pct,
        confirmed_ns=confirmed,
    )


def supersedes(new: BayState, old: BayState) -> bool:
    """Whether ``new`` (from the retained state topic or the database) knows the bay's status at
    least as recently as ``old``; of two that know it equally recently, the one that came later wins."""
    if old.status_time_ns is None:
        return True
    return new.status_time_ns is not None and new.status_time_ns >= old.status_time_ns


class LiveState:
    """Every bay of every site in the registry, starting unknown.

    Bays are kept per site in site-file order, so a site's bays are read without a lookup per
    bay; ``version(site)`` counts the site's changes, so readers can tell that a view they made
    from it is still current.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._sites: dict[str, dict[str, BayState]] = {
            site.id: {bay_id: BayState(site.id, bay_id) for bay_id in site.bays}
            for site in registry.sites.values()
        }
        self._versions: dict[str, int] = dict.fromkeys(self._sites, 0)

    def get(self, site: str, bay: str) -> BayState | None:
        bays = self._sites.get(site)
        return None if bays is None else bays.get(bay)

    def put(self, state: BayState) -> bool:
        """Replace a bay's state (from the retained state topic); False for a bay not in the registry."""
        bays = self._sites.get(state.site)
        if bays is None or state.bay not in bays:
            return False
        bays[state.bay] = state
        self._versions[state.site] += 1
        return True

    def apply(self, reading: BayReading) -> BayState | None:
        bays = self._sites.get(reading.site)
        current = None if bays is None else bays.get(reading.bay)
        if bays is None or current is None:
            return None
        new = apply_reading(current, reading)
        bays[reading.bay] = new
        self._versions[reading.site] += 1
        return new

    def site_bays(self, site: str) -> Iterable[BayState]:
        """The site's bays in site-file order (nothing for an unknown site); a live view, not a copy."""
        return self._sites.get(site, {}).values()

    def version(self, site: str) -> int:
        """How many times the site's bays have changed; -1 for a site not in the registry."""
        return self._versions.get(site, -1)

    def all(self) -> Iterable[BayState]:
        return [state for bays in self._sites.values() for state in bays.values()]


def decode_state_message(topic: str, payload: bytes) -> BayState:
    """The BayState of a ``parking/state/{site}/{bay}`` message; StateMessageError says why not."""
    key = topics.split_state(topic)
    if key is None:
        raise StateMessageError(f"topic {topic[:200]!r} is not parking/state/{{site}}/{{bay}}")
    try:
        message = StateMessage.model_validate_json(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'message'}: {error['msg']}" for error in exc.errors()
        )
        raise StateMessageError(f"not a bay state ({problems[:300]})") from None
    return message.to_state(*key)


def parse_state_message(topic: str, payload: bytes) -> BayState | None:
    """A BayState from a retained state message, or None if it is not one we can use."""
    try:
        return decode_state_message(topic, payload)
    except StateMessageError:
        return None


def beyond_skew(state: BayState, now_ns: int, max_future_ns: int) -> bool:
    """Whether the state claims a time more than ``max_future_ns`` after ``now_ns``.

    Such a state is forged or comes from a badly wrong clock: taken in, it would outrank every
    genuine state until its time came (``supersedes`` follows the newest time)."""
    newest = state.newest_time_ns()
    return newest is not None and newest > now_ns + max_future_ns
