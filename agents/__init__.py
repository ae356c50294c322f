"""From-scratch PyTorch agents and adapters for SB3 baselines, under one SB3-shaped API."""

from __future__ import annotations

from pathlib import Path

import torch

from rlzero.agents.base import Agent
from rlzero.agents.checkpoint import CheckpointError, load_checkpoint
from rlzero.agents.device import resolve_device
from rlzero.agents.dqn import DQN
from rlzero.agents.reinforce import Reinforce
from rlzero.agents.sb3 import SB3_AGENTS, SB3Agent

AGENTS: dict[str, type[Agent] | type[SB3Agent]] = {"dqn": DQN, "reinforce": Reinforce, **SB3_AGENTS}
"""Every agent the CLIs offer, by ``--agent`` name."""


def load_agent(path: str | Path, device: str | torch.device = "auto") -> Agent | SB3Agent:
    """Load any rlzero checkpoint, whichever agent saved it (SB3 agents save ``.zip`` files)."""
    resolved = resolve_device(device)
    if Path(path).suffix == ".zip":
        return SB3Agent.load(path, resolved)
    payload = load_checkpoint(path, map_location=resolved)
    name = payload["metadata"].get("agent")
    if name not in AGENTS:
        raise CheckpointError(f"{path} holds an unknown agent {name!r}; known: {', '.join(AGENTS)}")
    agent_class = AGENTS[name]
    assert issubclass(agent_class, Agent)
    return agent_class.from_checkpoint(payload, resolved)


__all__ = ["AGENTS", "DQN", "Agent", "CheckpointError", "Reinforce", "SB3Agent", "load_agent"]
