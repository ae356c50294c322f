"""Aggregates over seeds through rliable: IQM with bootstrap intervals, P(X > Y), performance profiles."""

from __future__ import annotations

import pytest

from rlzero.stats import aggregate, performance_profile, probability_of_improvement


def test_aggregate() -> None:
    out = aggregate([0.1, None, 0.2, 0.3, 0.9])
    assert (out["n"], out["of"]) == (4, 5)
    assert out["iqm"] == pytest.approx(0.25)  # the middle half of 0.1, 0.2, 0.3, 0.9
    assert out["median"] == pytest.approx(0.25) and (out["min"], out["max"]) == (0.1, 0.9)
    low, high = out["ci95"]
    assert 0.1 <= low <= out["iqm"] <= high <= 0.9 and low < high
    assert aggregate([0.1, None, 0.2, 0.3, 0.9]) == out  # the bootstrap is seeded
    assert aggregate([None, None]) == {
        "n": 0,
        "of": 2,
        "iqm": None,
        "ci95": None,
        "median": None,
        "min": None,
        "max": None,
    }


@pytest.mark.slow
def test_probability_of_improvement() -> None:
    better = probability_of_improvement([2.0, 3.0, 4.0], [0.0, 1.0, 1.5])
    assert better["p"] == 1.0 and better["ci95"] == [1.0, 1.0]
    tie = probability_of_improvement([1.0, 1.0], [1.0, 1.0])
    assert tie["p"] == 0.5  # ties count half
    mixed = probability_of_improvement([1.0, 3.0], [2.0, 2.0])
    assert mixed["p"] == 0.5 and mixed["ci95"][0] < 0.5 < mixed["ci95"][1]


def test_performance_profile() -> None:
    profiles = performance_profile({"a": [0.0, 0.5, 1.0, 1.0], "b": [0.2, 0.2]}, [0.1, 0.6, 1.0])
    assert profiles == {"a": [0.75, 0.5, 0.0], "b": [1.0, 0.0, 0.0]}  # share of runs strictly above tau
