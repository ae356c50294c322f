"""Networks shared by the agents: a body (``features``) and an output layer (``head``).

Every network maps a batch of observations to ``n_outputs`` numbers per row (Q-values for DQN,
logits for REINFORCE). Keeping ``features`` and ``head`` as named children is what lets fine-tuning
freeze the body or re-initialise the head by name.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

NETWORK_ARCHS = ("mlp",)


MAX_ONEHOT_VALUES = 32
"""Integer Box entries with at most this many values are one-hot encoded, like SB3's MultiDiscrete."""


class ObservationEncoder(nn.Module):
    """Turns raw observations into network inputs, generically by observation space.

    An integer Box whose entries take few values (``ZeroOut``'s 0..9) is categorical data: each
    entry is one-hot encoded, as SB3 does for Discrete and MultiDiscrete spaces, so that "this entry
    is 0" is an input of its own rather than a small difference in a scaled number. Any other Box
    is used as floats, scaled into [0, 1] where it is bounded and non-negative.
    """

    def __init__(self, space: spaces.Box) -> None:
        super().__init__()
        low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        self.n_values = 0
        if np.issubdtype(space.dtype, np.integer) and np.all(np.isfinite(high)):
            n_values = int((high - low).max()) + 1
            if n_values <= MAX_ONEHOT_VALUES and np.all(low == low[0]):
                self.n_values = n_values
        bounded = np.isfinite(high) & (low >= 0) & (high > 0)
        scale = np.where(bounded, 1.0 / np.where(bounded, high, 1.0), 1.0)
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.register_buffer("values", torch.arange(max(self.n_values, 1), dtype=torch.float32))
        self.out_dim = low.size * self.n_values if self.n_values else low.size

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.n_values:
            offsets = (obs.float() - self.low).unsqueeze(-1)
            return (offsets == self.values).flatten(1).float()
        return obs.float() * self.scale


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between and after them."""
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPNetwork(nn.Module):
    """Encoded observation -> hidden ReLU layers (``features``) -> linear ``head``."""

    def __init__(self, space: spaces.Box, n_outputs: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.encoder = ObservationEncoder(space)
        self.features = mlp([self.encoder.out_dim, *hidden_sizes])
        self.head = nn.Linear(hidden_sizes[-1], n_outputs)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.encoder(obs)))


def build_network(
    arch: str, observation_space: spaces.Box, n_outputs: int, hidden_sizes: Sequence[int]
) -> nn.Module:
    """The network an agent's hyperparameters ask for, sized for the given spaces."""
    if arch not in NETWORK_ARCHS:
        raise ValueError(f"unknown network arch {arch!r}; valid: {', '.join(NETWORK_ARCHS)}")
    if not hidden_sizes:
        raise ValueError("hidden_sizes needs at least one layer width")
    return MLPNetwork(observation_space, n_outputs, hidden_sizes)
