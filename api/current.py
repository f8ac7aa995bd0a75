"""A site's bays as shown now, made once per change and shared by every route that reads them.

This is the one place that decides what is shown: a bay whose sensor has been silent longer than
the stale cutoff (``PARKLOTSE_STALE_AFTER_S``) is shown as unknown, whatever it last said. The bay
list, the site totals, guidance, the sign, the open-data exports and the stream's snapshot read
``CurrentView.of``; the stream's bay events go through ``CurrentView.shown``; the page gets the
cutoff with the site summary (``stale_after_s``), so the screen turns a silent bay grey when the
API would.

Assembling the current state of a city (10,000 bays, 2 MB of JSON) takes tens of milliseconds;
routes that rebuilt it per request spent their time making the same bytes again. A ``SiteNow`` is
made when the site's bays changed (``LiveState.version``) or when a sensor has just been silent
too long (the earliest such moment is known when the view is made). What routes need from it (the
bay list's JSON, the stream's snapshot, the totals, the free bays for guidance) is made on first
use and kept with it. Per-bay JSON fragments outlive the views, so a new view re-serialises only
the bays that changed.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property

import numpy as np
import numpy.typing as npt

from api.models import BayView, SiteSummary, ZoneSummary
from parking.events import BayStatus, ns_to_rfc3339
from parking.registry import Site
from parking.state import BayState, LiveState

NEVER = 2**63 - 1


def _bay_view_json(site: Site, state: BayState) -> bytes:
    bay = site.bays[state.bay]
    view = BayView.model_validate({**state.as_message(), "zone": bay.zone, "lon": bay.lon, "lat": bay.lat})
    return view.__pydantic_serializer__.to_json(view)


def _message_json(_site: Site, state: BayState) -> bytes:
    return json.dumps(state.as_message(), separators=(",", ":")).encode()


class Fragments:
    """One JSON fragment per bay, remade only when the bay's shown state changes.

    Bounded by the registry: one fragment per bay and kind.
    """

    def __init__(self, render: Callable[[Site, BayState], bytes]) -> None:
        self._render = render
        self._by_site: dict[str, dict[str, tuple[BayState, bytes]]] = {}

    def join(self, site: Site, states: Sequence[BayState]) -> bytes:
        """The fragments of ``states``, comma-separated (the inside of a JSON array)."""
        cache = self._by_site.setdefault(site.id, {})
        parts = []
        for state in states:
            cached = cache.get(state.bay)
            if cached is None or (cached[0] is not state and cached[0] != state):
                cached = cache[state.bay] = (state, self._render(site, state))
            parts.append(cached[1])
        return b",".join(parts)


class SiteNow:
    """A site's bays as shown at one moment (silent sensors as unknown), and what is made of them."""

    def __init__(
        self,
        site: Site,
        states: list[BayState],
        version: int,
        valid_until_ns: int,
        views: Fragments,
        messages: Fragments,
        etag: str = '"0"',
        stale_after_ns: int = 0,
    ) -> None:
        self.site = site
        self.stale_after_ns = stale_after_ns
        self.states = states  # site-file order
        self.version = version
        self.valid_until_ns = valid_until_ns
        self.etag = etag  # an HTTP entity tag: differs between any two views of one process
        self._views = views
        self._messages = messages

    @cached_property
    def bays_json(self) -> bytes:
        """The body of ``/sites/{site}/bays``: a JSON array of ``BayView``."""
        return b"[" + self._views.join(self.site, self.states) + b"]"

    def bays_json_where(self, zone: str | None = None, status: BayStatus | None = None) -> bytes:
        """The bay list of only the bays of ``zone`` and/or with ``status``."""
        if zone is None and status is None:
            return self.bays_json
        bays = self.site.bays
        chosen = [
            s
            for s in self.states
            if (zone is None or bays[s.bay].zone == zone) and (status is None or s.status is status)
        ]
        return b"[" + self._views.join(self.site, chosen) + b"]"

    def bay_json(self, bay: str) -> bytes | None:
        """One bay as a ``BayView`` object, None if the site has no such bay."""
        state = self.by_bay.get(bay)
        return None if state is None else self._views.join(self.site, [state])

    @cached_property
    def by_bay(self) -> dict[str, BayState]:
        return {s.bay: s for s in self.states}

    @cached_property
    def messages_json(self) -> bytes:
        """The bays as state messages (``BayState.as_message``), comma-separated, for the stream."""
        return self._messages.join(self.site, self.states)

    @cached_property
    def summary(self) -> SiteSummary:
        by_zone: dict[str, Counter[BayStatus]] = {zone: Counter() for zone in self.site.zones}
        bays = self.site.bays
        for state in self.states:
            by_zone[bays[state.bay].zone][state.status] += 1
        totals: Counter[BayStatus] = Counter()
        for counts in by_zone.values():
            totals.update(counts)
        newest = max((s.last_seen_ns for s in self.states if s.last_seen_ns is not None), default=None)
        zones = [_zone_summary(zone, counts) for zone, counts in by_zone.items()]
        whole = _zone_summary("", totals)
        return SiteSummary(
            id=self.site.id,
            name=self.site.name,
            total=whole.total,
            free=whole.free,
            occupied=whole.occupied,
            unknown=whole.unknown,
            closed=whole.closed,
            updated_at=ns_to_rfc3339(newest) if newest is not None else None,
            stale_after_s=self.stale_after_ns / 1e9,
            zones=zones,
        )

    @cached_property
    def free(self) -> npt.NDArray[np.bool_]:
        """True for each bay (site-file order) that a sensor currently reports free. Read-only."""
        mask = np.fromiter(
            (s.status is BayStatus.FREE for s in self.states), dtype=bool, count=len(self.states)
        )
        mask.flags.writeable = False
        return mask

    @cached_property
    def statuses(self) -> dict[str, BayStatus]:
        return {s.bay: s.status for s in self.states}


