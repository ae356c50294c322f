"""The evaluation protocol: one function for custom agents, SB3 models and scripted policies.

``python -m rlzero.eval --checkpoint PATH`` applies it to a saved agent (see :mod:`rlzero.eval`).

``evaluate(policy, env_id)`` plays ``n_episodes`` episodes with deterministic actions on fresh seeds
(``seed``, ``seed + 1``, ...; the default lies far from the small training seeds) and reports mean
return, mean normalized return (``1 - regret / |optimal_return|`` of each episode, which is
return / optimal where the optimum is positive, skipping an all-zero start; 1.0 means optimal on every
ZeroOut id, including ``ZeroOutFewestSteps-v0`` whose optimum is negative), mean length and success
rate (share of episodes that reach the optimum). "Solved" means a mean normalized return >= 0.99
over 100 episodes. Envs without ``optimal_return`` in their reset info (CartPole-v1, say) report
return and length only.

``evaluate_members(agent, env_id)`` applies the protocol to every member of a group of seeds (see
:mod:`rlzero.agents.base`) at once: each member plays the very episodes ``evaluate`` would give it alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlzero.agents.memory import ENV_ROW_BYTES, check_fits
from rlzero.agents.vec_env import CARTPOLE_VECTOR_ENTRY_POINT
from rlzero.envs import VECTOR_ENTRY_POINT, normalized_return

EVAL_SEED = 1_000_000
"""First evaluation seed: episode i starts from seed EVAL_SEED + i, never a training seed."""


@dataclasses.dataclass(frozen=True)
class EvalResult:
    n_episodes: int
    mean_return: float
    mean_length: float
    mean_normalized_return: float | None
    success_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def as_action_fn(policy: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Anything with SB3's ``predict`` (our agents, SB3 models), or a callable ``obs_batch -> actions``."""
    if hasattr(policy, "predict"):
        return lambda obs: np.asarray(policy.predict(obs, deterministic=True)[0])
    if callable(policy):
        return lambda obs: np.asarray(policy(obs))
    raise TypeError(f"policy must have a predict method or be callable, got {type(policy).__name__}")


def evaluate(
    policy: Any,
    env_id: str,
    n_episodes: int = 100,
    seed: int = EVAL_SEED,
    env_kwargs: dict[str, Any] | None = None,
) -> EvalResult:
    """Play ``n_episodes`` episodes (one per env copy, stepped together) with deterministic actions."""
    return play(as_action_fn(policy), env_id, 1, n_episodes, seed, env_kwargs)[0]


def evaluate_members(
    agent: Any,
    env_id: str,
    n_episodes: int = 100,
    seed: int = EVAL_SEED,
    env_kwargs: dict[str, Any] | None = None,
) -> list[EvalResult]:
    """:func:`evaluate` for each member of a group (anything without ``n_members`` is one member), all
    members stepped together."""
    members = getattr(agent, "n_members", 1)
    if members == 1:
        return [evaluate(agent, env_id, n_episodes, seed, env_kwargs)]

    def act(obs: np.ndarray) -> np.ndarray:
        grouped = obs.reshape(members, n_episodes, *obs.shape[1:])
        return np.asarray(agent.predict(grouped, deterministic=True)[0])

    return play(act, env_id, members, n_episodes, seed, env_kwargs)


