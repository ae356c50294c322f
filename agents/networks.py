"""Networks shared by the agents: a body (``features``) and an output layer (``head``).

Every network maps a batch of observations to ``n_outputs`` numbers per row (Q-values for DQN,
logits for REINFORCE). Keeping ``features`` and ``head`` as named children is what lets fine-tuning
freeze the body or re-initialise the head by name.
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

NETWORK_ARCHS = ("mlp", "slot")


MAX_ONEHOT_VALUES = 32
"""Integer Box entries with at most this many values are one-hot encoded, like SB3's MultiDiscrete."""


class ObservationEncoder(nn.Module):
    """Turns raw observations into network inputs, generically by observation space.

    An integer Box whose entries take few values (``ZeroOut``'s 0..9) is categorical data: each
    entry is one-hot encoded, as SB3 does for Discrete and MultiDiscrete spaces, so that "this entry
    is 0" is an input of its own rather than a small difference in a scaled number. Any other Box
    is used as floats, scaled into [0, 1] where it is bounded and non-negative.
    """

    scale: torch.Tensor
    block_start: torch.Tensor
    slot_base: torch.Tensor

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
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.out_dim = low.size * self.n_values if self.n_values else low.size
        self.low_value = int(low[0]) if self.n_values else 0
        # Where each entry's one-hot block starts, in forward's output and in project's table.
        self.register_buffer("block_start", torch.arange(low.size) * self.n_values, persistent=False)
        self.register_buffer("slot_base", torch.arange(low.size) * (self.n_values + 2) + 1, persistent=False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.n_values:
            # Scatter each entry's 1 into its slot's block (faster than comparing against every
            # value); an entry outside the range scatters a 0, leaving its block all zero.
            offsets = obs.long() - self.low_value
            in_range = (offsets >= 0) & (offsets < self.n_values)
            index = offsets.clamp(0, self.n_values - 1) + self.block_start
            onehot = torch.zeros((obs.shape[0], self.out_dim), device=obs.device)
            return onehot.scatter_(1, index, in_range.float())
        return obs.float() * self.scale

    def project(self, obs: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
        """``linear(self(obs))``, computed without building the one-hot matrix when there is one.

        A one-hot row times the weight is the sum of one weight column per entry, so the product is
        an ``embedding_bag`` lookup: the same numbers (up to float rounding), several times faster.
        Each entry's columns are framed by two zero rows, where values outside the range land (their
        one-hot is all zero). Only without gradients (acting, evaluating): ``embedding_bag``'s backward
        sorts the indices and is slower than the matmul's.
        """
        if not self.n_values or (torch.is_grad_enabled() and linear.weight.requires_grad):
            return linear(self(obs))
        index = (obs.long() - self.low_value).clamp_(-1, self.n_values) + self.slot_base
        columns = linear.weight.t().reshape(-1, self.n_values, linear.out_features)
        table = F.pad(columns, (0, 0, 1, 1)).flatten(0, 1)
        return F.embedding_bag(index, table, mode="sum") + linear.bias


def mlp(sizes: Sequence[int], layer_norm: bool = False) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between and after them, each Linear followed by a
    LayerNorm if ``layer_norm`` (which keeps a Q-network's features bounded as its targets move: the
    stabiliser of PQN, Gallici et al. 2024)."""
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), *([nn.LayerNorm(n_out)] if layer_norm else []), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPNetwork(nn.Module):
    """Encoded observation -> hidden ReLU layers (``features``) -> linear ``head``."""

    def __init__(
        self, space: spaces.Box, n_outputs: int, hidden_sizes: Sequence[int], layer_norm: bool = False
    ) -> None:
        super().__init__()
        self.encoder = ObservationEncoder(space)
        self.features = mlp([self.encoder.out_dim, *hidden_sizes], layer_norm)
        self.head = nn.Linear(hidden_sizes[-1], n_outputs)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        first, *rest = self.features
        hidden = self.encoder.project(obs, typing.cast(nn.Linear, first))
        for layer in rest:
            hidden = layer(hidden)
        return self.head(hidden)


def build_network(
    arch: str,
    observation_space: spaces.Box,
    n_outputs: int,
    hidden_sizes: Sequence[int],
    layer_norm: bool = False,
) -> nn.Module:
    """The network an agent's hyperparameters ask for, sized for the given spaces."""
    if arch not in NETWORK_ARCHS:
        raise ValueError(f"unknown network arch {arch!r}; valid: {', '.join(NETWORK_ARCHS)}")
    if not hidden_sizes:
        raise ValueError("hidden_sizes needs at least one layer width")
    network_class = SlotNetwork if arch == "slot" else MLPNetwork
    return network_class(observation_space, n_outputs, hidden_sizes, layer_norm)


class SlotNetwork(nn.Module):
    """Size-agnostic network: one output per slot, from weights shared across slots.

    Each entry is one-hot encoded on its own and embedded by the shared ``features.slot`` MLP. Two
    pooled contexts tell every slot about the rest of the board: the mean embedding of all slots and
    the mean embedding of the slots to its left (order matters in ``ZeroOutInOrder``). The shared
    ``features.mix`` layer combines ``[own, all, left]`` and the shared ``head`` maps it to the slot's
    output (its Q-value or logit). No tensor depends on the number of slots, so weights trained on 10
    slots serve 20. It needs what ZeroOut has: one action per entry, integer entries with few values.
    """

    values: torch.Tensor

    def __init__(
        self, space: spaces.Box, n_outputs: int, hidden_sizes: Sequence[int], layer_norm: bool = False
    ) -> None:
        super().__init__()
        low, high = np.asarray(space.low), np.asarray(space.high)
        n_values = int(high.max() - low.min()) + 1 if np.all(np.isfinite(high)) else 0
        if (
            len(space.shape) != 1
            or n_outputs != space.shape[0]
            or not np.issubdtype(space.dtype, np.integer)
            or not 0 < n_values <= MAX_ONEHOT_VALUES
        ):
            raise ValueError(
                "the slot network needs one action per observation entry and integer entries with at "
                f"most {MAX_ONEHOT_VALUES} values; got {space} with {n_outputs} actions"
            )
        width = hidden_sizes[-1]
        self.register_buffer("values", torch.arange(int(low.min()), int(low.min()) + n_values).float())
        self.features = nn.ModuleDict(
            {"slot": mlp([n_values, *hidden_sizes], layer_norm), "mix": mlp([3 * width, width], layer_norm)}
        )
        self.head = nn.Linear(width, 1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        onehot = (obs.float().unsqueeze(-1) == self.values).float()  # (batch, slots, values)
        own = self.features["slot"](onehot)  # (batch, slots, width)
        slots = own.shape[1]
        everyone = own.mean(dim=1, keepdim=True).expand_as(own)
        left_sum = own.cumsum(dim=1) - own
        left_count = torch.arange(slots, device=obs.device).clamp(min=1).view(1, slots, 1)
        mixed = self.features["mix"](torch.cat([own, everyone, left_sum / left_count], dim=-1))
        return self.head(mixed).squeeze(-1)
