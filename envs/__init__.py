"""The ZeroOut environment family: a single Gymnasium env and a batched torch vector env."""

from rlzero.envs.vector import ZeroOutVectorEnv
from rlzero.envs.zero_out import RULES, ZeroOutEnv, default_max_steps, normalized_return

__all__ = ["RULES", "ZeroOutEnv", "ZeroOutVectorEnv", "default_max_steps", "normalized_return"]
