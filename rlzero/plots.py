"""Figures for every report: learning curves over seeds and performance profiles (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from rlzero.agents.files import atomic_path
from rlzero.curves import Criterion

AXES = {"env_steps": "env steps", "wall_time_s": "training seconds (log scale)"}


def plot_curves(
    runs: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
    path: str | Path,
    rule: Criterion,
    x: str = "env_steps",
    title: str = "",
    reference: str = "solved",
) -> Path:
    """One colour per label: each run a thin line, the interquartile mean over runs bold, with the band
    between the 25th and 75th percentiles, on the span every run covers (training seconds on a log axis).

    ``runs`` maps a label to its runs' evaluation curves (rows with ``x`` and the criterion's metric);
    a dashed line marks the criterion's threshold, labelled ``reference``.
    """
    fig, ax = plt.subplots(figsize=(7, 4.2))
    log = x == "wall_time_s"
    for i, (label, curves) in enumerate(runs.items()):
        lines = [
            (np.array([row[x] for row in c], float), np.array([rule.score(row) for row in c], float))
            for c in curves
            if c
        ]
        if not lines:
            continue
        color = f"C{i}"
        for xs, ys in lines:
            ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.7, marker="." if len(xs) < 4 else None)
        if log:
            lines = [(np.log(np.maximum(xs, 1e-3)), ys) for xs, ys in lines]
        start, stop = max(xs[0] for xs, _ in lines), min(xs[-1] for xs, _ in lines)
        name = f"{label} (n={len(lines)})"
        if stop <= start:
            ax.plot([], [], color=color, linewidth=2, label=name)
            continue
        grid = np.linspace(start, stop, 100)
        ys = np.array([np.interp(grid, xs, values) for xs, values in lines])
        grid = np.exp(grid) if log else grid
        ax.plot(grid, stats.trim_mean(ys, 0.25, axis=0), color=color, linewidth=2, label=name)
        low, high = np.percentile(ys, [25, 75], axis=0)
        ax.fill_between(grid, low, high, color=color, alpha=0.15)
    ax.axhline(
        rule.threshold, color="grey", linestyle="--", linewidth=0.8, label=f"{reference} ({rule.threshold:g})"
    )
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(AXES.get(x, x))
    ax.set_ylabel(f"evaluation {rule.label} (IQM, IQR band)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_profiles(
    profiles: Mapping[str, Sequence[float]],
    taus: Sequence[float],
    path: str | Path,
    label: str,
    title: str = "",
) -> Path:
    """Performance profiles: the share of runs scoring above each threshold, one line per method."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, values) in enumerate(profiles.items()):
        ax.plot(taus, values, color=f"C{i}", linewidth=2, label=name)
    ax.set_xlabel(f"final {label} tau")
    ax.set_ylabel("fraction of runs with score > tau")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def save(fig: Any, path: str | Path) -> Path:
    """Write the figure as a PNG, atomically (a kill never leaves half a picture), and close it."""
    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return path
