"""The hooks through which the orchestration layer (logging, evaluation, progress) sees ``learn``.

Agents call these and know nothing of what is behind them, so the import arrows keep pointing down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class Callback:
    """Base class: every hook is a no-op. ``on_step`` returning False stops training."""

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        """Called once before the first env step."""

    def on_step(self, env_steps: Sequence[int], metrics: Sequence[Mapping[str, float]]) -> bool:
        """Called after every collection iteration with the env steps of each member so far.

        ``metrics`` holds, per member of the agent (one for a single agent), scalars keyed by
        TensorBoard tag (``charts/...``, ``losses/...``); it is empty on most calls, as agents gather
        them on device and report them every ``log_interval``.
        """
        return True

    def on_training_end(self) -> None:
        """Called once after the last update, also when training stops early."""


class CallbackList(Callback):
    """Several callbacks as one; training stops if any of them asks to."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        for cb in self.callbacks:
            cb.on_training_start(agent, total_timesteps)

    def on_step(self, env_steps: Sequence[int], metrics: Sequence[Mapping[str, float]]) -> bool:
        return all([cb.on_step(env_steps, metrics) for cb in self.callbacks])

    def on_training_end(self) -> None:
        for cb in self.callbacks:
            cb.on_training_end()
