"""The presets beyond CartPole: every one is a valid config, and MountainCar-v0's normalise observations,
build, train a few iterations through the CLI's path (``make_agent``, past DQN's ``learning_starts``) and
evaluate. How well they learn is measured in docs/tuning.md and on the benchmarks page; these runs are far
too short for it."""

from __future__ import annotations

import pytest

import rlzero
from rlzero.agents.presets import PRESETS, make_agent
from rlzero.agents.registry import FROM_SCRATCH, agent_class

ENV_ID = "MountainCar-v0"


@pytest.mark.parametrize("agent", FROM_SCRATCH)
def test_every_preset_is_a_valid_config_and_the_classic_envs_have_theirs(agent: str) -> None:
    for preset in PRESETS[agent].values():
        agent_class(agent).check_hparams(preset.hparams, [{}])
    if agent != "reinforce":
        assert {"Acrobot-v1", "MountainCar-v0", "LunarLander-v3"} <= set(PRESETS[agent])


@pytest.mark.parametrize("agent", ["dqn", "ppo"])
def test_a_mountain_car_preset_normalises_trains_and_evaluates(agent: str) -> None:
    assert PRESETS[agent][ENV_ID].hparams["normalize_obs"] is True
    trained = make_agent(agent, ENV_ID, device="cpu", seed=0)
    cfg = trained.config
    trained.learn(getattr(cfg, "learning_starts", 0) + 4 * cfg.num_envs * getattr(cfg, "rollout_steps", 16))
    assert trained.obs_normalizer is not None and trained.obs_normalizer.count.item() > trained.num_timesteps
    result = rlzero.evaluate(trained, ENV_ID, n_episodes=2)
    assert result.n_episodes == 2 and result.mean_length > 0
