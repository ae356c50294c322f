"""Sizes that are known before they are allocated are checked against the memory the device has, so
that a group too large, a buffer too long or an evaluation too wide is refused at once, with one line
saying how much it would need, instead of failing minutes later with an allocator's traceback."""

from __future__ import annotations

import os

import torch

ENV_ROW_BYTES = 1024
"""A rough lower bound of what one env copy costs (its state, the observations the loop keeps of it)."""


def available_bytes(device: torch.device) -> int | None:
    """Memory free for new allocations on ``device``: the kernel's ``MemAvailable`` (else the physical
    memory) on the CPU, the free memory of a CUDA device; None where it cannot be told."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(nbytes: float, what: str, device: torch.device) -> None:
    """A ``ValueError`` where ``nbytes`` for ``what`` exceed the memory ``device`` has available."""
    available = available_bytes(device)
    if available is not None and nbytes > available:
        needed, free = nbytes / 2**30, available / 2**30
        raise ValueError(f"{what} needs about {needed:,.1f} GiB; {free:,.1f} GiB is available on {device}")
