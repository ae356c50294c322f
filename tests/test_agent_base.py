"""The training skeleton: episode statistics, a second learn that continues, predict on the input's device."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import rlzero  # noqa: F401
from rlzero.agents import DQN, PPO, Reinforce
from rlzero.agents.base import Agent, EpisodeStats
from rlzero.agents.registry import agent_class
from rlzero.agents.vec_env import make_vec_env
from rlzero.envs.streams import row_seeds
from rlzero.monitors import EvalCallback

DQN_TINY = {"num_envs": 16, "learning_starts": 64, "batch_size": 32, "buffer_size": 10_000}
PPO_TINY = {"num_envs": 32, "rollout_steps": 16}


# ---------------------------------------------------------------- episode statistics
def test_episode_stats_on_the_batched_env() -> None:
    env = make_vec_env("ZeroOutFewestSteps-v0", 3, torch.device("cpu"))
    boards = torch.tensor([[1, 0, 0, 0, 0, 0, 0, 0, 0, 2], [0] * 10, [3] + [0] * 9])
    _, info = env.reset(seed=0, options={"boards": boards})
    stats = EpisodeStats(1, 3, torch.device("cpu"))
    stats.reset(info)
    # Every pick pays -1. Board 0: a wasted pick, then its two nonzero slots (return -3 against an
    # optimum of -2: normalized 0.5); board 1 starts all zero (ends at once, no normalized return);
    # board 2 is cleared by its first pick (optimal: 1.0). Boards 1 and 2 then start new episodes,
    # which have not ended when the statistics are read.
    _, rewards, terminated, truncated, info = env.step(torch.tensor([1, 0, 0]))
    stats.step(rewards, terminated, truncated, info)
    first = {"charts/episodic_return": -1.0, "charts/episodic_length": 1.0, "charts/normalized_return": 1.0}
    assert stats.pop() == [first]
    for actions in ([0, 5, 5], [9, 5, 5]):
        _, rewards, terminated, truncated, info = env.step(torch.tensor(actions))
        stats.step(rewards, terminated, truncated, info)
    (metrics,) = stats.pop()
    assert metrics["charts/episodic_return"] == -3.0
    assert metrics["charts/episodic_length"] == 3.0
    assert metrics["charts/normalized_return"] == pytest.approx(0.5)
    assert stats.pop() == [{}]  # popped: nothing since


def test_episode_stats_exact_figures() -> None:
    stats = EpisodeStats(1, 2, torch.device("cpu"))
    stats.reset({"optimal_return": torch.tensor([2, 0])})
    no = torch.tensor([False, False])
    stats.step(torch.tensor([1.0, -1.0]), no, no, {"optimal_return": torch.tensor([2, 0])})
    stats.step(
        torch.tensor([-1.0, -1.0]), no, torch.tensor([False, True]), {"optimal_return": torch.tensor([2, 5])}
    )
    # Env 1 ended (truncated) with return -2 over 2 steps and no optimum: no normalized return.
    assert stats.pop() == [{"charts/episodic_return": -2.0, "charts/episodic_length": 2.0}]
    stats.step(
        torch.tensor([1.0, 1.0]), torch.tensor([True, False]), no, {"optimal_return": torch.tensor([3, 5])}
    )
    stats.step(
        torch.tensor([9.0, 4.0]), no, torch.tensor([False, True]), {"optimal_return": torch.tensor([3, 5])}
    )
    (metrics,) = stats.pop()
    # Env 0: return 1 over 3 steps against 2 (normalized 0.5); env 1: return 5 over 2 steps against 5.
    assert metrics["charts/episodic_return"] == 3.0
    assert metrics["charts/episodic_length"] == 2.5
    assert metrics["charts/normalized_return"] == pytest.approx((0.5 + 1.0) / 2)


# ---------------------------------------------------------------- learn continues
def record_resets(agent: Agent) -> list[Any]:
    """Make ``agent.env.reset`` record the seed of each call (None, or the seed of every board)."""
    seeds: list[Any] = []
    real_reset = agent.env.reset

    def reset(*, seed: Any = None, options: Any = None) -> Any:
        seeds.append(seed)
        return real_reset(seed=seed, options=options)

    agent.env.reset = reset  # type: ignore[method-assign]
    return seeds


def test_second_dqn_learn_continues_where_the_first_stopped() -> None:
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", **DQN_TINY)
    seeds = record_resets(agent)
    agent.learn(800)
    steps, stored, updates = agent.num_timesteps, agent.buffer.size, agent.n_updates
    first_rows = agent.buffer.obs[0, :stored].clone()
    epsilon = float(agent.exploration_rate)
    assert seeds == [row_seeds(0, 16)] and epsilon == pytest.approx(agent.config.exploration_final_eps)

    agent.learn(800, reset_num_timesteps=False)
    assert agent.num_timesteps == steps + 800  # 800 is a whole number of 16-board iterations
    assert agent.buffer.size == stored + 800 and torch.equal(agent.buffer.obs[0, :stored], first_rows)
    assert agent.n_updates > updates
    assert seeds == [row_seeds(0, 16)]  # the env went on from where it was: neither reset nor reseeded
    assert agent.exploration_rate <= epsilon  # exploration did not restart at 1


def test_dqn_learn_with_reset_num_timesteps_restarts_the_schedules_not_the_knowledge() -> None:
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", **DQN_TINY)
    seeds = record_resets(agent)
    agent.learn(800)
    stored = agent.buffer.size
    explored: list[float] = []
    real_step = agent._collect_step
    agent._collect_step = lambda: (real_step(), explored.append(float(agent.exploration_rate)))[0]  # type: ignore[method-assign]
    agent.learn(160)  # SB3's default: count and schedules from 0, on freshly reset (unseeded) boards
    assert agent.num_timesteps == 160
    assert explored[0] == pytest.approx(agent.config.exploration_initial_eps)
    assert agent.buffer.size == stored + 160
    assert seeds == [row_seeds(0, 16), None]


def test_second_ppo_learn_continues_where_the_first_stopped() -> None:
    agent = PPO("ZeroOut-v0", seed=0, device="cpu", **PPO_TINY)
    seeds = record_resets(agent)
    agent.learn(2_048)
    steps = agent.num_timesteps
    rates: list[float] = []
    real_train = agent._train

    def train(rollout: Any) -> Any:
        scalars = real_train(rollout)
        rates.append(float(agent.optimizer.lr[0]))
        return scalars

    agent._train = train  # type: ignore[method-assign]
    agent.learn(2_048, reset_num_timesteps=False)
    assert agent.num_timesteps == steps + 2_048
    assert seeds == [row_seeds(0, 32)]  # reset once, seeded: each rollout goes on from where the last stopped
    # The learning rate decays over the combined budget (SB3's progress: steps / total): the second
    # call starts about halfway down, never at the initial rate, and keeps decaying.
    assert rates[0] < 0.6 * agent.config.learning_rate
    assert rates == sorted(rates, reverse=True) and rates[-1] < rates[0]


def test_reinforce_plays_every_batch_from_fresh_episodes_seeded_once() -> None:
    agent = Reinforce("ZeroOut-v0", seed=0, device="cpu", num_envs=32)
    seeds = record_resets(agent)
    agent.learn(3_000)
    batches = len(seeds)
    assert seeds[0] == row_seeds(0, 32) and seeds[1:] == [None] * (batches - 1) and batches > 2
    agent.learn(1_000, reset_num_timesteps=False)
    assert seeds[batches:] and all(seed is None for seed in seeds[batches:])


# ---------------------------------------------------------------- predict
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
]


@pytest.mark.parametrize("agent_device", DEVICES)
@pytest.mark.parametrize("agent_class", [DQN, Reinforce, PPO])
def test_predict_answers_on_the_input_device(agent_class: type[Agent], agent_device: str) -> None:
    agent = agent_class("ZeroOut-v0", seed=0, device=agent_device, num_envs=4)
    obs = np.random.default_rng(0).integers(0, 10, size=(5, 10))
    as_numpy, _ = agent.predict(obs)
    assert isinstance(as_numpy, np.ndarray) and as_numpy.shape == (5,)
    as_tensor, _ = agent.predict(torch.as_tensor(obs))  # a CPU tensor, whatever the agent's device
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.device.type == "cpu"
    assert as_tensor.tolist() == as_numpy.tolist()


def test_episode_stats_forget_the_episodes_before_a_reset() -> None:
    stats = EpisodeStats(1, 2, torch.device("cpu"))
    stats.reset({})
    stats.step(torch.ones(2), torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool), {})
    stats.reset({})  # a new learn: the two episodes above belong to the one before
    assert stats.pop() == [{}]


def test_a_report_or_evaluation_interval_below_one_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="log_interval must be >= 1 env step, got 0"):
        DQN("ZeroOut-v0", seed=0, device="cpu", **DQN_TINY).learn(64, log_interval=0)
    with pytest.raises(ValueError, match="eval_freq and n_episodes must be >= 1, got 0 and 100"):
        EvalCallback("ZeroOut-v0", eval_freq=0)


def test_an_eval_callback_starts_a_curve_per_learn_and_evaluates_once_past_the_budget() -> None:
    callback = EvalCallback("ZeroOut-v0", eval_freq=16, n_episodes=2)
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", **DQN_TINY)  # 16 env steps an iteration
    agent.learn(100, callback=callback)  # the last iteration ends at 112, past the budget
    assert [row["env_steps"] for row in callback.history] == [16, 32, 48, 64, 80, 96, 112]
    agent.learn(32, callback=callback)
    assert [row["env_steps"] for row in callback.history] == [16, 32]
    clock = [row["wall_time_s"] for row in callback.history]
    assert clock == sorted(clock) and clock[0] >= 0  # training time only goes forward


def test_sb3_s_last_rollout_past_a_small_budget_is_not_evaluated_step_by_step() -> None:
    callback = EvalCallback("ZeroOut-v0", eval_freq=1, n_episodes=1)
    agent_class("sb3-ppo")("ZeroOut-v0", seed=0, device="cpu", n_steps=64).learn(10, callback=callback)
    assert [row["env_steps"] for row in callback.history] == [*range(1, 10), 64]
