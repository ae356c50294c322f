"""A replay buffer preallocated on the agent's device (adding and sampling never leave it), and the
n-step transitions DQN stores in it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch


class Transitions(NamedTuple):
    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    discounts: torch.Tensor
    """what the value of ``next_obs`` is worth at ``obs``: gamma ** (steps between them)"""


class Step(NamedTuple):
    """One env step of every env: the rows of a batched transition."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    """the state the action led to (before any reset)"""
    terminated: torch.Tensor
    truncated: torch.Tensor


def n_step_transitions(steps: Sequence[Step], gamma: float) -> Transitions:
    """The n-step transition that starts at ``steps[0]``, per env, from ``n = len(steps)`` steps.

    Its reward is ``sum_k gamma**k * r_k`` over the steps of the first step's episode; it bootstraps
    from the state the last of them led to, worth ``gamma**m`` after ``m`` steps, unless that step
    terminated the episode. An episode that ends inside the window (terminated or truncated) cuts
    the sum there, so no return crosses a reset; ``n = 1`` is the one-step transition.
    """
    rewards = torch.stack([step.rewards for step in steps]).float()
    ended = torch.stack([step.terminated | step.truncated for step in steps])
    # used[k, i]: step k still belongs to env i's first episode (every step up to its first end).
    used = (ended.long().cumsum(0) - ended.long()) == 0
    powers = gamma ** torch.arange(len(steps), device=rewards.device, dtype=rewards.dtype)
    returns = (rewards * used * powers.unsqueeze(1)).sum(0)
    count = used.sum(0)
    rows = torch.arange(rewards.shape[1], device=rewards.device)
    last = count - 1
    next_obs = torch.stack([step.next_obs for step in steps])[last, rows]
    terminated = torch.stack([step.terminated for step in steps])[last, rows]
    discounts = gamma ** count.to(rewards.dtype)
    first = steps[0]
    return Transitions(first.obs, first.actions, returns, next_obs, terminated, discounts)


class ReplayBuffer:
    """Circular buffer of ``capacity`` transitions, written a batch of rows at a time."""

    def __init__(self, capacity: int, obs_dim: int, device: torch.device) -> None:
        self.capacity, self.device = capacity, device
        self.obs = torch.zeros((capacity, obs_dim), dtype=torch.float32, device=device)
        self.next_obs = torch.zeros_like(self.obs)
        self.actions = torch.zeros(capacity, dtype=torch.int64, device=device)
        self.rewards = torch.zeros(capacity, dtype=torch.float32, device=device)
        self.terminated = torch.zeros(capacity, dtype=torch.float32, device=device)
        self.discounts = torch.zeros(capacity, dtype=torch.float32, device=device)
        self.pos = 0
        self.size = 0

    def add(self, batch: Transitions) -> None:
        """Store one row per env; ``next_obs`` is the state the actions led to (never a reset state)."""
        n = batch.obs.shape[0]
        rows = torch.arange(self.pos, self.pos + n, device=self.device) % self.capacity
        self.obs[rows] = batch.obs.float()
        self.next_obs[rows] = batch.next_obs.float()
        self.actions[rows] = batch.actions
        self.rewards[rows] = batch.rewards
        self.terminated[rows] = batch.terminated.float()
        self.discounts[rows] = batch.discounts
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> Transitions:
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return Transitions(
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.terminated[idx],
            self.discounts[idx],
        )
