"""What benchmark reports share: figures of a cell of trials over seeds, ratios, markdown formatting.

A *cell* is every seed of one agent (or agent variant) on one env, each a record of
:func:`rlzero.experiment.run`. Benchmarks keep their data tables and ``main``; everything they compute
from records lives here, once.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rlzero.agents.files import atomic_path
from rlzero.runs import write_json
from rlzero.stats import aggregate, probability_of_improvement
from rlzero.system import describe_machine, package_versions


def cell_summary(records: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Figures over the seeds of one cell; a failed trial (None) counts as a seed without data."""
    done = [r for r in records if r is not None]
    return {
        "seeds": len(records),
        "failed": len(records) - len(done),
        "solved": sum(r["steps_to_solved"] is not None for r in done),
        "stayed_solved": sum(bool(r["stayed_solved"]) for r in done),
        "solved_final": sum(bool(r["solved_final"]) for r in done),
        "final": aggregate([r["final"] for r in done]),
        "steps_to_solved": aggregate([r["steps_to_solved"] for r in done]),
        "seconds_to_solved": aggregate([r["seconds_to_solved"] for r in done]),
        "env_steps_per_s": aggregate([r["env_steps_per_s"] for r in done]),
        "replay_ratio": aggregate([r["replay_ratio"] for r in done])["median"],
        "env_steps": aggregate([r["env_steps"] for r in done])["median"],
    }


def cell_row(label: str, budget: int, cell: Mapping[str, Any]) -> list[str]:
    """A cell's row of a comparison table: label, budget, final score [CI], solved and stayed solved (of
    the seeds), the medians of env steps and seconds to solved, and env steps per second."""
    seeds = cell["seeds"]
    return [
        label,
        f"{budget:,}",
        with_interval(cell["final"]),
        f"{cell['solved']}/{seeds}",
        f"{cell['stayed_solved']}/{seeds}",
        steps(cell["steps_to_solved"]["median"]),
        num(cell["seconds_to_solved"]["median"], 1),
        num(cell["env_steps_per_s"]["median"], 0),
    ]


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """``ours / theirs``, or None where either is missing (never solved) or ``theirs`` is not positive."""
    if ours is None or theirs is None or theirs <= 0:
        return None
    return ours / theirs


def improvement(ours: Sequence[Mapping[str, Any] | None], theirs: Sequence[Mapping[str, Any] | None]) -> Any:
    """P(ours > theirs) on the final score, with its interval (None without runs on either side)."""
    xs = [r["final"] for r in ours if r is not None and r["final"] is not None]
    ys = [r["final"] for r in theirs if r is not None and r["final"] is not None]
    return probability_of_improvement(xs, ys) if xs and ys else None


def device_label(device: str) -> str:
    """``cpu``, or ``GPU <name> (cuda)``, so that a GPU figure never passes for a CPU one."""
    resolved = torch.device(device)
    if resolved.type == "cuda" and torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(resolved)} ({resolved})"
    return str(resolved)


def num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def steps(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:,.1f}k" if value >= 1000 else f"{value:,.0f}"


def times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}x"


def with_interval(stats: Mapping[str, Any], digits: int = 3) -> str:
    """``point [low, high]`` of an aggregate (its IQM) or a probability of improvement, or a dash."""
    point = stats.get("iqm", stats.get("p"))
    if point is None:
        return "—"
    low, high = stats["ci95"]
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A markdown table; ``align`` has ``l`` or ``r`` per column (default: the first left, the rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [f"| {' | '.join(header)} |", f"|{'|'.join(rule)}|"]
    lines += [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
    return "\n".join(lines)


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """The command that ran a benchmark: ``python <script>`` and its arguments (``sys.argv``'s by default)."""
    return " ".join([f"python {script}", *(argv if argv is not None else sys.argv[1:])])


def run_line(command: str) -> str:
    """A benchmark run's first line: its command, the machine with its load average, and the UTC time
    (taken before the run starts: the load average says how quiet the machine was)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"`{command}`; {describe_machine()}; {now}"


def write_report(out: Path, name: str, report: Mapping[str, Any], table: str) -> None:
    """Write ``<name>.json`` (the report) and ``<name>.md`` (the table) to ``out``, each whole or not at
    all, and print the table."""
    write_json(out / f"{name}.json", dict(report))
    with atomic_path(out / f"{name}.md") as tmp:
        Path(tmp).write_text(table.rstrip("\n") + "\n")
    print(table)


def write_results(out: Path, name: str, table: str, cells: Sequence[Mapping[str, Any]], command: str) -> None:
    """Write ``<name>.md`` (the command, then the table) and ``<name>.json`` (command, machine, versions,
    ``cells``) to ``out``."""
    payload = {
        "command": command,
        "machine": describe_machine(),
        "versions": package_versions(),
        "cells": list(cells),
    }
    write_report(out, name, payload, f"{run_line(command)}\n\n{table}")
