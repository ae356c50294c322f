"""Schedules of a value over training progress (0 at the start of the budget, 1 at its end)."""

from __future__ import annotations

import torch


def linear_schedule(start: float, end: float, progress: float, end_fraction: float = 1.0) -> float:
    """``start`` at progress 0, moving linearly to ``end`` at ``end_fraction``, then staying there."""
    if end_fraction <= 0:
        return end
    return start + (end - start) * min(progress / end_fraction, 1.0)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group of ``optimizer`` the learning rate ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr
