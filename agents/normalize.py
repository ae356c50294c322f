"""Observation normalisation with running statistics, as SB3's ``VecNormalize`` does it, per member.

Each member keeps the running mean and variance of the observations its own envs produced while it
trained (Chan et al.'s parallel update, SB3's ``RunningMeanStd``: float64, a count that starts at
``1e-4``), and its networks see ``clip((obs - mean) / sqrt(var + 1e-8), -clip_obs, clip_obs)``.
Training updates the statistics with every observation the env returns (resets included) and then
normalises with them; ``predict`` and evaluation normalise with them frozen. They are buffers of an
``nn.Module``, so a checkpoint saves them with the weights.

Classic-control observations mix scales (MountainCar's position spans 1.8 and its velocity 0.14;
LunarLander's coordinates and contact flags), and a network fits unit-scale inputs best.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

COUNT_EPSILON = 1e-4
"""The count the statistics start from (SB3's ``RunningMeanStd(epsilon=1e-4)``): the first batch all
but replaces the initial mean 0 and variance 1."""
VAR_EPSILON = 1e-8
"""Added to the variance before the square root (SB3's ``VecNormalize(epsilon=1e-8)``)."""


class ObsNormalizer(nn.Module):
    """Running mean and variance of each member's observations, ``(members, *obs_shape)`` float64
    buffers, and the count of observations behind them, ``(members,)``."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor
    clip_obs: torch.Tensor

    def __init__(self, obs_shape: tuple[int, ...], clip_obs: torch.Tensor) -> None:
        """``clip_obs``: each member's bound, ``(members,)``, on the device the statistics live on."""
        super().__init__()
        device = clip_obs.device
        shape = (len(clip_obs), *obs_shape)
        # A hyperparameter, not a statistic: the checkpoint holds it in its metadata.
        self.register_buffer("clip_obs", clip_obs.double(), persistent=False)
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64, device=device))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64, device=device))
        count = torch.full(shape[:1], COUNT_EPSILON, dtype=torch.float64, device=device)
        self.register_buffer("count", count)

    @torch.no_grad()
    def update(self, obs: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Fold a batch into the statistics: ``obs`` ``(members, batch, *obs_shape)``; where ``mask``
        (bool, ``(members, batch)``) is False a row does not count (a member whose rows are all masked
        keeps its statistics exactly)."""
        x = obs.double()
        extra = (1,) * (x.dim() - 2)
        if mask is None:
            weight = torch.ones(x.shape[:2], dtype=torch.float64, device=x.device)
        else:
            weight = mask.double()
        n = weight.sum(dim=1)
        w = weight.view(*weight.shape, *extra)
        denominator = n.clamp(min=1.0).view(-1, *extra)
        batch_mean = (x * w).sum(dim=1) / denominator
        batch_var = ((x - batch_mean.unsqueeze(1)).square() * w).sum(dim=1) / denominator
        count, n = self.count.view(-1, *extra), n.view(-1, *extra)
        total = count + n
        delta = batch_mean - self.mean
        mean = self.mean + delta * n / total
        var = (self.var * count + batch_var * n + delta.square() * count * n / total) / total
        seen = n > 0
        self.mean.copy_(torch.where(seen, mean, self.mean))
        self.var.copy_(torch.where(seen, var, self.var))
        self.count.copy_(total.view(-1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Normalised observations, float32, for ``obs`` ``(members, batch, *obs_shape)``."""
        normalized = (obs.double() - self.mean.unsqueeze(1)) / (self.var.unsqueeze(1) + VAR_EPSILON).sqrt()
        bound = self.clip_obs.view(-1, *(1,) * (obs.dim() - 1))
        return torch.clamp(normalized, -bound, bound).float()


def check_normalize_config(config: Any) -> None:
    """Validate an agent config's ``normalize_obs`` and ``clip_obs`` (ValueError)."""
    if not config.clip_obs > 0:
        raise ValueError(f"clip_obs must be > 0, got {config.clip_obs!r}")
    if config.normalize_obs and config.net_arch == "slot":
        raise ValueError("normalize_obs needs net_arch 'mlp': the slot network one-hot encodes raw entries")
