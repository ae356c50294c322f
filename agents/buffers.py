"""A replay buffer preallocated on the agent's device: adding and sampling never leave it."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Transitions(NamedTuple):
    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor


class ReplayBuffer:
    """Circular buffer of ``capacity`` transitions, written a batch of rows at a time."""

    def __init__(self, capacity: int, obs_dim: int, device: torch.device) -> None:
        self.capacity, self.device = capacity, device
        self.obs = torch.zeros((capacity, obs_dim), dtype=torch.float32, device=device)
        self.next_obs = torch.zeros_like(self.obs)
        self.actions = torch.zeros(capacity, dtype=torch.int64, device=device)
        self.rewards = torch.zeros(capacity, dtype=torch.float32, device=device)
        self.terminated = torch.zeros(capacity, dtype=torch.float32, device=device)
        self.pos = 0
        self.size = 0

    def add(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_obs: torch.Tensor,
        terminated: torch.Tensor,
    ) -> None:
        """Store one row per env; ``next_obs`` is the state the action led to (never a reset state)."""
        n = obs.shape[0]
        rows = torch.arange(self.pos, self.pos + n, device=self.device) % self.capacity
        self.obs[rows] = obs.float()
        self.next_obs[rows] = next_obs.float()
        self.actions[rows] = actions
        self.rewards[rows] = rewards
        self.terminated[rows] = terminated.float()
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> Transitions:
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return Transitions(
            self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.terminated[idx]
        )
