"""Moving pretrained weights into a fresh agent: the three fine-tuning strategies.

Every network of an agent has a body (``features``, plus the observation ``encoder``) and an output
layer (``head``). A strategy says which tensors come from the pretrained checkpoint and which train:

| strategy | loaded from the checkpoint | trains |
|----------|----------------------------|--------|
| `full`   | every tensor               | every tensor (at the fine-tuning learning rate) |
| `freeze` | every tensor               | the head only; the body is frozen |
| `head`   | every tensor but the head (re-initialised) | every tensor |

An agent that normalises observations (``normalize_obs``) takes the checkpoint's statistics with the
body, as the body's weights were learnt on inputs normalised by them; they go on updating on the new
env, except under `freeze`, where they are frozen with the body (the normaliser in eval mode).

Shapes must match exactly (use the size-agnostic ``slot`` network to move between board sizes); a
mismatch is a :class:`CheckpointError` naming the tensors, never a silent partial load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from rlzero.agents.base import OBS_NORMALIZER, Agent
from rlzero.agents.networks import member_state_dict

STRATEGIES = Agent.strategies
HEAD_PREFIX = "head."


def is_head(name: str) -> bool:
    """Whether a parameter or buffer name belongs to a network's output layer."""
    return name.startswith(HEAD_PREFIX)


@dataclass
class TransferReport:
    """Which tensors moved, which were re-initialised, and which train, per network."""

    loaded: dict[str, list[str]] = field(default_factory=dict)
    reinitialised: dict[str, list[str]] = field(default_factory=dict)
    frozen: dict[str, list[str]] = field(default_factory=dict)
    trainable: dict[str, list[str]] = field(default_factory=dict)


def transfer(
    agent: Agent, state_dicts: Mapping[str, Mapping[str, torch.Tensor]], strategy: str
) -> TransferReport:
    """Load pretrained weights into ``agent`` according to ``strategy`` (see the module table)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    names = [*agent.networks, OBS_NORMALIZER]
    incoming = {name: dict(state_dicts[name]) for name in names if name in state_dicts}
    fresh_heads = {}
    if strategy == "head":
        for name, net in agent.networks.items():
            if name in incoming:
                # The checkpoint's head is replaced by the agent's own fresh one (each member's).
                incoming[name].update({k: v for k, v in member_state_dict(net, 0).items() if is_head(k)})
                fresh_heads[name] = {k: p.detach().clone() for k, p in net.named_parameters() if is_head(k)}
    agent.load_weights(incoming)  # every network fits, or nothing is loaded
    with torch.no_grad():
        for name, heads in fresh_heads.items():
            for key, value in heads.items():
                agent.networks[name].get_parameter(key).copy_(value)
    if agent.obs_normalizer is not None:
        agent.obs_normalizer.train(strategy != "freeze")
    report = TransferReport()
    for name, net in agent.networks.items():
        report.loaded[name] = [k for k in incoming[name] if strategy != "head" or not is_head(k)]
        report.reinitialised[name] = [k for k in incoming[name] if strategy == "head" and is_head(k)]
        for param_name, param in net.named_parameters():
            param.requires_grad_(strategy != "freeze" or is_head(param_name))
        report.frozen[name] = frozen_parameters(net)
        report.trainable[name] = [n for n, p in net.named_parameters() if p.requires_grad]
    agent.after_transfer()
    return report


def frozen_parameters(net: nn.Module) -> list[str]:
    return [n for n, p in net.named_parameters() if not p.requires_grad]
