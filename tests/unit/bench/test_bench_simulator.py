"""The simulator bench judges the city's day on the run of median CPU time."""

from __future__ import annotations

from bench.bench_simulator import _median_run


def test_the_median_of_three_runs_is_the_middle_one_whatever_their_order() -> None:
    runs = [{"cpu_s": 7.5}, {"cpu_s": 4.9}, {"cpu_s": 6.1}]
    assert _median_run(runs) is runs[2]


def test_of_two_runs_the_faster_counts() -> None:
    runs = [{"cpu_s": 7.5}, {"cpu_s": 4.9}]
    assert _median_run(runs) is runs[1]
