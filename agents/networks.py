"""Networks shared by the agents: a body (``features``) and an output layer (``head``), for a group of
members at once.

Every network maps observations ``(members, batch, *obs_shape)`` to ``(members, batch, n_outputs)``
(Q-values for DQN, logits for REINFORCE). Member ``m`` has weights of its own, the ``m``-th slice of
every parameter along its leading dimension, so one batched matrix product serves every member of a
group of seeds: a group of one is a single agent. :func:`member_state_dict` cuts one member out as an
ordinary state dict (``nn.Linear`` and ``nn.LayerNorm`` layouts), which is what checkpoints hold.
Keeping ``features`` and ``head`` as named children is what lets fine-tuning freeze the body or
re-initialise the head by name.
"""

from __future__ import annotations

import itertools
import math
import typing
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

NETWORK_ARCHS = ("mlp", "slot")

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}
"""The hidden layers' nonlinearity, by name: ReLU, or tanh (bounded, smooth; PPO's usual choice)."""


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
        """``(..., obs_dim)`` observations -> ``(..., out_dim)`` network inputs."""
        if self.n_values:
            # Scatter each entry's 1 into its slot's block (faster than comparing against every
            # value); an entry outside the range scatters a 0, leaving its block all zero.
            offsets = obs.long() - self.low_value
            in_range = (offsets >= 0) & (offsets < self.n_values)
            index = offsets.clamp(0, self.n_values - 1) + self.block_start
            onehot = torch.zeros((*obs.shape[:-1], self.out_dim), device=obs.device)
            return onehot.scatter_(-1, index, in_range.float())
        return obs.float() * self.scale

    def project(self, obs: torch.Tensor, linear: GroupLinear) -> torch.Tensor:
        """``linear(self(obs))`` for ``(members, batch, obs_dim)`` observations, computed without
        building the one-hot matrix when there is one.

        A one-hot row times the weight is the sum of one weight column per entry, so the product is
        an ``embedding_bag`` lookup: the same numbers (up to float rounding), without the one-hot matrix.
        Each entry's columns are framed by two zero rows, where values outside the range land (their
        one-hot is all zero); the members' tables are stacked, each member's rows offset into its own.
        Only without gradients (acting, evaluating): ``embedding_bag``'s backward sorts the indices
        and is slower than the matmul's.
        """
        if not self.n_values or (torch.is_grad_enabled() and linear.weight.requires_grad):
            return linear(self(obs))
        members, batch, slots = obs.shape
        rows = slots * (self.n_values + 2)
        member_base = torch.arange(members, device=obs.device).view(members, 1, 1) * rows
        index = (obs.long() - self.low_value).clamp_(-1, self.n_values) + self.slot_base + member_base
        columns = linear.weight.transpose(1, 2).reshape(members, slots, self.n_values, linear.out_features)
        table = F.pad(columns, (0, 0, 1, 1)).reshape(members * rows, linear.out_features)
        out = F.embedding_bag(index.view(members * batch, slots), table, mode="sum")
        return out.view(members, batch, -1) + linear.bias.unsqueeze(1)


class GroupLinear(nn.Module):
    """``members`` independent linear layers: ``(members, batch, in) -> (members, batch, out)``.

    ``weight`` is ``(members, out, in)`` and ``bias`` ``(members, out)``: member ``m``'s slices are an
    ``nn.Linear``'s, initialised as ``nn.Linear`` initialises its own.
    """

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(members, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(members, out_features))
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's: kaiming_uniform_(a=sqrt(5)), uniform bias
        with torch.no_grad():
            for m in range(members):
                self.weight[m].uniform_(-bound, bound)
                self.bias[m].uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.out_features == 1:
            # torch hands a one-member, one-output bmm to a matrix-vector kernel that rounds
            # differently from the batched one, so a member's output would depend on its group's size.
            return (x * self.weight).sum(-1, keepdim=True) + self.bias.unsqueeze(1)
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


