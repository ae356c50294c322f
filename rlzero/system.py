"""What machine and which versions a figure was measured with, for every report."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("rlzero", "torch", "gymnasium", "stable_baselines3", "numpy")


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str]:
    """Python's and the installed versions of the packages a figure depends on (None where absent)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def machine_info() -> dict[str, Any]:
    """Platform, CPU, cores, GPU, torch threads, load average and the date, at the time of the call."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def describe_machine(info: dict[str, Any] | None = None) -> str:
    """One line: platform, CPU, cores, GPU, load average."""
    info = info or machine_info()
    gpu = f", GPU {info['gpu']}" if info["gpu"] else ", no GPU"
    load = f", load average {info['load_avg_1m']:.2f}" if info["load_avg_1m"] is not None else ""
    return f"{info['platform']}, {info['cpu']}, {info['cpu_count']} cores{gpu}{load}"