def _zone_summary(zone: str, counts: Counter[BayStatus]) -> ZoneSummary:
    return ZoneSummary(
        zone=zone,
        total=counts.total(),
        free=counts[BayStatus.FREE],
        occupied=counts[BayStatus.OCCUPIED],
        unknown=counts[BayStatus.UNKNOWN],
        closed=counts[BayStatus.CLOSED],
    )


def shown_states(states: Iterable[BayState], now_ns: int, stale_after_ns: int) -> tuple[list[BayState], int]:
    """The states as shown at ``now_ns`` (silent too long: unknown) and until when that holds.

    The second value is the first moment (ns) at which one more bay turns unknown; NEVER if none can.
    """
    shown: list[BayState] = []
    until = NEVER
    for state in states:
        stale_at = state.stale_at_ns(stale_after_ns)
        if stale_at is not None:
            if now_ns >= stale_at:
                state = state.with_staleness(now_ns, stale_after_ns)
            elif stale_at < until:
                until = stale_at
        shown.append(state)
    return shown, until


class CurrentView:
    """The latest ``SiteNow`` of each site, remade when it no longer holds."""

    def __init__(self, live: LiveState, stale_after_ns: int, clock: Callable[[], int] = time.time_ns) -> None:
        self.live = live
        self.stale_after_ns = stale_after_ns
        self._clock = clock
        self._views = Fragments(_bay_view_json)
        self._messages = Fragments(_message_json)
        self._latest: dict[str, SiteNow] = {}
        # Entity tags name the process too: after a restart a client's old tag matches nothing.
        self._epoch = secrets.token_hex(4)
        self._made = itertools.count(1)

    def shown(self, state: BayState) -> BayState:
        """One bay's state as shown now (for a change pushed on its own, as the stream does)."""
        return state.with_staleness(self._clock(), self.stale_after_ns)

    def of(self, site: Site) -> SiteNow:
        now = self._clock()
        version = self.live.version(site.id)
        latest = self._latest.get(site.id)
        if latest is not None and latest.version == version and now < latest.valid_until_ns:
            return latest
        states, until = shown_states(self.live.site_bays(site.id), now, self.stale_after_ns)
        etag = f'"{self._epoch}-{next(self._made)}"'
        made = SiteNow(site, states, version, until, self._views, self._messages, etag, self.stale_after_ns)
        self._latest[site.id] = made
        return made
