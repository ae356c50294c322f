"""From-scratch PyTorch agents and adapters for SB3 baselines, under one SB3-shaped API.

The agent classes (``DQN``, ``Reinforce``, ``PPO``, ``SB3Agent``, and their base ``Agent``) are imported on
first use, so that importing a module of this package (the batched env adapters, the checkpoint format)
does not load the learners, and ``import rlzero.agents`` does not load Stable-Baselines3.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rlzero.agents.checkpoint import CheckpointError, load_checkpoint
from rlzero.agents.device import resolve_device
from rlzero.agents.registry import AGENTS, agent_class, is_sb3

if TYPE_CHECKING:
    from rlzero.agents.base import Agent
    from rlzero.agents.dqn import DQN
    from rlzero.agents.ppo import PPO
    from rlzero.agents.reinforce import Reinforce
    from rlzero.agents.sb3 import SB3Agent

LAZY = {
    "Agent": "rlzero.agents.base",
    "DQN": "rlzero.agents.dqn",
    "PPO": "rlzero.agents.ppo",
    "Reinforce": "rlzero.agents.reinforce",
    "SB3Agent": "rlzero.agents.sb3",
}
"""Names this package gives, imported from their modules on first use."""


def read_metadata(path: str | Path) -> dict[str, Any]:
    """A checkpoint's metadata (which agent, env and hyperparameters), whichever agent saved it; a
    :class:`CheckpointError` for a file that is not one."""
    if Path(path).suffix == ".zip":
        from rlzero.agents.sb3 import SB3Agent

        return SB3Agent.read_metadata(path)
    return dict(load_checkpoint(path)["metadata"])


def load_agent(path: str | Path, device: str | torch.device = "auto") -> Any:
    """Load any rlzero checkpoint, whichever agent saved it (SB3 agents save ``.zip`` files)."""
    resolved = resolve_device(device)
    if Path(path).suffix == ".zip":
        from rlzero.agents.sb3 import SB3Agent

        return SB3Agent.load(path, resolved)
    payload = load_checkpoint(path, map_location=resolved)
    name = payload["metadata"]["agent"]
    if name not in AGENTS:
        raise CheckpointError(f"{path} holds an unknown agent {name!r}; known: {', '.join(AGENTS)}")
    if is_sb3(name):
        raise CheckpointError(f"{path} names the SB3 agent {name!r}, whose checkpoints are .zip files")
    return agent_class(name).from_checkpoint(payload, resolved)


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
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
    "read_metadata",
]
