"""Discounted sums back along time: the returns of the policy-gradient agents.

Tensors are time-first, ``(T, ...)``; a sum restarts wherever its continuation factor is 0 (an episode's
end), so it never crosses into the next episode.
"""

from __future__ import annotations

import torch


def discounted_sum(x: torch.Tensor, continues: torch.Tensor) -> torch.Tensor:
    """``S_t = x_t + continues_t * S_{t+1}`` for every ``t`` of ``(T, ...)`` tensors, with ``S_T = 0``."""
    sums = torch.empty_like(x)
    future = torch.zeros_like(x[0])
    for t in range(x.shape[0] - 1, -1, -1):
        future = torch.addcmul(x[t], continues[t], future)
        sums[t] = future
    return sums


def reward_to_go(rewards: torch.Tensor, dones: torch.Tensor, gamma: float | torch.Tensor) -> torch.Tensor:
    """Discounted reward-to-go ``G_t = r_t + gamma * G_{t+1}`` per column of ``(T, ...)`` rewards
    (``gamma``: a float, or a tensor that broadcasts against one row, such as one per member).

    The sum restarts after every step where ``dones`` is True; an episode still running at the last row
    is summed up to that row only.
    """
    return discounted_sum(rewards, (~dones).to(rewards.dtype) * gamma)


def gae_advantages(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    gamma: float | torch.Tensor,
    lam: float | torch.Tensor,
) -> torch.Tensor:
    """GAE's advantages (Schulman et al. 2016) of every step of a rollout, all ``(T, ...)``; ``values[t]``
    is V of the state step ``t`` started from and ``next_values[t]`` V of the state it led to.

    ``A_t = delta_t + gamma * lam * A_{t+1}`` with ``delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)``, where a
    terminated step's ``V(s_{t+1})`` is 0 and the sum restarts after every step that ended an episode,
    or at the rollout's last step: a truncated or unfinished episode is finished by its ``V(s_{t+1})``.
    """
    deltas = rewards + gamma * next_values * (~terminated) - values
    return discounted_sum(deltas, (~(terminated | truncated)).to(rewards.dtype) * gamma * lam)
