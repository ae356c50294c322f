"""Schedules of a value over training progress."""

from __future__ import annotations

import torch


def linear_schedule(start: float, end: float, duration: int, step: int) -> float:
    """``start`` at step 0, moving linearly to ``end`` at ``duration``, then staying there."""
    if duration <= 0:
        return end
    return start + (end - start) * min(step / duration, 1.0)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group of ``optimizer`` the learning rate ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr
