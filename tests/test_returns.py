"""Discounted sums back along time on a crafted rollout: REINFORCE's reward-to-go and PPO's GAE."""

from __future__ import annotations

import torch

from rlzero.agents.returns import gae_advantages, reward_to_go

# A crafted rollout, 5 steps (rows) of 3 envs (columns), gamma = 0.5.
#   env 0: an episode terminates at t=1; the next one (t=2..4) is still running at the horizon.
#   env 1: one episode terminates at the last step.
#   env 2: an episode terminates at t=0; the next one is truncated at t=3; a third starts at t=4.
REWARDS = torch.tensor(
    [
        [1.0, -1.0, 4.0],
        [2.0, -1.0, 1.0],
        [4.0, 1.0, 1.0],
        [8.0, 1.0, 1.0],
        [16.0, 1.0, 1.0],
    ]
)
TERMINATED = torch.zeros_like(REWARDS, dtype=torch.bool)
TERMINATED[0, 2] = TERMINATED[1, 0] = TERMINATED[4, 1] = True
TRUNCATED = torch.zeros_like(TERMINATED)
TRUNCATED[3, 2] = True
GAMMA = 0.5


def test_reward_to_go_restarts_at_episode_ends() -> None:
    expected = torch.tensor(
        [
            [1 + 0.5 * 2, -1 - 0.5 + 0.25 + 0.125 + 0.0625, 4.0],
            [2.0, -1 + 0.5 + 0.25 + 0.125, 1 + 0.5 + 0.25],
            # env 0's trailing episode is summed only up to the horizon (partial)
            [4 + 0.5 * 8 + 0.25 * 16, 1 + 0.5 + 0.25, 1 + 0.5],
            [8 + 0.5 * 16, 1 + 0.5, 1.0],
            [16.0, 1.0, 1.0],
        ]
    )
    torch.testing.assert_close(reward_to_go(REWARDS, TERMINATED | TRUNCATED, GAMMA), expected)


def test_gae_with_lambda_one_is_the_bootstrapped_return_and_zero_the_td_error() -> None:
    # V of the state each step started from, and of the one it led to: 10 for every state.
    values, next_values = torch.full_like(REWARDS, 10.0), torch.full_like(REWARDS, 10.0)
    # lambda = 0: the one-step TD error, nothing after a terminal step.
    td = REWARDS + GAMMA * 10.0 * ~TERMINATED - 10.0
    torch.testing.assert_close(
        gae_advantages(REWARDS, TERMINATED, TRUNCATED, values, next_values, GAMMA, 0.0), td
    )
    # lambda = 1: the discounted return, finished by V(s') where cut (truncated, or at the rollout's end).
    returns = torch.tensor(
        [
            [1 + 0.5 * 2, -1 - 0.5 + 0.25 + 0.125 + 0.0625, 4.0],
            [2.0, -1 + 0.5 + 0.25 + 0.125, 1 + 0.5 * 4],
            [4 + 0.5 * 18.5, 1 + 0.5 + 0.25, 1 + 0.5 * 6],
            [8 + 0.5 * 21, 1 + 0.5, 1 + 0.5 * 10],  # env 2 truncated here: bootstrapped
            [16 + 0.5 * 10, 1.0, 1 + 0.5 * 10],  # env 1 terminated at the last step: not
        ]
    )
    got = gae_advantages(REWARDS, TERMINATED, TRUNCATED, values, next_values, GAMMA, 1.0)
    torch.testing.assert_close(got, returns - 10.0)
    # A step both terminated and truncated is terminal: nothing is bootstrapped there.
    both = TRUNCATED.clone()
    both[1, 0] = True
    torch.testing.assert_close(
        gae_advantages(REWARDS, TERMINATED, both, values, next_values, GAMMA, 1.0), got
    )
