"""Many seeds as one group against one trial per seed on the local pool: wall-clock and equivalence.

For each agent and env, the same sweep runs twice, side by side in this one script run: once as a single
group trial (``Trial(seed=[s0, ..., s31])``, :mod:`rlzero.agents.base`) in this process on
``--group-threads`` torch threads, once as one single-seed trial per seed on the local pool
(``--workers`` processes, one torch thread each), the two taking turns at going first from one cell to
the next. Both use the presets' hyperparameters (with ``--set``
on top), the same budget and the same evaluations (100 episodes every twentieth of the budget). It
reports the whole sweep's wall-clock on each side and their ratio, where the group's time went
(training against evaluation), and whether each member's curve is the single run's, evaluation by
evaluation (the per-member random streams make them bit-identical on CPU at equal thread counts), with
the solved counts and the IQM of the final score on both sides. With ``--group-size N`` the group side
is the seeds cut into groups of N, one trial each on the same pool (``--workers`` processes, one torch
thread each), which is how a sweep uses several cores: a CPU group's cost per member stops falling
beyond some 16 members (``group_scaling.py``), and separate processes scale better than torch's
threads over small tensors. ``--device cuda`` trains the group side on the GPU against the same pool
of single-seed trials on the CPU's cores (the CUDA row). It writes ``groups.json`` and ``groups.md``
to ``--out``; it measures and never asserts.

    python benchmarks/groups.py --agents dqn reinforce --envs ZeroOut-v0 --seeds 0-31 --workers 2
    python benchmarks/groups.py --agents dqn --envs CartPole-v1 --seeds 0-31 --group-size 16
    python benchmarks/groups.py --agents dqn reinforce --envs CartPole-v1 --device cuda --workers 16
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from rlzero.agents.device import DEVICE_CHOICES, resolve_device
from rlzero.agents.registry import FROM_SCRATCH, agent_class
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    add_hparams_arg,
    check_env_id,
    fail,
    flatten_seeds,
    parse_budgets,
    parse_hparams,
    seed_range,
)
from rlzero.executor import run_trials
from rlzero.experiment import Trial, run
from rlzero.report import cell_summary, command_line, markdown_table, num, with_interval, write_results
from rlzero.system import describe_machine

SCORES = ("env_steps", "mean_return", "mean_normalized_return", "success_rate", "mean_length")


def same_curves(members: Sequence[dict[str, Any]], singles: Sequence[dict[str, Any] | None]) -> bool:
    """Whether every member's evaluations equal its single run's, figure by figure."""
    return all(
        single is not None
        and [[row[k] for k in SCORES] for row in member["evaluations"]]
        == [[row[k] for k in SCORES] for row in single["evaluations"]]
        for member, single in zip(members, singles, strict=True)
    )


def groups_label(cell: dict[str, Any]) -> str:
    """How the group side ran: ``1 x 32 (2 threads)`` or ``1 x 32 (cuda)`` in this process, or
    ``2 x 16 (pool)``."""
    count = -(-cell["seeds"] // cell["group_size"])
    where = "pool" if count > 1 else f"{cell['group_threads']} threads"
    if cell["group_device"] != "cpu":
        where = f"{where}, {cell['group_device']}" if count > 1 else cell["group_device"]
    return f"{count} x {-(-cell['seeds'] // count)} ({where})"  # the sizes of a run's parts: the largest


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the seconds it took."""
    began = time.perf_counter()
    return fn(*args, **kwargs), time.perf_counter() - began


