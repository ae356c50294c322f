"""Aggregates over seeds as the RL literature now reports them (Agarwal et al. 2021), through rliable.

A handful of seeds misleads when summarised by a mean or a median alone, so every report gives the
interquartile mean (IQM) with a 95% stratified-bootstrap confidence interval, and comparisons the
probability of improvement, P(X > Y), with its interval. rliable (with its pandas and arch
dependencies) is imported on first use, so that training never pays for it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

BOOTSTRAP_REPS = 2_000
"""Bootstrap replications per interval: enough for two stable decimals on the handful of runs here."""

BOOTSTRAP_SEED = 0
"""The bootstrap's own seed, so that a report computed twice from the same runs is the same."""


def _interval_estimates(scores: Mapping[str, Any], func: Any, reps: int) -> tuple[Any, Any]:
    """rliable's stratified bootstrap, seeded (its interface takes a legacy RandomState, which arch,
    underneath, now warns about on every call)."""
    from rliable import library

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
        return library.get_interval_estimates(
            scores, func, reps=reps, random_state=np.random.RandomState(BOOTSTRAP_SEED)
        )


def aggregate(values: Sequence[float | None], reps: int = BOOTSTRAP_REPS) -> dict[str, Any]:
    """IQM with its 95% bootstrap interval, median, min and max of the values that exist (None: a run
    without the figure, such as steps to solved for a run that never solved), and how many exist."""
    present = np.asarray([v for v in values if v is not None], dtype=float)
    out: dict[str, Any] = {"n": int(present.size), "of": len(values)}
    if not present.size:
        return {**out, "iqm": None, "ci95": None, "median": None, "min": None, "max": None}
    from rliable import metrics

    scores = present.reshape(-1, 1)  # rliable's shape: runs x tasks
    point, interval = _interval_estimates({"x": scores}, lambda x: np.array([metrics.aggregate_iqm(x)]), reps)
    return {
        **out,
        "iqm": float(point["x"][0]),
        "ci95": [float(interval["x"][0][0]), float(interval["x"][1][0])],
        "median": float(np.median(present)),
        "min": float(present.min()),
        "max": float(present.max()),
    }


def probability_of_improvement(
    x: Sequence[float], y: Sequence[float], reps: int = BOOTSTRAP_REPS
) -> dict[str, Any]:
    """P(X > Y) (ties count half) of one run of X against one of Y, with its 95% bootstrap interval."""
    from rliable import metrics

    xs, ys = np.asarray(x, dtype=float).reshape(-1, 1), np.asarray(y, dtype=float).reshape(-1, 1)
    point, interval = _interval_estimates({"x,y": (xs, ys)}, metrics.probability_of_improvement, reps)
    return {"p": float(point["x,y"]), "ci95": [float(interval["x,y"][0][0]), float(interval["x,y"][1][0])]}


def performance_profile(
    scores: Mapping[str, Sequence[float]], taus: Sequence[float]
) -> dict[str, list[float]]:
    """Share of each method's runs whose score exceeds each threshold tau (rliable's score distribution)."""
    from rliable import library

    profiles = {name: np.asarray(s, dtype=float).reshape(-1, 1) for name, s in scores.items()}
    point = {name: library.score_distributions(s, np.asarray(taus)) for name, s in profiles.items()}
    return {name: [float(v) for v in values] for name, values in point.items()}
