"""The ZeroOut environment family: a single Gymnasium env, a batched torch vector env, the optimal
values of every rule in closed form (:mod:`rlzero.envs.optimal`), and the registered ids.

The classes and functions are imported on first use, so that registering the ids (which ``import
rlzero`` does) loads Gymnasium only, not torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import gymnasium as gym

if TYPE_CHECKING:
    from rlzero.envs.optimal import optimal_q, optimal_value
    from rlzero.envs.vector import ZeroOutVectorEnv
    from rlzero.envs.zero_out import RULES, ZeroOutEnv, default_max_steps, normalized_return

ENTRY_POINT = "rlzero.envs.zero_out:ZeroOutEnv"
"""The single env's entry point, as Gymnasium's registry names it."""
VECTOR_ENTRY_POINT = "rlzero.envs.vector:ZeroOutVectorEnv"
"""The batched implementation, which ``gym.make_vec(..., vectorization_mode="vector_entry_point")`` builds."""

ENV_KWARGS: dict[str, dict[str, object]] = {
    "ZeroOut-v0": {"size": 10, "max_value": 9, "rule": "zero"},
    "ZeroOutCountdown-v0": {"size": 10, "max_value": 9, "rule": "countdown"},
    "ZeroOutInOrder-v0": {"size": 10, "max_value": 9, "rule": "in_order"},
    "ZeroOutLarge-v0": {"size": 20, "max_value": 9, "rule": "zero"},
    "ZeroOutFewestSteps-v0": {"size": 10, "max_value": 9, "rule": "fewest_steps"},
}
"""Every registered id and the constructor arguments it stands for."""


def register_envs() -> None:
    """Register every ZeroOut id with Gymnasium (idempotent: ids already registered are left alone)."""
    for env_id, kwargs in ENV_KWARGS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=ENTRY_POINT,
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs=dict(kwargs),
        )


def check_env_id(env_id: str) -> None:
    """A ValueError naming the rlzero ids unless ``env_id`` is registered with Gymnasium, and one naming
    the package to install where the env needs one that is missing (Box2D for LunarLander)."""
    if env_id not in gym.registry:
        raise ValueError(
            f"unknown env {env_id!r}; rlzero ids: {', '.join(ENV_KWARGS)} "
            "(or any registered Gymnasium id with a Box observation and a Discrete action)"
        )
    try:
        gym.make(env_id).close()
    except gym.error.DependencyNotInstalled as exc:
        hint = ' (pip install "rlzero[box2d]")' if "box2d" in str(exc).lower() else ""
        raise ValueError(f"{env_id} needs a package that is not installed: {exc}{hint}") from None


LAZY = {
    "ZeroOutVectorEnv": "rlzero.envs.vector",
    "RULES": "rlzero.envs.zero_out",
    "ZeroOutEnv": "rlzero.envs.zero_out",
    "default_max_steps": "rlzero.envs.zero_out",
    "normalized_return": "rlzero.envs.zero_out",
    "optimal_value": "rlzero.envs.optimal",
    "optimal_q": "rlzero.envs.optimal",
}


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENTRY_POINT",
    "ENV_KWARGS",
    "RULES",
    "VECTOR_ENTRY_POINT",
    "ZeroOutEnv",
    "ZeroOutVectorEnv",
    "check_env_id",
    "default_max_steps",
    "normalized_return",
    "optimal_q",
    "optimal_value",
    "register_envs",
]