def play(
    act: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    members: int,
    n_episodes: int,
    seed: int,
    env_kwargs: dict[str, Any] | None,
) -> list[EvalResult]:
    """``members`` blocks of ``n_episodes`` episodes, block ``m``'s episode ``i`` starting from the state
    ``reset(seed=seed + i)`` of the env gives, all stepped together with ``act`` (every copy's
    observation in, one action per copy out)."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    rows = members * n_episodes
    what = f"evaluating {members} member(s) x {n_episodes:,} episodes at once"
    check_fits(rows * ENV_ROW_BYTES, what, torch.device("cpu"))
    envs, obs, optimal = start_episodes(env_id, members, [seed + i for i in range(n_episodes)], env_kwargs)
    try:
        returns = np.zeros(rows)
        lengths = np.zeros(rows, dtype=np.int64)
        running = np.ones(rows, dtype=bool)
        while running.any():
            obs, rewards, terminated, truncated, _ = envs.step(act(np.asarray(obs)).reshape(rows))
            returns += np.asarray(rewards) * running
            lengths += running
            running &= ~(np.asarray(terminated) | np.asarray(truncated))
    finally:
        envs.close()
    blocks = [slice(m * n_episodes, (m + 1) * n_episodes) for m in range(members)]
    return [eval_result(returns[b], lengths[b], None if optimal is None else optimal[b]) for b in blocks]


def start_episodes(
    env_id: str, members: int, seeds: list[int], env_kwargs: dict[str, Any] | None
) -> tuple[Any, Any, np.ndarray | None]:
    """Env copies for ``members`` blocks of one episode per seed, reset: the envs, the observations and
    each copy's ``optimal_return`` (None where the env has none).

    ZeroOut ids play on the batched env, and CartPole-v1 on Gymnasium's numpy-batched
    ``CartPoleVectorEnv`` (its ``state`` set), each copy started from the state the single env's reset
    draws from its seed: the episodes of a ``SyncVectorEnv`` seeded alike, at a fraction of the cost for
    many copies. Any other env plays on Gymnasium's ``SyncVectorEnv``, one seed per copy.
    """
    kwargs = dict(env_kwargs or {})
    rows = members * len(seeds)
    if gym.spec(env_id).vector_entry_point == VECTOR_ENTRY_POINT:
        single = gym.make(env_id, **kwargs)
        try:
            starts = [single.reset(seed=s) for s in seeds]
        finally:
            single.close()
        boards = np.tile(np.stack([board for board, _ in starts]), (members, 1))
        optimal: np.ndarray | None = np.tile([float(info["optimal_return"]) for _, info in starts], members)
        # Actions checked (the policy may be any callable): on the CPU the check costs no sync.
        envs = gym.make_vec(env_id, rows, vectorization_mode="vector_entry_point", **kwargs)
        obs, _ = envs.reset(options={"boards": boards})
        return envs, obs, optimal
    if gym.spec(env_id).vector_entry_point == CARTPOLE_VECTOR_ENTRY_POINT:
        pole: Any = gym.make(env_id, **kwargs)
        try:
            states = np.stack([(pole.reset(seed=s), pole.unwrapped.state)[1] for s in seeds])
        finally:
            pole.close()
        envs = gym.make_vec(env_id, rows, vectorization_mode="vector_entry_point", **kwargs)
        envs.reset(seed=seeds[0])
        batched: Any = envs.unwrapped
        batched.state = np.tile(states, (members, 1)).T.astype(np.float64)
        return envs, batched.state.T.astype(np.float32), None
    envs = gym.make_vec(env_id, rows, vectorization_mode="sync", **kwargs)
    obs, info = envs.reset(seed=seeds * members)  # type: ignore[arg-type]  # a seed per copy: Gymnasium's convention
    optimal = np.asarray(info["optimal_return"], dtype=np.float64) if "optimal_return" in info else None
    return envs, obs, optimal


def eval_result(returns: np.ndarray, lengths: np.ndarray, optimal: np.ndarray | None) -> EvalResult:
    """The figures of one policy's episodes."""
    normalized = success = None
    if optimal is not None:
        scored = optimal != 0
        if scored.any():
            normalized = float(np.mean(normalized_return(returns[scored], optimal[scored])))
            success = float(np.mean(returns[scored] >= optimal[scored]))
    return EvalResult(
        n_episodes=len(returns),
        mean_return=float(returns.mean()),
        mean_length=float(lengths.mean()),
        mean_normalized_return=normalized,
        success_rate=success,
    )


def play_episodes(policy: Any, env: gym.Env, seeds: Iterable[int], render: bool = True) -> list[Any]:
    """Play one deterministic episode per seed on ``env``; return ``env.render()`` after each reset and step.

    With ``render=False`` nothing is rendered here (a wrapper such as ``RecordVideo`` renders for itself).
    """
    act = as_action_fn(policy)
    frames = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        done = False
        if render:
            frames.append(env.render())
        while not done:
            obs, _, terminated, truncated, _ = env.step(act(obs[None])[0])
            done = terminated or truncated
            if render:
                frames.append(env.render())
    return frames


def render_episode(policy: Any, env_id: str, seed: int = EVAL_SEED, env_kwargs: dict | None = None) -> str:
    """One deterministic episode rendered as text, a frame per line; a ValueError for an env that has
    no text frames."""
    env = gym.make(env_id, **(env_kwargs or {}))
    modes = env.metadata.get("render_modes", [])
    env.close()
    if "ansi" not in modes:
        raise ValueError(f"{env_id} does not render as text (its render modes: {', '.join(modes)})")
    env = gym.make(env_id, render_mode="ansi", **(env_kwargs or {}))
    try:
        return "\n".join(str(f) for f in play_episodes(policy, env, [seed]))
    finally:
        env.close()


def format_result(result: EvalResult) -> str:
    """One readable line of the figures that exist."""
    parts = [f"episodes {result.n_episodes}", f"mean return {result.mean_return:.3f}"]
    if result.mean_normalized_return is not None and not math.isnan(result.mean_normalized_return):
        parts.append(f"normalized {result.mean_normalized_return:.3f}")
    if result.success_rate is not None:
        parts.append(f"success {result.success_rate:.2f}")
    parts.append(f"mean length {result.mean_length:.1f}")
    return ", ".join(parts)
