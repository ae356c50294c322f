"""rl-zoo3 hyperparameter files for SB3's PPO, A2C and DQN on the five ZeroOut ids.

``python -m rl_zoo3.train --algo ppo --env ZeroOut-v0 --gym-packages rlzero -conf rlzero.zoo.ppo``:
rl-zoo3 reads a ``-conf`` that is not a ``.yml``/``.py`` path as a module holding ``hyperparams``, which
:mod:`rlzero.zoo.ppo`, :mod:`rlzero.zoo.a2c` and :mod:`rlzero.zoo.dqn` load from the YAML files beside
them (``-conf`` also takes the file itself: :func:`path`). How they were tuned, and what they reach, is in
``benchmarks/README.md``, section "rl-zoo3 hyperparameters".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ALGOS = ("a2c", "dqn", "ppo")
"""The SB3 algorithms with a file here."""


def path(algo: str) -> Path:
    """The rl-zoo3 YAML file for ``algo`` (one of :data:`ALGOS`)."""
    if algo not in ALGOS:
        raise ValueError(f"no rl-zoo3 file for {algo!r}; valid: {', '.join(ALGOS)}")
    return Path(__file__).with_name(f"{algo}.yml")


def load(algo: str) -> dict[str, dict[str, Any]]:
    """The hyperparameters of ``algo`` per env id, as rl-zoo3 reads them (PyYAML comes with rl-zoo3)."""
    import yaml  # only rl-zoo3 users load these files, and rl-zoo3 depends on PyYAML

    return yaml.safe_load(path(algo).read_text())
