"""Batched environments as torch tensors on the agent's device, whatever the env id.

ZeroOut ids use the native :class:`~rlzero.envs.ZeroOutVectorEnv` (no host/device copies); any other
env with a Box observation and a Discrete action (CartPole-v1, say) runs in Gymnasium's
``SyncVectorEnv`` behind :class:`NumpyVecEnvAdapter`, which speaks the same tensor protocol.

The protocol agents rely on: ``reset(seed) -> (obs, info)`` and ``step(actions) -> (obs, reward,
terminated, truncated, info)`` with tensors on ``device``, ``SAME_STEP`` autoreset, and in ``info``:
``final_obs`` (every row: the state right after the action, before any reset) and, where the env knows
it, ``optimal_return`` (each row's current episode's optimum, for the normalized return in the logs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from rlzero.envs import ZeroOutVectorEnv
from rlzero.envs.streams import row_seeds


def make_vec_env(
    env_id: str,
    num_envs: int,
    device: torch.device,
    env_kwargs: dict[str, Any] | None = None,
) -> VectorEnv:
    """Build ``num_envs`` copies of ``env_id`` that take and return tensors on ``device``."""
    env_kwargs = dict(env_kwargs or {})
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"unknown env id {env_id!r}: {exc}") from None
    if spec.vector_entry_point == "rlzero.envs.vector:ZeroOutVectorEnv":
        # Our agents' actions are in range by construction (argmax, sampling): no check, no host sync.
        env = gym.make_vec(
            env_id,
            num_envs,
            vectorization_mode="vector_entry_point",
            device=device,
            autoreset_mode=AutoresetMode.SAME_STEP,
            validate_actions=False,
            **env_kwargs,
        )
    else:
        env = NumpyVecEnvAdapter(
            gym.make_vec(
                env_id,
                num_envs,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
                **env_kwargs,
            ),
            device,
        )
    check_spaces(env_id, env.single_observation_space, env.single_action_space)
    return env


def member_row_seeds(env: VectorEnv, seeds: Sequence[int], num_envs: int) -> list[int]:
    """The seed of every row of ``env`` that holds ``num_envs`` rows per member, member by member: the
    seeds each member's rows would get from ``env.reset(seed=seed)`` in an env of its own."""
    if isinstance(env.unwrapped, ZeroOutVectorEnv):
        return [row for seed in seeds for row in row_seeds(seed, num_envs)]
    return [seed + row for seed in seeds for row in range(num_envs)]  # Gymnasium's vector envs


def check_spaces(env_id: str, observation_space: gym.Space, action_space: gym.Space) -> None:
    """Our agents handle flat Box observations and Discrete actions; say so clearly otherwise."""
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(f"{env_id}: needs a flat Box observation space, got {observation_space}")
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"{env_id}: needs a Discrete action space, got {action_space}")


class NumpyVecEnvAdapter(VectorEnv):
    """Wraps a numpy ``SAME_STEP`` vector env so it takes and returns tensors on ``device``.

    It also fills ``final_obs`` for every row, as :class:`~rlzero.envs.ZeroOutVectorEnv` does natively.
    """

    def __init__(self, env: VectorEnv, device: torch.device) -> None:
        if env.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
            raise ValueError("NumpyVecEnvAdapter needs a vector env in AutoresetMode.SAME_STEP")
        self.env, self.device = env, device
        self.num_envs = env.num_envs
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self.metadata = env.metadata

    def _tensor(self, array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        """A copy on ``device``: never a view of an array that this adapter goes on to change."""
        return torch.tensor(array, dtype=dtype, device=self.device)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        obs, _ = self.env.reset(seed=seed, options=options)
        return self._tensor(obs), {}

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        obs, rewards, terminated, truncated, info = self.env.step(actions.cpu().numpy())
        done = terminated | truncated
        final_obs = obs.copy()
        for i in np.flatnonzero(done):
            final_obs[i] = info["final_obs"][i]
        out = {"final_obs": self._tensor(final_obs), "_final_obs": self._tensor(done)}
        return (
            self._tensor(obs),
            self._tensor(rewards, torch.float32),
            self._tensor(terminated),
            self._tensor(truncated),
            out,
        )

    def close(self, **kwargs: Any) -> None:
        self.env.close(**kwargs)