def run_groups(trial: Trial, size: int, threads: int, workers: int) -> tuple[list[dict[str, Any]], float]:
    """Train ``trial``'s seeds as one group in this process on ``threads`` torch threads (``size`` 0), or
    as groups of ``size`` on the local pool; return every member's record, in seed order, and the
    seconds spent evaluating (summed over the groups)."""
    if not size:
        torch.set_num_threads(threads)
        group = run(trial)
    else:
        parts = -(-len(trial.seeds) // size)
        group = run(trial, workers, parts=parts, backend="local", threads=1)
    return group["members"], group["timing"]["eval_seconds"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="benchmarks/groups.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", nargs="+", default=list(FROM_SCRATCH), choices=FROM_SCRATCH)
    parser.add_argument("--envs", nargs="+", default=["ZeroOut-v0"], help="env ids (default: %(default)s)")
    parser.add_argument("--seeds", nargs="+", type=seed_range, default=[list(range(32))], help="e.g. 0-31")
    parser.add_argument(
        "--budget", nargs="*", default=[], metavar="ENV=STEPS", help="env steps per run (default: preset)"
    )
    add_hparams_arg(
        parser, "hyperparameters on top of the preset, on both sides (checked against every agent's config)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes of the pool side (default 2)")
    parser.add_argument("--group-threads", type=int, default=2, help="torch threads of the group (default 2)")
    parser.add_argument(
        "--group-size",
        type=int,
        default=0,
        help="members per group, the groups on the pool (default 0: all seeds as one group in this process)",
    )
    parser.add_argument(
        "--device", default="cpu", choices=DEVICE_CHOICES, help="the group side's device (the pool: CPU)"
    )
    parser.add_argument("--out", default="benchmarks/results/groups", help="results folder")
    args = parser.parse_args(argv)
    try:
        for env_id in args.envs:
            check_env_id(env_id)
        budgets = parse_budgets(args.budget, args.envs)
        device = str(resolve_device(args.device))
        if args.group_size < 0:
            raise UsageError(f"--group-size must be >= 0, got {args.group_size}")
        hparams = {
            agent: parse_hparams(args.hparams, agent_class(agent).hparam_types()) for agent in args.agents
        }
    except (UsageError, ValueError) as exc:
        fail(parser, str(exc))
    seeds = flatten_seeds(args.seeds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {describe_machine()}; load average {os.getloadavg()}", flush=True)
    cells = []
    for env_id in args.envs:
        for agent in args.agents:
            budget = budgets.get(env_id)
            trial = Trial(
                agent, env_id, seed=seeds, total_timesteps=budget, hparams=hparams[agent], device=device
            )
            load = os.getloadavg()[0]
            singles = [dataclasses.replace(trial, seed=s, device="cpu") for s in seeds]
            group_side = functools.partial(
                timed, run_groups, trial, args.group_size, args.group_threads, args.workers
            )
            pool_side = functools.partial(
                timed, run_trials, run, singles, backend="local", workers=args.workers, threads=1
            )
            group_first = len(cells) % 2 == 0  # the sides take turns at going first, cell by cell
            if group_first:
                group, pool = group_side(), pool_side()
            else:
                pool, group = pool_side(), group_side()
            (members, group_eval_seconds), group_seconds = group
            records, pool_seconds = pool
            results = [r.get("result") for r in records]
            cell = {
                "agent": agent,
                "env_id": env_id,
                "seeds": len(seeds),
                "hparams": hparams[agent],
                "env_steps_per_member": members[0]["env_steps"],
                "load_average_before": load,
                "first": "group" if group_first else "pool",
                "group_seconds": round(group_seconds, 1),
                "group_eval_seconds": round(group_eval_seconds, 1),
                "group_size": args.group_size or len(seeds),
                "group_threads": 1 if args.group_size else args.group_threads,
                "group_device": device,
                "pool_seconds": round(pool_seconds, 1),
                "pool_workers": args.workers,
                "speedup": round(pool_seconds / group_seconds, 2),
                "pool_eval_seconds": round(sum(r["timing"]["eval_seconds"] for r in results if r), 1),
                "same_curves": same_curves(members, results),
                "group": cell_summary(members),
                "pool": cell_summary(results),
                "replay_ratio": members[0]["replay_ratio"],
            }
            cells.append(cell)
            print(
                f"{env_id} {agent}: group {group_seconds:.1f} s (eval {group_eval_seconds:.1f} s), "
                f"pool {pool_seconds:.1f} s: {cell['speedup']}x; same curves {cell['same_curves']}",
                flush=True,
            )
    rows = [
        [
            c["agent"],
            c["env_id"],
            f"{c['env_steps_per_member']:,}",
            num(c["replay_ratio"], 2),
            groups_label(c),
            f"{c['group_seconds']:.1f} ({c['group_eval_seconds']:.1f})",
            f"{c['pool_seconds']:.1f} ({c['pool_eval_seconds']:.1f})",
            f"**{c['speedup']:.2f}x**",
            f"{c['group']['solved']}/{c['seeds']} vs {c['pool']['solved']}/{c['seeds']}",
            f"{with_interval(c['group']['final'])} vs {with_interval(c['pool']['final'])}",
            "yes" if c["same_curves"] else "no",
        ]
        for c in cells
    ]
    header = [
        "agent",
        "env",
        "env steps per seed",
        "replay ratio",
        "groups",
        "group s (of which eval)",
        "pool s (eval, summed over trials)",
        "pool / group",
        "solved: group vs pool",
        "final IQM [95% CI]: group vs pool",
        "every curve identical",
    ]
    table = markdown_table(header, rows)
    write_results(out, "groups", table, cells, command_line("benchmarks/groups.py", argv))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
