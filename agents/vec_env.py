"""Batched environments as torch tensors on the agent's device, whatever the env id.

ZeroOut ids use the native :class:`~rlzero.envs.ZeroOutVectorEnv` (no host/device copies);
CartPole-v1 runs on Gymnasium's numpy-batched ``CartPoleVectorEnv`` (:class:`CartPoleMembers`, one per
member of a group); any other env with a Box observation and a Discrete action runs in Gymnasium's
``SyncVectorEnv``. The numpy ones sit behind :class:`NumpyVecEnvAdapter`, which speaks the same tensor
protocol. A group of ``members`` agents gets one env of ``members * num_envs`` rows, member by member.

The protocol agents rely on: ``reset(seed) -> (obs, info)`` and ``step(actions) -> (obs, reward,
terminated, truncated, info)`` with tensors on ``device``, and in ``info``: ``final_obs`` (every row: the
state right after the action, before any reset) and, where the env knows it, ``optimal_return`` (each
row's current episode's optimum, for the normalized return in the logs). Autoreset is ``SAME_STEP``, or
``DISABLED`` for an agent that plays one episode per row and resets every row itself: a row that ended
may then be stepped on until that reset, its steps belonging to no episode (they draw no random
numbers, so a row's episodes never depend on how long the others took).
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from rlzero.envs import VECTOR_ENTRY_POINT, ZeroOutVectorEnv
from rlzero.envs.streams import row_seeds

CARTPOLE_VECTOR_ENTRY_POINT = "gymnasium.envs.classic_control.cartpole:CartPoleVectorEnv"


def make_vec_env(
    env_id: str,
    num_envs: int,
    device: torch.device,
    env_kwargs: dict[str, Any] | None = None,
    members: int = 1,
    autoreset_mode: AutoresetMode = AutoresetMode.SAME_STEP,
) -> VectorEnv:
    """Build ``members * num_envs`` copies of ``env_id`` that take and return tensors on ``device``, in
    ``autoreset_mode`` (``SAME_STEP`` or ``DISABLED``)."""
    if autoreset_mode not in (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
        raise ValueError(f"autoreset_mode must be SAME_STEP or DISABLED, got {autoreset_mode}")
    env_kwargs = dict(env_kwargs or {})
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"unknown env id {env_id!r}: {exc}") from None
    if spec.vector_entry_point == VECTOR_ENTRY_POINT:
        # Our agents' actions are in range by construction (argmax, sampling): no check, no host sync.
        env = gym.make_vec(
            env_id,
            members * num_envs,
            vectorization_mode="vector_entry_point",
            device=device,
            autoreset_mode=autoreset_mode,
            validate_actions=False,
            **env_kwargs,
        )
    elif spec.vector_entry_point == CARTPOLE_VECTOR_ENTRY_POINT:
        env = NumpyVecEnvAdapter(
            CartPoleMembers(env_id, members, num_envs, env_kwargs, autoreset_mode), device
        )
    else:
        env = NumpyVecEnvAdapter(
            gym.make_vec(
                env_id,
                members * num_envs,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": autoreset_mode},
                **env_kwargs,
            ),
            device,
        )
    check_spaces(env_id, env.single_observation_space, env.single_action_space)
    return env


def episode_limit(env: VectorEnv) -> int | None:
    """The step limit of every episode of an env built by :func:`make_vec_env` (None: unlimited)."""
    inner = env.env if isinstance(env, NumpyVecEnvAdapter) else env
    if isinstance(inner.unwrapped, ZeroOutVectorEnv):
        return inner.unwrapped.max_steps
    if isinstance(inner, CartPoleMembers):
        limit = inner.env.max_episode_steps
        return int(limit) if limit is not None else None
    spec = typing.cast(SyncVectorEnv, inner).envs[0].spec
    return spec.max_episode_steps if spec is not None else None


def reset_seeds(env: VectorEnv, seeds: Sequence[int], num_envs: int) -> list[int]:
    """What ``env.reset(seed=...)`` takes to seed each member's ``num_envs`` rows with its seed, as an
    env of its own seeded with it would be: a seed per row (per member for :class:`CartPoleMembers`)."""
    if isinstance(env.unwrapped, ZeroOutVectorEnv):
        return [row for seed in seeds for row in row_seeds(seed, num_envs)]
    if isinstance(env, NumpyVecEnvAdapter) and isinstance(env.env, CartPoleMembers):
        return list(seeds)
    return [seed + row for seed in seeds for row in range(num_envs)]  # Gymnasium's vector envs


def check_spaces(env_id: str, observation_space: gym.Space, action_space: gym.Space) -> None:
    """Our agents handle flat Box observations and Discrete actions; say so clearly otherwise."""
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(f"{env_id}: needs a flat Box observation space, got {observation_space}")
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"{env_id}: needs a Discrete action space, got {action_space}")


class NumpyVecEnvAdapter(VectorEnv):
    """Wraps a numpy ``SAME_STEP`` or ``DISABLED`` vector env so it takes and returns tensors on ``device``.

    It also fills ``final_obs`` for every row, as :class:`~rlzero.envs.ZeroOutVectorEnv` does natively.
    Under ``DISABLED`` it steps only the rows of a ``SyncVectorEnv`` that have not ended since their
    reset (Gymnasium's refuses to step the others); a row that ended repeats its last observation with
    reward 0 and its flags until it is reset.
    """

    def __init__(self, env: VectorEnv, device: torch.device) -> None:
        self.autoreset_mode = env.metadata.get("autoreset_mode")
        if self.autoreset_mode not in (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
            raise ValueError("NumpyVecEnvAdapter needs a vector env in AutoresetMode.SAME_STEP or DISABLED")
        self.env, self.device = env, device
        self.num_envs = env.num_envs
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self.metadata = env.metadata
        self.steps_live_rows = self.autoreset_mode is AutoresetMode.DISABLED and isinstance(
            env, SyncVectorEnv
        )
        self.obs: np.ndarray = np.zeros(env.observation_space.shape or (), np.float32)
        self.ended, self.terminated, self.truncated = (np.zeros(self.num_envs, dtype=bool) for _ in range(3))

    def _tensor(self, array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        """A copy on ``device``: never a view of an array that this adapter goes on to change."""
        return torch.tensor(array, dtype=dtype, device=self.device)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        mask = (options or {}).get("reset_mask")
        obs, _ = self.env.reset(seed=seed, options=options)
        self.obs = obs.copy()
        self.ended[slice(None) if mask is None else mask] = False
        return self._tensor(obs), {}

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        if self.steps_live_rows:
            obs, rewards, terminated, truncated = self._step_live_rows(actions.cpu().numpy())
            final_obs = obs
        else:
            obs, rewards, terminated, truncated, info = self.env.step(actions.cpu().numpy())
            final_obs = obs.copy()
            if "final_obs" in info:
                for i in np.flatnonzero(terminated | truncated):
                    final_obs[i] = info["final_obs"][i]
        out = {"final_obs": self._tensor(final_obs), "_final_obs": self._tensor(terminated | truncated)}
        return (
            self._tensor(obs),
            self._tensor(rewards, torch.float32),
            self._tensor(terminated),
            self._tensor(truncated),
            out,
        )

    def _step_live_rows(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        envs = typing.cast(SyncVectorEnv, self.env).envs
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        for i in np.flatnonzero(~self.ended):
            self.obs[i], rewards[i], self.terminated[i], self.truncated[i], _ = envs[i].step(actions[i])
        self.ended |= self.terminated | self.truncated
        return self.obs, rewards, self.terminated.copy(), self.truncated.copy()

    def close(self, **kwargs: Any) -> None:
        self.env.close(**kwargs)


class CartPoleMembers(VectorEnv):
    """``members * num_envs`` CartPoles on Gymnasium's numpy-batched ``CartPoleVectorEnv``, in
    ``SAME_STEP`` (or ``DISABLED``) autoreset, each member's poles drawn from a generator of its own;
    numpy in and out, like Gymnasium's vector envs.

    One ``CartPoleVectorEnv`` steps every pole at once (the dynamics are elementwise); only the draws
    of new poles are per member, so a member's episodes depend on its own seed alone, as in an env of
    its own. Gymnasium's batched CartPole would reset a pole whose episode ended on the *next* step,
    ignoring that step's action (``NEXT_STEP``), from one generator for all; here each ended pole gets
    its new state within the step that ended it, drawn as the env's own reset draws it (uniform in
    ``[low, high]``), and the env forgets it ended. ``info["final_obs"]`` holds every row's state before
    any reset. The env's ``state``, ``steps``, ``prev_done``, ``low`` and ``high`` are read and written
    for that (gymnasium 1.x). Under ``DISABLED`` only ``reset`` draws new poles.
    """

    def __init__(
        self,
        env_id: str,
        members: int,
        num_envs: int,
        env_kwargs: dict[str, Any],
        autoreset_mode: AutoresetMode = AutoresetMode.SAME_STEP,
    ) -> None:
        self.metadata = {"autoreset_mode": autoreset_mode}
        # CartPoleVectorEnv: its internals are read and written below.
        self.env: Any = gym.make_vec(
            env_id, members * num_envs, vectorization_mode="vector_entry_point", **env_kwargs
        ).unwrapped
        self.members, self.rows = members, num_envs
        self.generators = [np.random.default_rng() for _ in range(members)]
        self.num_envs = members * num_envs
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.single_action_space
        self.observation_space, self.action_space = self.env.observation_space, self.env.action_space

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """``seed``: one per member (the generator of all its poles), or one int for member ``m`` to
        take ``seed + m``."""
        if seed is not None:
            one = isinstance(seed, (int, np.integer))
            seeds = [int(seed) + m for m in range(self.members)] if one else list(seed)  # type: ignore[arg-type]
            self.generators = [seeding.np_random(int(s))[0] for s in seeds]
        self.env.reset(options=options)
        for member, generator in enumerate(self.generators):
            self._draw(member, generator, np.arange(self.rows))
        return self.env.state.T.astype(np.float32), {}

    def _draw(self, member: int, generator: np.random.Generator, rows: np.ndarray) -> None:
        """New poles for ``rows`` of ``member``, as the env's reset draws them."""
        columns = member * self.rows + rows
        self.env.state[:, columns] = generator.uniform(self.env.low, self.env.high, size=(4, len(rows)))
        self.env.steps[columns] = 0
        self.env.prev_done[columns] = False

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        final_obs, rewards, terminated, truncated, _ = self.env.step(np.asarray(actions))
        if self.metadata["autoreset_mode"] is AutoresetMode.DISABLED:
            # An ended pole swings on (the batched env's own reset of it draws from the env's
            # generator, not a member's) until the agent resets every pole.
            return final_obs, rewards, terminated, truncated, {"final_obs": final_obs}
        ended = (terminated | truncated).reshape(self.members, self.rows)
        for member in np.flatnonzero(ended.any(axis=1)).tolist():
            self._draw(member, self.generators[member], np.flatnonzero(ended[member]))
        obs = self.env.state.T.astype(np.float32)
        return obs, rewards, terminated, truncated, {"final_obs": final_obs}
