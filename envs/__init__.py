"""The ZeroOut environment family: a single Gymnasium env, a batched torch vector env, and the optimal
values of every rule in closed form (:mod:`rlzero.envs.optimal`).

The classes and functions are imported on first use, so that naming an entry point (or registering the
ids, :mod:`rlzero.registration`) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlzero.envs.optimal import optimal_q, optimal_value
    from rlzero.envs.vector import ZeroOutVectorEnv
    from rlzero.envs.zero_out import RULES, ZeroOutEnv, default_max_steps, normalized_return

ENTRY_POINT = "rlzero.envs.zero_out:ZeroOutEnv"
"""The single env's entry point, as Gymnasium's registry names it."""
VECTOR_ENTRY_POINT = "rlzero.envs.vector:ZeroOutVectorEnv"
"""The batched implementation, which ``gym.make_vec(..., vectorization_mode="vector_entry_point")`` builds."""

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
    "RULES",
    "VECTOR_ENTRY_POINT",
    "ZeroOutEnv",
    "ZeroOutVectorEnv",
    "default_max_steps",
    "normalized_return",
    "optimal_q",
    "optimal_value",
]
