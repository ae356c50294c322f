"""From-scratch PyTorch agents and adapters for SB3 baselines, under one SB3-shaped API."""

from __future__ import annotations

from pathlib import Path

import torch

from rlzero.agents.base import Agent
from rlzero.agents.checkpoint import CheckpointError, load_checkpoint
from rlzero.agents.device import resolve_device
from rlzero.agents.dqn import DQN
from rlzero.agents.reinforce import Reinforce

AGENTS: dict[str, type[Agent]] = {"dqn": DQN, "reinforce": Reinforce}
"""Every agent the CLIs offer, by ``--agent`` name."""


def load_agent(path: str | Path, device: str | torch.device = "auto") -> Agent:
    """Load any rlzero checkpoint, whichever agent saved it."""
    resolved = resolve_device(device)
    payload = load_checkpoint(path, map_location=resolved)
    name = payload["metadata"].get("agent")
    if name not in AGENTS:
        raise CheckpointError(f"{path} holds an unknown agent {name!r}; known: {', '.join(AGENTS)}")
    return AGENTS[name].from_checkpoint(payload, resolved)


__all__ = ["AGENTS", "DQN", "Agent", "CheckpointError", "Reinforce", "load_agent"]
