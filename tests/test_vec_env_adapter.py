"""The numpy adapter (CartPole and any non-ZeroOut env) speaks the same tensor protocol as ZeroOut."""

import torch

import rlzero  # noqa: F401
from rlzero.agents.base import EpisodeStats
from rlzero.agents.vec_env import make_vec_env


def test_adapter_gives_final_observations_and_true_episode_statistics():
    env = make_vec_env("CartPole-v1", 4, torch.device("cpu"))
    obs, info = env.reset(seed=0)
    stats = EpisodeStats(1, 4, torch.device("cpu"))
    stats.reset(info)
    lengths = torch.zeros(4, dtype=torch.int64)
    finished = []
    for _ in range(60):
        next_obs, rewards, terminated, truncated, info = env.step(torch.zeros(4, dtype=torch.int64))
        stats.step(rewards, terminated, truncated, info)
        lengths += 1
        assert torch.equal(rewards, torch.ones(4))
        done = terminated | truncated
        assert torch.equal(info["_final_obs"], done)
        # Rows that go on: the final observation is the next one; rows that ended: the terminal state.
        assert torch.equal(info["final_obs"][~done], next_obs[~done])
        for i in done.nonzero().flatten().tolist():
            assert abs(float(info["final_obs"][i][2])) > 0.2 or abs(float(info["final_obs"][i][0])) > 2.4
            finished.append(int(lengths[i]))
            lengths[i] = 0
        obs = next_obs
    assert len(finished) >= 4
    assert obs.dtype == torch.float32
    # Always pushing left: every episode's return is its length; CartPole knows no optimum.
    (metrics,) = stats.pop()
    mean = sum(finished) / len(finished)
    assert metrics["charts/episodic_return"] == metrics["charts/episodic_length"] == mean
    assert "charts/normalized_return" not in metrics
