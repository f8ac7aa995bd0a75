"""How far the model's predicted change is used: chosen on validation outcomes, else the value is carried."""

from __future__ import annotations

import numpy as np

from forecast.model import choose_shrinkage, shrink


def test_a_change_that_foretold_the_outcomes_is_used_in_full() -> None:
    rng = np.random.default_rng(1)
    change = rng.normal(0, 0.05, 400)
    trust, dead_zone = choose_shrinkage(change + rng.normal(0, 0.002, 400), change)
    assert (trust, dead_zone) == (1.0, 0.0)


def test_a_change_that_did_not_beat_carrying_the_value_forward_is_not_used() -> None:
    rng = np.random.default_rng(2)
    outcome = np.where(rng.random(400) < 0.6, 0.0, rng.normal(0, 0.01, 400))  # mostly no change at all
    assert choose_shrinkage(outcome, rng.normal(0, 0.01, 400)) == (0.0, 0.0)


def test_where_only_large_changes_came_true_the_small_ones_fall_in_the_dead_zone() -> None:
    rng = np.random.default_rng(3)
    jumps = rng.random(600) < 0.1
    signal = np.where(jumps, rng.choice([-0.05, 0.05], 600), 0.0)
    noise = rng.normal(0, 0.004, 600)
    outcome = np.where(jumps, signal, np.where(rng.random(600) < 0.7, 0.0, noise))
    trust, dead_zone = choose_shrinkage(outcome, signal + rng.normal(0, 0.004, 600))
    assert trust > 0.5 and dead_zone > 0


def test_shrinking_cuts_the_dead_zone_off_the_size_and_scales_what_is_left() -> None:
    found = shrink(np.array([-0.03, -0.005, 0.0, 0.004, 0.02]), 0.5, 0.01)
    assert np.allclose(found, [-0.01, 0.0, 0.0, 0.0, 0.005])


def test_without_validation_outcomes_the_value_is_carried_forward() -> None:
    assert choose_shrinkage(np.array([]), np.array([])) == (0.0, 0.0)
