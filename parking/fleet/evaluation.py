"""One evaluation of a site: the rules over every bay's facts, the problems' starts kept from the
report before, and what changed since it (for the alert webhook). Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from parking.events import ns_to_rfc3339
from parking.fleet.gather import SiteLayout, SlowFacts
from parking.fleet.rules import (
    BayFacts,
    Limits,
    Problem,
    ProblemCode,
    Thresholds,
    evaluate_bay,
    evaluate_site,
    keep_since,
)
from parking.registry import Site


@dataclass(frozen=True, slots=True)
class BayHealth:
    facts: BayFacts
    problems: list[Problem]


@dataclass(frozen=True, slots=True)
class SiteHealth:
    site: str
    evaluated_ns: int
    bays: list[BayHealth]
    site_problems: list[Problem]
    counts: dict[str, int] = field(default_factory=dict)  # bays per problem code, every code present

    def with_problems_only(self) -> SiteHealth:
        """The same report without its healthy bays: all that ``evaluate`` and ``changes`` need of a
        previous report (the problems' starts, what was raised), cheap to send to another process."""
        return SiteHealth(
            self.site,
            self.evaluated_ns,
            [b for b in self.bays if b.problems],
            self.site_problems,
            self.counts,
        )


def problem_counts(bays: Iterable[BayHealth]) -> dict[str, int]:
    counts = dict.fromkeys((c.value for c in ProblemCode), 0)
    for bay in bays:
        for problem in bay.problems:
            counts[problem.code] += 1
    return counts


def evaluate(
    site: Site | SiteLayout,
    facts: Iterable[BayFacts],
    slow: SlowFacts,
    thresholds: Thresholds,
    now_ns: int,
    previous: SiteHealth | None,
    simulated: Thresholds | None = None,
    real: frozenset[str] = frozenset(),
) -> SiteHealth:
    """The rules over every bay; ``simulated``: the thresholds for the bays of a live simulator (all
    but the ``real`` ones). A problem whose start the data does not say keeps the one of ``previous``."""
    before = {b.facts.bay: b.problems for b in previous.bays} if previous else {}
    as_real, as_simulated = judged_with(thresholds, simulated)
    bays = []
    for f in facts:
        chosen, limits = as_real if f.bay in real else as_simulated
        bays.append(judge(f, chosen, now_ns, limits, before.get(f.bay, ())))
    return SiteHealth(
        site.id, now_ns, bays, site_problems(slow, thresholds, now_ns, previous), problem_counts(bays)
    )


Judged = tuple[Thresholds, Limits]


def judged_with(thresholds: Thresholds, simulated: Thresholds | None) -> tuple[Judged, Judged]:
    """The thresholds (and their ``Limits``, worked out once per evaluation: most bays are healthy
    and ``healthy`` settles them with these) of real bays and of a live simulator's bays."""
    as_real = (thresholds, Limits.of(thresholds))
    return as_real, as_real if simulated is None else (simulated, Limits.of(simulated))


def judge(
    f: BayFacts, chosen: Thresholds, now_ns: int, limits: Limits | None, before: Iterable[Problem]
) -> BayHealth:
    """One bay's problems; one whose start the data does not say keeps the start it had ``before``."""
    found = evaluate_bay(f, chosen, now_ns, limits)
    return BayHealth(f, keep_since(before, found, now_ns) if found else found)


def site_problems(
    slow: SlowFacts, thresholds: Thresholds, now_ns: int, previous: SiteHealth | None
) -> list[Problem]:
    return keep_since(
        previous.site_problems if previous else (), evaluate_site(slow.site, thresholds, now_ns), now_ns
    )


def _change(kind: str, bay: BayFacts | None, problem: Problem) -> dict[str, Any]:
    return {
        "change": kind,
        "bay": None if bay is None else bay.bay,
        "device": None if bay is None else bay.device,
        "code": problem.code,
        "since": None if problem.since_ns is None else ns_to_rfc3339(problem.since_ns),
        "message_de": problem.message_de,
        "message_en": problem.message_en,
    }


def changes(previous: SiteHealth | None, current: SiteHealth) -> list[dict[str, Any]]:
    """Problems raised and cleared between two reports (everything raised when there is none before)."""
    out: list[dict[str, Any]] = []
    before = {b.facts.bay: b for b in previous.bays} if previous else {}
    for bay in current.bays:
        old = before.get(bay.facts.bay)
        if not bay.problems and (old is None or not old.problems):
            continue  # most bays: nothing then, nothing now
        old_codes = {p.code for p in old.problems} if old else set()
        new_codes = {p.code for p in bay.problems}
        out += [_change("raised", bay.facts, p) for p in bay.problems if p.code not in old_codes]
        if old is not None:
            out += [_change("cleared", bay.facts, p) for p in old.problems if p.code not in new_codes]
    old_site = {p.code: p for p in previous.site_problems} if previous else {}
    new_site = {p.code for p in current.site_problems}
    out += [_change("raised", None, p) for p in current.site_problems if p.code not in old_site]
    out += [_change("cleared", None, p) for p in old_site.values() if p.code not in new_site]
    return out
