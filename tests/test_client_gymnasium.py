"""Gymnasium's own wrappers on the ZeroOut envs, built as Gymnasium's docs build them.

The batched env returns torch tensors; Gymnasium's vector wrappers work on numpy arrays, so they sit on
``ArrayConversion(env, env_xp=torch, target_xp=numpy)``, which needs ``gymnasium[array-api]`` (skipped
where array-api-compat is not installed).
"""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vector_wrappers

import rlzero

gym.register_envs(rlzero)
pytest.importorskip("array_api_compat", reason="ArrayConversion needs gymnasium[array-api]")

N = 8


def numpy_vec_env(mode: AutoresetMode, **kwargs) -> gym.vector.VectorEnv:
    env = gym.make_vec(
        "ZeroOut-v0", num_envs=N, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs
    )
    return vector_wrappers.ArrayConversion(env, env_xp=torch, target_xp=np)


def test_numpy_bridge_gives_arrays_and_takes_them():
    bridged, plain = numpy_vec_env(AutoresetMode.SAME_STEP), numpy_vec_env(AutoresetMode.SAME_STEP).env
    obs, info = bridged.reset(seed=3)
    plain_obs, _ = plain.reset(seed=3)
    assert isinstance(obs, np.ndarray) and obs.dtype == np.int64
    assert np.array_equal(obs, plain_obs.numpy())
    assert all(isinstance(value, np.ndarray) for value in info.values())
    actions = np.arange(N) % 10
    obs, reward, terminated, truncated, info = bridged.step(actions)  # numpy actions, converted back
    plain_obs, plain_reward, *_ = plain.step(torch.as_tensor(actions))
    assert np.array_equal(obs, plain_obs.numpy()) and np.array_equal(reward, plain_reward.numpy())
    assert reward.dtype == np.float32 and terminated.dtype == truncated.dtype == np.bool_
    assert info["final_obs"].dtype == np.int64 and info["_final_obs"].dtype == np.bool_


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=lambda m: m.name)
def test_record_episode_statistics_counts_true_episodes(mode):
    env = vector_wrappers.RecordEpisodeStatistics(numpy_vec_env(mode, max_steps=6))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    returns, lengths = np.zeros(N), np.zeros(N, dtype=int)
    restarting = np.zeros(N, dtype=bool)  # NEXT_STEP: this call restarts the board, outside any episode
    episodes = 0
    for _ in range(60):
        _, reward, terminated, truncated, info = env.step(rng.integers(0, 10, N))
        returns += np.where(restarting, 0, reward)
        lengths += ~restarting
        done = terminated | truncated
        if done.any():
            assert np.array_equal(info["_episode"], done)
            assert np.array_equal(info["episode"]["r"][done], returns[done])
            assert np.array_equal(info["episode"]["l"][done], lengths[done])
            episodes += int(done.sum())
        else:
            assert "episode" not in info
        returns[done], lengths[done] = 0, 0
        restarting = done if mode is AutoresetMode.NEXT_STEP else restarting
    assert episodes >= N * 5 and len(env.return_queue) == min(episodes, env.return_queue.maxlen)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED], ids=lambda m: m.name)
def test_observation_and_reward_wrappers_stack(mode):
    """The stack a CleanRL-style script builds (NormalizeObservation takes NEXT_STEP only)."""
    stats = vector_wrappers.RecordEpisodeStatistics(numpy_vec_env(mode, max_steps=6))
    next_step = mode is AutoresetMode.NEXT_STEP
    env = normalized = vector_wrappers.NormalizeObservation(stats) if next_step else stats
    env = vector_wrappers.DtypeObservation(vector_wrappers.NormalizeReward(env), np.float32)
    assert env.single_observation_space.dtype == np.float32
    obs, _ = env.reset(seed=0)
    episodes, rng = 0, np.random.default_rng(1)
    for _ in range(40):
        obs, reward, terminated, truncated, _ = env.step(rng.integers(0, 10, N))
        assert obs.dtype == np.float32 and obs.shape == (N, 10) and np.isfinite(obs).all()
        assert reward.shape == (N,) and np.isfinite(reward).all()
        done = terminated | truncated
        episodes += int(done.sum())
        if mode is AutoresetMode.DISABLED and done.any():
            obs, _ = env.reset(options={"reset_mask": done})
    assert episodes >= N * 5 and len(stats.return_queue) == min(episodes, stats.return_queue.maxlen)
    if next_step:
        # The running mean has moved from the start boards' (4.5 an entry) towards the emptier boards'.
        assert 1.0 < normalized.obs_rms.mean.mean() < 4.5


def test_wrappers_refuse_what_gymnasium_refuses():
    """Gymnasium's vector observation wrappers read the env's own mode (metadata) and refuse SAME_STEP."""
    with pytest.raises(ValueError, match="NEXT_STEP or DISABLED"):
        vector_wrappers.DtypeObservation(numpy_vec_env(AutoresetMode.SAME_STEP), np.float32)
    with pytest.raises(ValueError, match="NEXT_STEP"):
        vector_wrappers.NormalizeObservation(numpy_vec_env(AutoresetMode.DISABLED))


def test_float32_observations_for_a_single_env():
    env = gym.wrappers.DtypeObservation(gym.make("ZeroOut-v0"), np.float32)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.dtype == np.float32
    assert env.observation_space.contains(obs)
