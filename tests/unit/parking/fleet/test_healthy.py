"""The quick path for healthy bays (``Limits``, ``healthy``): it answers "no problem" only where the
rules find none, so ``evaluate_bay`` gives the same problems with and without it."""

from __future__ import annotations

import random

import pytest

from parking.events import BayStatus
from parking.fleet.rules import (
    DAY_NS,
    HOUR_NS,
    BayFacts,
    Limits,
    Thresholds,
    evaluate_bay,
    fit_trend,
    healthy,
    in_simulated_time,
)

NOW = 1_800_000_000 * 1_000_000_000
S = 1_000_000_000
STATUSES = (BayStatus.FREE, BayStatus.OCCUPIED, BayStatus.UNKNOWN)


def near_every_threshold(rng: random.Random) -> BayFacts:
    """Facts drawn on both sides of every rule's threshold, and at it."""

    def maybe(value: object) -> object:
        return None if rng.random() < 0.15 else value

    falling = rng.choice((0.0, -0.001, -0.02, 0.01))
    days = rng.randrange(1, 15)
    battery = [(NOW - d * DAY_NS, 3.6 + falling * (days - d)) for d in range(days, 0, -1)]
    return BayFacts(
        "s",
        f"B{rng.randrange(10)}",
        "A",
        "dev",
        rng.choice((None, "bosch-pls", "dingtek-do201")),
        rng.choice(STATUSES),
        maybe(NOW - rng.choice((1, 71, 72, 73, 335, 336, 337, 400)) * HOUR_NS),  # type: ignore[arg-type]
        maybe(NOW - rng.choice((60 * S, 4 * HOUR_NS, 5 * HOUR_NS, 25 * HOUR_NS, 26 * HOUR_NS))),  # type: ignore[arg-type]
        rng.choice((0, 3, 20, 21, 60)),
        maybe(rng.choice((3.0, 3.2, 3.19, 3.6))),  # type: ignore[arg-type]
        maybe(rng.choice((10.0, 20.0, 19.9, 80.0))),  # type: ignore[arg-type]
        maybe(fit_trend(battery)),  # type: ignore[arg-type]
        maybe(fit_trend([(t, v * 25) for t, v in battery])),  # type: ignore[arg-type]
        maybe(rng.choice((-130.0, -120.0, -119.0, -90.0))),  # type: ignore[arg-type]
        maybe(rng.choice((-20.0, -15.0, -14.0, 7.0))),  # type: ignore[arg-type]
        rng.choice((0, 2, 3, 40)),
        rng.choice((0, 5, 6)),
        maybe("bad_frame"),  # type: ignore[arg-type]
        maybe(NOW - rng.choice((600 * S, 24 * HOUR_NS, 25 * HOUR_NS))),  # type: ignore[arg-type]
    )


THRESHOLDS = {
    "defaults": Thresholds(),
    "per codec": Thresholds(
        silent_after_s_by_codec={"dingtek-do201": 18000.0}, battery_low_v_by_codec={"bosch-pls": 3.3}
    ),
    "simulated": in_simulated_time(Thresholds(), 60.0, 60.0),
}


@pytest.mark.parametrize("name", THRESHOLDS)
def test_the_quick_path_gives_the_rules_answer(name: str) -> None:
    thresholds = THRESHOLDS[name]
    limits = Limits.of(thresholds)
    rng = random.Random(13)
    for _ in range(3_000):
        facts = near_every_threshold(rng)
        assert evaluate_bay(facts, thresholds, NOW, limits) == evaluate_bay(facts, thresholds, NOW), facts


def test_a_healthy_bay_is_settled_by_the_quick_path() -> None:
    facts = BayFacts(
        "s",
        "A01",
        "A",
        "dev",
        "bosch-pls",
        BayStatus.FREE,
        NOW - HOUR_NS,
        NOW - 60 * S,
        2,
        3.6,
        None,
        fit_trend([(NOW - d * DAY_NS, 3.6) for d in range(10, 0, -1)]),
        None,
        -95.0,
        7.0,
        40,
        0,
        None,
        NOW - 600 * S,
    )
    assert healthy(facts, Limits.of(Thresholds()), NOW)


def test_a_bay_near_a_limit_is_left_to_the_rules() -> None:
    facts = BayFacts("s", "A01", status=BayStatus.OCCUPIED, since_ns=NOW - 73 * HOUR_NS, last_seen_ns=NOW)
    assert not healthy(facts, Limits.of(Thresholds()), NOW)
