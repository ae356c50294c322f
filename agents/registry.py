"""Every agent rlzero offers, by the name the CLIs and benchmarks use: the one registry.

Entries name the class by import path and are imported on first use, so that ``import
rlzero.agents`` stays light (Stable-Baselines3 is imported only when an SB3 agent is asked for).
Adding an agent: write its file under ``agents/`` (a subclass of :class:`rlzero.agents.base.Agent`)
and add one line here.
"""

from __future__ import annotations

import importlib
from typing import Any

AGENTS: dict[str, str] = {
    "dqn": "rlzero.agents.dqn:DQN",
    "reinforce": "rlzero.agents.reinforce:Reinforce",
    "ppo": "rlzero.agents.ppo:PPO",
    "sb3-dqn": "rlzero.agents.sb3:SB3DQN",
    "sb3-ppo": "rlzero.agents.sb3:SB3PPO",
    "sb3-a2c": "rlzero.agents.sb3:SB3A2C",
}
"""Agent name -> ``module:Class``."""

SB3_PREFIX = "rlzero.agents.sb3:"
FROM_SCRATCH = tuple(name for name, path in AGENTS.items() if not path.startswith(SB3_PREFIX))
"""Our own agents: the ones that train groups of seeds and move weights with every fine-tuning strategy."""


def agent_class(name: str) -> Any:
    """The class registered as ``name``; ValueError listing the names for an unknown one."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; valid: {', '.join(AGENTS)}")
    module, _, attribute = AGENTS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def is_sb3(name: str) -> bool:
    """Whether the agent is a Stable-Baselines3 baseline behind the adapter (its weights stay SB3's)."""
    return AGENTS[name].startswith(SB3_PREFIX)
