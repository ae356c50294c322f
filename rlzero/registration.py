"""Registers the ZeroOut ids with Gymnasium; runs on ``import rlzero``."""

from __future__ import annotations

import gymnasium as gym

from rlzero.envs import ENTRY_POINT, VECTOR_ENTRY_POINT

ENV_KWARGS: dict[str, dict[str, object]] = {
    "ZeroOut-v0": {"size": 10, "max_value": 9, "rule": "zero"},
    "ZeroOutCountdown-v0": {"size": 10, "max_value": 9, "rule": "countdown"},
    "ZeroOutInOrder-v0": {"size": 10, "max_value": 9, "rule": "in_order"},
    "ZeroOutLarge-v0": {"size": 20, "max_value": 9, "rule": "zero"},
    "ZeroOutFewestSteps-v0": {"size": 10, "max_value": 9, "rule": "fewest_steps"},
}
"""Every registered id and the constructor arguments it stands for."""


def register_envs() -> None:
    """Register every ZeroOut id (idempotent: ids already registered are left alone)."""
    for env_id, kwargs in ENV_KWARGS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=ENTRY_POINT,
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs=dict(kwargs),
        )
