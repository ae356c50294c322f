"""A replay buffer preallocated on the agent's device (adding and sampling never leave it), one per
member of a group, and the n-step transitions DQN stores in it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from rlzero.envs.streams import Streams


class Transitions(NamedTuple):
    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    discounts: torch.Tensor
    """what the value of ``next_obs`` is worth at ``obs``: gamma ** (steps between them)"""


class Step(NamedTuple):
    """One env step of every env: the rows of a batched transition (any batch shape, e.g.
    ``(members, num_envs)``)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    """the state the action led to (before any reset)"""
    terminated: torch.Tensor
    truncated: torch.Tensor


def n_step_transitions(steps: Sequence[Step], gamma: float | torch.Tensor) -> Transitions:
    """The n-step transition that starts at ``steps[0]``, per env, from ``n = len(steps)`` steps.

    ``gamma`` is a float or a tensor that broadcasts against one step's rewards (``(members, 1)``:
    a discount per member).

    Its reward is ``sum_k gamma**k * r_k`` over the steps of the first step's episode; it bootstraps
    from the state the last of them led to, worth ``gamma**m`` after ``m`` steps, unless that step
    terminated the episode. An episode that ends inside the window (terminated or truncated) cuts
    the sum there, so no return crosses a reset; ``n = 1`` is the one-step transition.
    """
    rewards = torch.stack([step.rewards for step in steps]).float()  # (n, *batch)
    ended = torch.stack([step.terminated | step.truncated for step in steps])
    # used[k, i]: step k still belongs to env i's first episode (every step up to its first end).
    used = (ended.long().cumsum(0) - ended.long()) == 0
    discount = torch.as_tensor(gamma, device=rewards.device, dtype=rewards.dtype)
    steps_ahead = torch.arange(len(steps), device=rewards.device, dtype=rewards.dtype)
    powers = discount.unsqueeze(0) ** steps_ahead.view(-1, *([1] * (rewards.dim() - 1)))
    returns = (rewards * used * powers).sum(0)
    count = used.sum(0)
    last = (count - 1).unsqueeze(0)  # the index, along the steps, of each env's last step used
    next_obs = torch.stack([step.next_obs for step in steps])
    next_obs = next_obs.gather(0, last.unsqueeze(-1).expand(1, *next_obs.shape[1:])).squeeze(0)
    terminated = torch.stack([step.terminated for step in steps]).gather(0, last).squeeze(0)
    discounts = discount ** count.to(rewards.dtype)
    first = steps[0]
    return Transitions(first.obs, first.actions, returns, next_obs, terminated, discounts)


def member_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index`` ``(members, n)`` of each member's batch ``x`` ``(members, batch, ...)``: ``(members, n,
    ...)``, each member's from its own batch."""
    return x.gather(1, index.view(*index.shape, *[1] * (x.dim() - 2)).expand(-1, -1, *x.shape[2:]))


class ReplayBuffer:
    """Circular buffer of ``capacity`` transitions per member, written a batch of rows at a time.

    Every field is ``(members, capacity, ...)``; all members add and sample together, each from
    its own rows and with its own random stream. A transition's fields lie side by side in one
    float row (the action too: small integers are exact in float32), so a sampled transition is
    one gathered row, not one random memory access per field.
    """

    def __init__(self, members: int, capacity: int, obs_dim: int, device: torch.device) -> None:
        self.capacity, self.device, self.obs_dim = capacity, device, obs_dim
        self.data = torch.zeros((members, capacity, 2 * obs_dim + 4), dtype=torch.float32, device=device)
        fields = self._fields(self.data)
        self.obs, self.next_obs, self.action_codes, self.rewards, self.terminated, self.discounts = fields
        self.row_base = torch.arange(members, device=device).unsqueeze(1) * capacity
        self.pos = 0
        self.size = 0

    def _fields(self, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The fields of packed ``(..., width)`` rows, as views: obs, next_obs, action codes, rewards,
        terminated, discounts."""
        obs, next_obs, scalars = rows.split([self.obs_dim, self.obs_dim, 4], dim=-1)
        return (obs, next_obs, *scalars.unbind(-1))

    @property
    def actions(self) -> torch.Tensor:
        return self.action_codes.long()

    def add(self, batch: Transitions) -> None:
        """Store ``(members, n)`` rows; ``next_obs`` is the state the actions led to (never a reset state)."""
        n = batch.obs.shape[1]
        rows = torch.arange(self.pos, self.pos + n, device=self.device) % self.capacity
        self.obs[:, rows] = batch.obs.float()
        self.next_obs[:, rows] = batch.next_obs.float()
        self.action_codes[:, rows] = batch.actions.float()
        self.rewards[:, rows] = batch.rewards
        self.terminated[:, rows] = batch.terminated.float()
        self.discounts[:, rows] = batch.discounts
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, streams: Streams) -> Transitions:
        """``batch_size`` transitions per member, drawn uniformly (with replacement) from its own rows."""
        if not self.size:
            raise ValueError("cannot sample from an empty replay buffer")
        members, _, width = self.data.shape
        rows = (streams.integers(self.size, batch_size) + self.row_base).view(-1)
        sampled = self.data.view(-1, width).index_select(0, rows).view(members, batch_size, width)
        obs, next_obs, actions, rewards, terminated, discounts = self._fields(sampled)
        return Transitions(obs, actions.long(), rewards, next_obs, terminated, discounts)