class GroupLayerNorm(nn.Module):
    """``members`` independent LayerNorms over the last dimension (``nn.LayerNorm``'s slices per member)."""

    def __init__(self, members: int, features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.features, self.eps = features, eps
        self.weight = nn.Parameter(torch.ones(members, features))
        self.bias = nn.Parameter(torch.zeros(members, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normalized = F.layer_norm(x, (self.features,), eps=self.eps)
        return torch.addcmul(self.bias.unsqueeze(1), normalized, self.weight.unsqueeze(1))


def mlp(
    members: int, sizes: Sequence[int], layer_norm: bool = False, activation: str = "relu"
) -> nn.Sequential:
    """Linear layers of the given widths with the activation between and after them, each Linear
    followed by a LayerNorm if ``layer_norm`` (which keeps a Q-network's features bounded as its targets
    move: the stabiliser of PQN, Gallici et al. 2024)."""
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        norm = [GroupLayerNorm(members, n_out)] if layer_norm else []
        layers += [GroupLinear(members, n_in, n_out), *norm, ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


class MLPNetwork(nn.Module):
    """Encoded observation -> hidden layers (``features``) -> linear ``head``."""

    def __init__(
        self,
        space: spaces.Box,
        n_outputs: int,
        hidden_sizes: Sequence[int],
        layer_norm: bool = False,
        members: int = 1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.encoder = ObservationEncoder(space)
        self.features = mlp(members, [self.encoder.out_dim, *hidden_sizes], layer_norm, activation)
        self.head = GroupLinear(members, hidden_sizes[-1], n_outputs)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        first, *rest = self.features
        hidden = self.encoder.project(obs, typing.cast(GroupLinear, first))
        for layer in rest:
            hidden = layer(hidden)
        return self.head(hidden)


def policy_and_value(
    arch: str,
    observation_space: spaces.Box,
    n_actions: int,
    hidden_sizes: Sequence[int],
    seeds: tuple[Sequence[int], Sequence[int]],
    activation: str,
    device: torch.device,
    ortho_init: bool = False,
) -> tuple[nn.Module, nn.Module]:
    """A policy network (logits) and a value network of the same shape, on ``device``: V(s) is the sum of
    the value network's outputs, so any architecture that fits the policy fits it too (the slot
    network's V sums per-slot values). ``seeds``: each network's members' initialisation seeds;
    ``ortho_init``: :func:`orthogonal_init`, with head gains 0.01 (policy) and 1 (value)."""
    policy, value = (
        build_network(
            arch,
            observation_space,
            n_actions,
            hidden_sizes,
            seeds=s,
            activation=activation,
            head_gain=gain if ortho_init else None,
        ).to(device)
        for s, gain in zip(seeds, (0.01, 1.0), strict=True)
    )
    return policy, value


def check_network(arch: str, hidden_sizes: Sequence[int], activation: str) -> None:
    """ValueError for a network an agent's hyperparameters cannot ask for (checked with the rest of them)."""
    if arch not in NETWORK_ARCHS:
        raise ValueError(f"unknown network arch {arch!r}; valid: {', '.join(NETWORK_ARCHS)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
    if not hidden_sizes or min(hidden_sizes) < 1:
        raise ValueError(f"hidden_sizes needs one or more layer widths, each >= 1, got {tuple(hidden_sizes)}")


def build_network(
    arch: str,
    observation_space: spaces.Box,
    n_outputs: int,
    hidden_sizes: Sequence[int],
    layer_norm: bool = False,
    seeds: Sequence[int] | None = None,
    activation: str = "relu",
    head_gain: float | None = None,
) -> nn.Module:
    """The network an agent's hyperparameters ask for, sized for the given spaces, with one member per
    seed (one member, from torch's global generator, without ``seeds``).

    Member ``m`` is initialised as a one-member network built right after ``torch.manual_seed(seeds[m])``
    would be, so its weights depend on its own seed only, never on the other members. ``head_gain``:
    initialise orthogonally (:func:`orthogonal_init`) with this gain on the head; None: as ``nn.Linear``.
    """
    check_network(arch, hidden_sizes, activation)
    network_class = SlotNetwork if arch == "slot" else MLPNetwork

    def make(members: int) -> nn.Module:
        net = network_class(observation_space, n_outputs, hidden_sizes, layer_norm, members, activation)
        if head_gain is not None:
            orthogonal_init(net, head_gain)
        return net

    if seeds is None:
        return make(1)
    singles = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            singles.append(make(1))
    group = make(len(singles))
    with torch.no_grad():
        for name, param in group.named_parameters():
            param.copy_(torch.cat([single.get_parameter(name) for single in singles]))
    return group


def orthogonal_init(net: nn.Module, head_gain: float) -> None:
    """Orthogonal weights and zero biases, as SB3's and CleanRL's PPO initialise (Andrychowicz et al.
    2021): gain sqrt(2) on the hidden layers and ``head_gain`` on the head, 0.01 for a policy (its first
    actions near uniform) and 1 for a value."""
    head = net.get_submodule("head")
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, GroupLinear):
                gain = head_gain if layer is head else math.sqrt(2)
                for weight in layer.weight:
                    nn.init.orthogonal_(weight, gain)
                layer.bias.zero_()


def member_state_dict(net: nn.Module, member: int) -> dict[str, torch.Tensor]:
    """Member ``member`` of a network as a state dict of its own (parameters sliced, buffers as they are)."""
    params = dict(net.named_parameters())
    return {k: v[member] if k in params else v for k, v in net.state_dict().items()}


def load_member(net: nn.Module, member: int, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Copy a one-member state dict (see :func:`member_state_dict`) into member ``member`` of ``net``.

    The caller checks shapes first (:func:`rlzero.agents.checkpoint.check_weights`); buffers are derived
    from the spaces and stay as they are.
    """
    with torch.no_grad():
        for name, param in net.named_parameters():
            param[member].copy_(state_dict[name])


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
        self,
        space: spaces.Box,
        n_outputs: int,
        hidden_sizes: Sequence[int],
        layer_norm: bool = False,
        members: int = 1,
        activation: str = "relu",
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
            {
                "slot": mlp(members, [n_values, *hidden_sizes], layer_norm, activation),
                "mix": mlp(members, [3 * width, width], layer_norm, activation),
            }
        )
        self.head = GroupLinear(members, width, 1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        members, batch, slots = obs.shape
        onehot = (obs.float().unsqueeze(-1) == self.values).float()  # (members, batch, slots, values)
        own = self.features["slot"](onehot.view(members, batch * slots, -1)).view(members, batch, slots, -1)
        everyone = own.mean(dim=2, keepdim=True).expand_as(own)
        left_sum = own.cumsum(dim=2) - own
        left_count = torch.arange(slots, device=obs.device).clamp(min=1).view(1, 1, slots, 1)
        mixed = torch.cat([own, everyone, left_sum / left_count], dim=-1).view(members, batch * slots, -1)
        return self.head(self.features["mix"](mixed)).view(members, batch, slots)
