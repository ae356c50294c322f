"""The numpy adapter (CartPole and any non-ZeroOut env) speaks the same tensor protocol as ZeroOut."""

import torch

import rlzero  # noqa: F401
from rlzero.agents.vec_env import make_vec_env


def test_adapter_reports_true_episode_statistics_and_final_observations():
    env = make_vec_env("CartPole-v1", 4, torch.device("cpu"))
    obs, _ = env.reset(seed=0)
    lengths = torch.zeros(4, dtype=torch.int64)
    finished = 0
    for _ in range(60):
        next_obs, rewards, terminated, truncated, info = env.step(torch.zeros(4, dtype=torch.int64))
        lengths += 1
        assert torch.equal(rewards, torch.ones(4))
        done = terminated | truncated
        assert torch.equal(info["_episode"], done)
        # Rows that go on: the final observation is the next one; rows that ended: the terminal state.
        assert torch.equal(info["final_obs"][~done], next_obs[~done])
        for i in done.nonzero().flatten().tolist():
            assert info["episode"]["l"][i] == lengths[i]
            assert info["episode"]["r"][i] == float(lengths[i])
            assert abs(float(info["final_obs"][i][2])) > 0.2 or abs(float(info["final_obs"][i][0])) > 2.4
            lengths[i] = 0
            finished += 1
        obs = next_obs
    assert finished >= 4
    assert obs.dtype == torch.float32
