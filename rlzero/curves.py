"""What a learning curve says: the score, "solved", and the figures every report shares.

A curve is a list of evaluation rows (see :class:`rlzero.monitors.EvalCallback`): ``env_steps``,
``wall_time_s`` (training seconds, evaluation time left out) and the figures of :func:`rlzero.evaluate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym

SOLVED_THRESHOLD = 0.99
"""Mean normalized return over 100 episodes at or above which an env with an optimum (ZeroOut) counts
as solved."""


@dataclasses.dataclass(frozen=True)
class Criterion:
    """Which evaluation figure scores an env, and the value at or above which it counts as solved."""

    metric: str
    threshold: float

    @property
    def label(self) -> str:
        if self.metric.startswith("diagnostics/"):
            return self.metric.removeprefix("diagnostics/").replace("_", " ")
        return "normalized return" if self.metric == "mean_normalized_return" else "return"

    def score(self, row: Mapping[str, Any]) -> float | None:
        value = row.get(self.metric)
        return None if value is None else float(value)

    def solved(self, row: Mapping[str, Any]) -> bool:
        value = self.score(row)
        return value is not None and value >= self.threshold


def criterion(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> Criterion:
    """Normalized return >= 0.99 where the env knows its optimum (ZeroOut), else mean return >= the
    env's ``reward_threshold`` (475 for CartPole-v1)."""
    env = gym.make(env_id, **dict(env_kwargs or {}))
    try:
        _, info = env.reset(seed=0)
    finally:
        env.close()
    if "optimal_return" in info:
        return Criterion("mean_normalized_return", SOLVED_THRESHOLD)
    threshold = gym.spec(env_id).reward_threshold
    if threshold is None:
        raise ValueError(f"{env_id} has neither an optimal_return nor a reward_threshold: no 'solved'")
    return Criterion("mean_return", float(threshold))


def curve_summary(curve: Sequence[Mapping[str, Any]], rule: Criterion) -> dict[str, Any]:
    """The figures of one curve: the score before any update (``jumpstart``; None unless the curve
    starts at 0 env steps), the final and the mean score (over the evaluations), the env steps and
    training seconds of the first solved evaluation, and whether every later evaluation stayed solved
    (None and False where it never solved)."""
    scores = [rule.score(row) for row in curve]
    present = [s for s in scores if s is not None]
    flags = [rule.solved(row) for row in curve]
    first = flags.index(True) if True in flags else None
    return {
        "jumpstart": scores[0] if scores and curve[0]["env_steps"] == 0 else None,  # before any update
        "final": scores[-1] if scores else None,
        "auc": sum(present) / len(present) if present else None,
        "steps_to_solved": curve[first]["env_steps"] if first is not None else None,
        "seconds_to_solved": curve[first]["wall_time_s"] if first is not None else None,
        "stayed_solved": first is not None and all(flags[first:]),
        "solved_final": bool(flags and flags[-1]),
    }
