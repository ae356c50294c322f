"""Schedules of a value over training progress (0 at the start of the budget, 1 at its end)."""

from __future__ import annotations

import torch


def linear_schedule(
    start: torch.Tensor,
    end: torch.Tensor | float,
    progress: float | torch.Tensor,
    end_fraction: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """``start`` at progress 0, moving linearly to ``end`` at ``end_fraction``, then staying there
    (``end`` at once where ``end_fraction <= 0``); elementwise, one value per member (``progress``: one
    for all, or a tensor of one per member)."""
    if isinstance(end_fraction, torch.Tensor) or isinstance(progress, torch.Tensor):
        fraction = torch.as_tensor(end_fraction, dtype=start.dtype, device=start.device)
        share = (progress / fraction.clamp(min=1e-12)).clamp(max=1.0)
        return start + (end - start) * torch.where(fraction > 0, share, 1.0)
    # A Python number stays one: no tensor to copy onto the device at every call.
    return start + (end - start) * (1.0 if end_fraction <= 0 else min(progress / end_fraction, 1.0))
