"""Device choice at run time: agents and pipelines never assume CPU."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into CUDA when present, else CPU; refuse CUDA where there is none."""
    if isinstance(device, torch.device):
        name = device.type
    else:
        name = str(device)
        if name.split(":")[0] not in DEVICE_CHOICES:
            raise ValueError(f"unknown device {device!r}; valid: {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available here; valid: auto, cpu")
    return torch.device(device)


def synchronize(device: torch.device) -> None:
    """Wait for the kernels queued on ``device`` (a no-op on the CPU), so that a clock read next sees
    all the work launched before it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
