"""A site's bays paired with their states as shown, for the exports.

The states are those the API shows (``api.current``: a sensor silent too long is unknown
already). Every bay of the site appears exactly once, in the order of the site file: a bay
without a state is unknown, a state for a bay the site does not have is ignored.
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
    """A bay of the registry together with its state as shown."""

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


def bay_views(site: Site, states: States) -> list[BayView]:
    """Every bay of ``site`` with its state as shown, in site-file order."""
    given = states.values() if isinstance(states, Mapping) else states
    by_bay: dict[str, BayState] = {}
    for state in given:
        if state.site == site.id and state.bay in site.bays:
            by_bay[state.bay] = state
    views = []
    for bay_id, bay in site.bays.items():
        state = by_bay.get(bay_id) or BayState(site.id, bay_id)
        views.append(BayView(bay, state))
    return views


def latest_observation_ns(views: Sequence[BayView]) -> int | None:
    """The newest sensor contact among the bays, the site's "last update"; None if none was heard."""
    times = [t for t in (view.observed_ns for view in views) if t is not None]
    return max(times) if times else None


def site_description(site: Site) -> str | None:
    value = site.properties.get("description")
    return value if isinstance(value, str) and value.strip() else None
