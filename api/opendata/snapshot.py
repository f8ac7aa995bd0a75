"""One consistent view of a site's bays at one moment, shared by every export and by guidance.

Every bay of the site appears exactly once, in the order of the site file: a bay without a
state is unknown, a state for a bay the site does not have is ignored, and (when a staleness
limit is given) a sensor that has been silent too long is unknown whatever it last said.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from parking.events import BayStatus
from parking.registry import Bay, Site
from parking.state import BayState

# What callers may pass as "the bay states": any iterable of states, or a mapping bay id -> state.
States = Iterable[BayState] | Mapping[str, BayState]

OpeningStatus = Literal["open", "closed", "unknown"]


@dataclass(frozen=True, slots=True)
class BayView:
    """A bay of the registry together with its effective state."""

    bay: Bay
    state: BayState

    @property
    def status(self) -> BayStatus:
        return self.state.status

    @property
    def observed_ns(self) -> int | None:
        """When the sensor was last heard (or, failing that, when the status began); None if never."""
        return self.state.last_seen_ns if self.state.last_seen_ns is not None else self.state.since_ns

    @property
    def is_live(self) -> bool:
        """True when the sensor currently vouches for the bay being free or occupied."""
        return self.state.status in (BayStatus.FREE, BayStatus.OCCUPIED)


@dataclass(frozen=True, slots=True)
class StatusCounts:
    free: int = 0
    occupied: int = 0
    closed: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.free + self.occupied + self.closed + self.unknown

    @property
    def live(self) -> int:
        """Bays whose status a sensor currently vouches for."""
        return self.free + self.occupied

    @classmethod
    def of(cls, views: Iterable[BayView]) -> StatusCounts:
        tally = dict.fromkeys(BayStatus, 0)
        for view in views:
            tally[view.status] += 1
        return cls(
            free=tally[BayStatus.FREE],
            occupied=tally[BayStatus.OCCUPIED],
            closed=tally[BayStatus.CLOSED],
            unknown=tally[BayStatus.UNKNOWN],
        )

    def opening_status(self) -> OpeningStatus:
        """Closed only when every bay is closed; open when any bay is live; otherwise unknown."""
        if self.total and self.closed == self.total:
            return "closed"
        if self.live:
            return "open"
        return "unknown"


def bay_views(
    site: Site, states: States, now_ns: int | None = None, stale_after_ns: int | None = None
) -> list[BayView]:
    """Every bay of ``site`` with its effective state, in site-file order.

    ``stale_after_ns``: a bay whose sensor was last heard more than this long before ``now_ns``
    is reported as unknown. None leaves the states as given (the caller applied staleness).
    """
    if stale_after_ns is not None:
        if now_ns is None:
            raise ValueError("a staleness limit needs now_ns")
        if stale_after_ns < 0:
            raise ValueError(f"stale_after_ns must not be negative, got {stale_after_ns}")
    given = states.values() if isinstance(states, Mapping) else states
    by_bay: dict[str, BayState] = {}
    for state in given:
        if state.site == site.id and state.bay in site.bays:
            by_bay[state.bay] = state
    views = []
    for bay_id, bay in site.bays.items():
        state = by_bay.get(bay_id) or BayState(site.id, bay_id)
        if stale_after_ns is not None and now_ns is not None:
            state = state.with_staleness(now_ns, stale_after_ns)
        views.append(BayView(bay, state))
    return views


def latest_observation_ns(views: Sequence[BayView]) -> int | None:
    """The newest sensor contact among the bays, the site's "last update"; None if none was heard."""
    times = [t for t in (view.observed_ns for view in views) if t is not None]
    return max(times) if times else None


def site_description(site: Site) -> str | None:
    value = site.properties.get("description")
    return value if isinstance(value, str) and value.strip() else None
