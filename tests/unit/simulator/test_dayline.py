"""The day's occupancy line the live simulator sends with its status (``simulator.dayline``)."""

from __future__ import annotations

from simulator.dayline import DayLine


def test_a_point_per_step_with_the_share_of_bays_last_published_occupied() -> None:
    line = DayLine(step_h=0.25)
    for bay, occupied in (("A01", True), ("A02", False), ("A03", True), ("A04", True)):
        line.published("showroom", bay, occupied)
    line.sample(10.0)
    line.published("showroom", "A01", False)
    line.sample(10.1)  # within the step: no point
    line.sample(10.25)
    assert line.points("showroom") == [(10.0, 0.75), (10.25, 0.5)]
    assert line.points("town-centre") == []


def test_a_jump_back_of_the_clock_starts_a_new_line() -> None:
    line = DayLine(step_h=0.25)
    line.published("showroom", "A01", True)
    line.sample(17.5)
    line.sample(17.75)
    line.sample(10.0)  # the loop begins again
    assert line.points("showroom") == [(10.0, 1.0)]


def test_a_restart_forgets_what_was_published() -> None:
    line = DayLine()
    line.published("showroom", "A01", True)
    line.sample(10.0)
    line.restart()
    line.sample(10.5)
    assert line.points("showroom") == []
