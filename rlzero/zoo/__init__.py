"""rl-zoo3 hyperparameter files for SB3's PPO, A2C and DQN on the five ZeroOut ids.

``python -m rl_zoo3.train --algo ppo --env ZeroOut-v0 --gym-packages rlzero -conf rlzero.zoo.ppo``:
rl-zoo3 reads a ``-conf`` that is not a ``.yml``/``.py`` path as a module holding ``hyperparams``, which
:mod:`rlzero.zoo.ppo`, :mod:`rlzero.zoo.a2c` and :mod:`rlzero.zoo.dqn` load from the YAML files that
:mod:`rlzero.agents.presets` reads for the ``sb3-*`` agents (``-conf`` also takes the file itself:
:func:`path`). How they were tuned is in ``docs/tuning.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlzero.agents.presets import ZOO_ALGOS, zoo_file

ALGOS = tuple(sorted(ZOO_ALGOS.values()))
"""The SB3 algorithms with a file here."""


def path(algo: str) -> Path:
    """The rl-zoo3 YAML file for ``algo`` (one of :data:`ALGOS`)."""
    if algo not in ALGOS:
        raise ValueError(f"no rl-zoo3 file for {algo!r}; valid: {', '.join(ALGOS)}")
    return zoo_file(algo, "ZeroOut-v0")


def load(algo: str) -> dict[str, dict[str, Any]]:
    """The hyperparameters of ``algo`` per env id, as rl-zoo3 reads them."""
    import yaml

    return yaml.safe_load(path(algo).read_text())
