"""Hyperparameters and budgets per agent and env id: rlzero's counterpart of rl-zoo3's hyperparameter files.

``python -m rlzero.train``, ``python -m rlzero.finetune`` and every benchmark start from the preset of
their agent and env id; ``--set`` overrides single values and ``--total-timesteps`` the budget, and each
run's ``config.json`` records the preset used (its key and values) and the overrides. An env id without
an entry of its own gets the agent's ``"default"`` entry: the fallback for any other env with a flat Box
observation and a Discrete action. An agent without a table at all runs on its dataclass defaults and
its class's ``default_timesteps``.

Constructing an agent in Python (``DQN("CartPole-v1")``) uses the dataclass defaults, as SB3's classes do;
:func:`make_agent` builds one from its preset, as the CLIs do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rlzero.agents.registry import agent_class

FALLBACK = "default"
"""The key of the entry an env id without its own entry gets."""


@dataclasses.dataclass(frozen=True)
class Preset:
    """One table row: the budget and the hyperparameters that differ from the dataclass defaults."""

    total_timesteps: int
    hparams: dict[str, Any] = dataclasses.field(default_factory=dict)


ZEROOUT_IDS = (
    "ZeroOut-v0",
    "ZeroOutCountdown-v0",
    "ZeroOutInOrder-v0",
    "ZeroOutLarge-v0",
    "ZeroOutFewestSteps-v0",
)

# rl-zoo3's tuned DQN settings for CartPole-v1 (its hyperparams/dqn.yml), translated to our knobs:
# 0.5 gradient steps per env step (128 per 256 there = 4 per 8-env iteration here) and the target
# refreshed once per 256 env steps (our target_update_interval counts gradient steps).
_DQN_CLASSIC_CONTROL: dict[str, Any] = {
    "num_envs": 8,
    "gradient_steps": 4,
    "target_update_interval": 128,
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "gamma": 0.99,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
    "hidden_sizes": (256, 256),
}

# Whole episodes (the rollout cap at the env's limit) from 16 envs, a wider MLP, no entropy bonus.
_REINFORCE_CLASSIC_CONTROL: dict[str, Any] = {
    "num_envs": 16,
    "learning_rate": 3e-3,
    "hidden_sizes": (64, 64),
    "max_rollout_steps": 500,
    "ent_coef": 0.0,
}

PRESETS: dict[str, dict[str, Preset]] = {
    "dqn": {
        **{env_id: Preset(300_000) for env_id in ZEROOUT_IDS},
        "CartPole-v1": Preset(100_000, _DQN_CLASSIC_CONTROL),
        FALLBACK: Preset(100_000, _DQN_CLASSIC_CONTROL),
    },
    "reinforce": {
        **{env_id: Preset(1_000_000) for env_id in ZEROOUT_IDS},
        "CartPole-v1": Preset(500_000, _REINFORCE_CLASSIC_CONTROL),
        FALLBACK: Preset(500_000, _REINFORCE_CLASSIC_CONTROL),
    },
    # SB3's baselines keep SB3's own defaults; only the budget is set here.
    "sb3-dqn": {FALLBACK: Preset(100_000)},
    "sb3-ppo": {FALLBACK: Preset(100_000)},
    "sb3-a2c": {FALLBACK: Preset(100_000)},
}
"""Agent name -> env id (or ``"default"``) -> preset."""


def preset_for(agent: str, env_id: str) -> tuple[str, Preset]:
    """The preset ``agent`` runs with on ``env_id``, and the key it was found under."""
    table = PRESETS.get(agent)
    if table is None:
        return FALLBACK, Preset(int(agent_class(agent).default_timesteps))
    key = env_id if env_id in table else FALLBACK
    return key, table[key]


def make_agent(agent: str, env_id: str, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    """Build ``agent`` on ``env_id`` from its preset, with ``overrides`` on top (``kwargs``: device, seed,
    env_kwargs)."""
    _, preset = preset_for(agent, env_id)
    return agent_class(agent)(env_id, **kwargs, **{**preset.hparams, **(overrides or {})})
