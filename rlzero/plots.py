"""Learning-curve figures (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def curve_values(row: Mapping[str, Any]) -> float:
    """The figure a curve shows: normalized return where the env has an optimum, else return."""
    value = row.get("mean_normalized_return")
    return float(row["mean_return"] if value is None else value)


def plot_curves(
    runs: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
    path: str | Path,
    x: str = "env_steps",
    title: str = "",
    threshold: float | None = None,
) -> Path:
    """One line per label (mean over its runs) with the min-max band; rows are evaluation records."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, histories in runs.items():
        if not histories:
            continue
        n = min(len(h) for h in histories)
        xs = np.array([[row[x] for row in h[:n]] for h in histories], dtype=float).mean(axis=0)
        ys = np.array([[curve_values(row) for row in h[:n]] for h in histories], dtype=float)
        (line,) = ax.plot(xs, ys.mean(axis=0), label=f"{label} (n={len(histories)})")
        ax.fill_between(xs, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.15)
    if threshold is not None:
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=0.8)
    ax.set_xlabel("env steps" if x == "env_steps" else "training seconds")
    ax.set_ylabel("evaluation (normalized) return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
