"""A site's evaluations one after another, each doing only the work its changes need. Pure, no I/O.

A whole evaluation (``evaluation.evaluate``) joins every bay's facts and runs the rules over every
bay; for a city (10,080 bays, every minute) that is a few hundred milliseconds of CPU, although
between two evaluations few bays change. ``SiteBook`` keeps each bay's facts and health and, per
evaluation:

- runs the rules only for the bays whose inputs changed (a new live state, another change count or
  refusal count; every bay after a slow read, or when the thresholds or the simulated bays change)
  and for the bays not settled as healthy: a bay that ``healthy`` passed stays without problems
  until ``rules.healthy_until`` (its silence or stuck deadline), so it is judged again only then.
  Bays with a problem are judged every time (their messages say how long);
- joins the facts again only for the bays it judges, and only when their inputs changed or their
  zone's latest change moved since their facts were joined.

A bay's facts hold the latest change of the other bays of its zone (``zone_last_change_ns``), which
moves whenever any of them changes: in a city, every zone every minute. Only the stuck rule reads
it, and only for a status held past the stuck limit, which a settled bay has not; so a settled bay's
facts keep the value of their last join until it is judged again. Apart from that one fact of bays
without a problem, the report is the one a whole evaluation of the same inputs gives
(tests/unit/parking/fleet/test_incremental.py compares both over runs of random changes), and the
bays whose health changed are only those whose problems or shown facts changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from parking.fleet.deadletters import Refusal
from parking.fleet.evaluation import (
    BayHealth,
    SiteHealth,
    judge,
    judged_with,
    problem_counts,
    site_problems,
)
from parking.fleet.gather import SiteBays, SiteLayout, SlowFacts, status_since, zone_latest
from parking.fleet.rules import BayFacts, Problem, Thresholds, healthy_until
from parking.state import BayState

ZoneTop = tuple[int, str, int | None]


def differing(new: Mapping[str, object], old: Mapping[str, object]) -> set[str]:
    """The keys whose values differ between two mappings (a key missing from one counts)."""
    found = {key for key, value in new.items() if old.get(key) != value}
    found.update(key for key in old if key not in new)
    return found


class SiteBook:
    """One site's facts and health between evaluations (what the fleet worker keeps per session)."""

    def __init__(self, layout: SiteLayout, previous: SiteHealth | None = None) -> None:
        self.join = SiteBays(layout)
        self.report = previous  # the last report (a new session: the API's, problem bays only)
        self.states: dict[str, BayState] = {}  # in the order first sent (site-file order)
        self._bays_of_zone: dict[str, list[str]] = {}
        for bay, zone in self.join.zones.items():
            self._bays_of_zone.setdefault(zone, []).append(bay)
        self._inputs: tuple[SlowFacts, Thresholds, Thresholds | None, frozenset[str]] | None = None
        self._counts: Mapping[str, int] = {}
        self._refusals: Mapping[str, tuple[int, Refusal]] = {}
        self._since: dict[str, int | None] = {}
        self._tops: dict[str, ZoneTop] = {}
        self._zone_moves: dict[str, int] = dict.fromkeys(self._bays_of_zone, 0)
        self._joined_at: dict[str, int] = {}  # bay: its zone's moves when its facts were joined
        self._facts: dict[str, BayFacts] = {}
        self._health: dict[str, BayHealth] = {}
        self._until: dict[str, int] = {}  # bay: healthy with its facts up to then

    def step(
        self,
        states: Iterable[BayState],
        counts: Mapping[str, int],
        refusals: Mapping[str, tuple[int, Refusal]],
        slow: SlowFacts,
        thresholds: Thresholds,
        now_ns: int,
        simulated: Thresholds | None = None,
        real: frozenset[str] = frozenset(),
    ) -> tuple[SiteHealth, list[BayHealth]]:
        """The report after the ``states`` changed since the last step (every bay's in the first),
        and the bays whose health differs from the last step's (every bay in the first)."""
        dirty = self._dirty(states, counts, refusals, (slow, thresholds, simulated, real))
        for bay in dirty:
            self._since[bay] = status_since(self.states[bay], slow)
        self._move_zones()
        judged = self._to_judge(dirty, now_ns)
        zone_of, moves, joined = self.join.zones, self._zone_moves, self._joined_at
        rejoin = [b for b in judged if b in dirty or joined[b] != moves[zone_of[b]]]
        if rejoin:
            ordered = [self.states[b] for b in rejoin]
            since = [self._since[b] for b in rejoin]
            for f in self.join.join(ordered, since, self._tops, counts, slow, refusals):
                self._facts[f.bay] = f
                joined[f.bay] = moves[f.zone]
        changed = self._judge(judged, thresholds, now_ns, simulated, real)
        bays = [self._health[b] for b in self.states]
        report = SiteHealth(
            self.join.layout.id,
            now_ns,
            bays,
            site_problems(slow, thresholds, now_ns, self.report),
            problem_counts(bays),
        )
        self.report = report
        return report, changed

    def _dirty(
        self,
        states: Iterable[BayState],
        counts: Mapping[str, int],
        refusals: Mapping[str, tuple[int, Refusal]],
        inputs: tuple[SlowFacts, Thresholds, Thresholds | None, frozenset[str]],
    ) -> set[str]:
        """The bays whose facts must be joined again (before looking at the zones)."""
        dirty = set()
        for s in states:
            self.states[s.bay] = s
            dirty.add(s.bay)
        held = self._inputs
        # A slow read is a new object; thresholds change when a simulator's speed does.
        if held is None or held[0] is not inputs[0] or held[1:] != inputs[1:]:
            dirty = set(self.states)
        else:
            dirty |= differing(counts, self._counts) | differing(refusals, self._refusals)
            dirty &= self.states.keys()
        self._inputs, self._counts, self._refusals = inputs, counts, refusals
        return dirty

    def _move_zones(self) -> None:
        """Each zone's latest changes, and a move counted for each zone where they moved."""
        tops = zone_latest(self.join.zones, self.states.values(), (self._since[b] for b in self.states))
        for zone in differing(tops, self._tops):
            self._zone_moves[zone] = self._zone_moves.get(zone, 0) + 1
        self._tops = tops

    def _to_judge(self, dirty: set[str], now_ns: int) -> list[str]:
        """The bays (in report order) whose inputs changed or that are not settled healthy now."""
        until = self._until
        return [b for b in self.states if b in dirty or until.get(b, -1) < now_ns]

    def _judge(
        self,
        bays: list[str],
        thresholds: Thresholds,
        now_ns: int,
        simulated: Thresholds | None,
        real: frozenset[str],
    ) -> list[BayHealth]:
        """The rules over ``bays``; those whose health changed."""
        as_real, as_simulated = judged_with(thresholds, simulated)
        health, until, facts = self._health, self._until, self._facts
        first: dict[str, list[Problem]] = {}
        if not health and self.report is not None:  # a new session: problems keep their starts
            first = {b.facts.bay: b.problems for b in self.report.bays}
        changed = []
        for bay in bays:
            f = facts[bay]
            chosen, limits = as_real if bay in real else as_simulated
            settled = healthy_until(f, limits, now_ns)
            old = health.get(bay)
            if settled is not None:
                until[bay] = settled
                judged = BayHealth(f, [])
            else:
                until.pop(bay, None)
                judged = judge(f, chosen, now_ns, None, first.get(bay, ()) if old is None else old.problems)
            if old != judged:
                changed.append(judged)
                health[bay] = judged
        return changed


def vouched(report: SiteHealth) -> SiteHealth:
    """The report without ``zone_last_change_ns`` of the bays without a problem: what ``SiteBook``
    vouches to equal in a whole evaluation of the same inputs (its module's docstring says why)."""
    bays = [
        b if b.problems else BayHealth(replace(b.facts, zone_last_change_ns=None), []) for b in report.bays
    ]
    return replace(report, bays=bays)
