"""From-scratch PyTorch agents and adapters for SB3 baselines, under one SB3-shaped API.

``DQN``, ``Reinforce`` and ``PPO`` are imported here; the SB3 adapters (``SB3Agent``) are imported on
first use, so that ``import rlzero.agents`` does not load Stable-Baselines3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rlzero.agents.base import Agent
from rlzero.agents.checkpoint import CheckpointError, load_checkpoint
from rlzero.agents.device import resolve_device
from rlzero.agents.dqn import DQN
from rlzero.agents.ppo import PPO
from rlzero.agents.registry import AGENTS, agent_class
from rlzero.agents.reinforce import Reinforce


def load_agent(path: str | Path, device: str | torch.device = "auto") -> Any:
    """Load any rlzero checkpoint, whichever agent saved it (SB3 agents save ``.zip`` files)."""
    resolved = resolve_device(device)
    if Path(path).suffix == ".zip":
        from rlzero.agents.sb3 import SB3Agent

        return SB3Agent.load(path, resolved)
    payload = load_checkpoint(path, map_location=resolved)
    name = payload["metadata"].get("agent")
    if name not in AGENTS:
        raise CheckpointError(f"{path} holds an unknown agent {name!r}; known: {', '.join(AGENTS)}")
    return agent_class(name).from_checkpoint(payload, resolved)


def __getattr__(name: str) -> Any:
    if name == "SB3Agent":
        from rlzero.agents.sb3 import SB3Agent

        return SB3Agent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AGENTS",
    "DQN",
    "PPO",
    "Agent",
    "CheckpointError",
    "Reinforce",
    "SB3Agent",
    "agent_class",
    "load_agent",
]
