"""``python -m rlzero.train``: train an agent on an env and leave a complete run directory behind.

A run writes ``<logdir>/<env>__<agent>__<seed>__<time>/``: TensorBoard events, ``model.pt`` (or SB3's
``.zip``), ``config.json`` (everything needed to repeat it) and ``summary.json`` (the final evaluation
with the evaluation protocol, and the evaluation curve). Ctrl-C saves the checkpoint, writes the summary
with ``"interrupted": true`` and exits 130.

``--seeds 0-31`` trains 32 independent agents as one group (our agents in one process, see
:mod:`rlzero.agents.base`; SB3's one seed after another), and ``--sweep learning_rate=1e-4,1e-3
gamma=0.9,0.99`` crosses float hyperparameters with them: every combination of values, for every seed.
Each member leaves the run directory a single run would, under
``<logdir>/<env>__<agent>__seeds<first>-<last>__<time>/``, beside the group's ``group.json`` (IQM with
bootstrap intervals, solved counts, a row per member) and ``curves.png``. ``--workers 2`` trains such a
group in two processes side by side (see :func:`rlzero.experiment.run`): every member's run is the same,
and on a CPU with several cores it is faster than one group on every core's threads.
"""

from __future__ import annotations

import signal
import sys

if __name__ == "__main__":  # a Ctrl-C while the imports below load ends the command quietly
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))

import argparse
import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rlzero.agents.device import DEVICE_CHOICES
from rlzero.agents.presets import preset_for
from rlzero.agents.registry import AGENTS, agent_class
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    add_hparams_arg,
    check_env_id,
    convert,
    fail,
    flatten_seeds,
    parse_env_kwargs,
    parse_hparams,
    positive_int,
    quiet_writer_threads,
    report,
    run_dir_path,
    seed_int,
    seed_range,
    split_pairs,
    write_failed,
)
from rlzero.executor import stop_on_interrupt, stop_requested
from rlzero.experiment import Trial, check, run


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m rlzero.train",
        description="Train an rlzero agent and write a run directory (TensorBoard events, checkpoint, "
        "config.json, summary.json).",
    )
    parser.add_argument("--agent", required=True, choices=list(AGENTS), help="which agent to train")
    parser.add_argument("--env", default="ZeroOut-v0", help="Gymnasium env id (default: ZeroOut-v0)")
    parser.add_argument(
        "--env-kwargs",
        nargs="*",
        default=[],
        metavar="K=V",
        help="env constructor arguments, e.g. size=12 rule=countdown",
    )
    parser.add_argument(
        "--total-timesteps",
        type=positive_int,
        default=None,
        help="env steps to train for (default: the preset of the agent and env; on ZeroOut-v0: "
        + ", ".join(f"{name} {preset_for(name, 'ZeroOut-v0')[1].total_timesteps:,}" for name in AGENTS)
        + "; see rlzero.agents.presets)",
    )
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=seed_int, default=0, help="seed for networks, exploration and envs")
    seeds.add_argument(
        "--seeds",
        type=seed_range,
        nargs="+",
        default=None,
        metavar="S",
        help="train one independent agent per seed, as one group: seeds or ranges, e.g. 0-31 (our "
        "agents train a group in one process, SB3's one seed after another)",
    )
    parser.add_argument(
        "--sweep",
        nargs="*",
        default=[],
        metavar="K=V1,V2",
        help="float hyperparameters whose values the group's members cross, each combination for every "
        "seed, e.g. learning_rate=1e-4,1e-3 gamma=0.9,0.99",
    )
    parser.add_argument(
        "--device", default="auto", choices=DEVICE_CHOICES, help="auto picks CUDA when present"
    )
    parser.add_argument(
        "--num-envs", type=positive_int, default=None, help="envs stepped together (overrides --set)"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="with --seeds or --sweep: train the group as this many smaller groups side by side, one "
        "process each (default 1: the whole group in this process); on a CPU, one per core is faster "
        "than one group on every core's threads",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch CPU threads (default: 1 for one seed, as the networks are small and one thread per "
        "run avoids oversubscribing cores when several runs share a machine; every core for a group "
        "of --seeds, whose batched matrix products use them; the cores shared out with --workers)",
    )
    parser.add_argument("--logdir", default="runs", help="parent folder of the run directory")
    add_hparams_arg(
        parser,
        "hyperparameter overrides on top of the preset, type-checked against the agent's config, "
        "e.g. learning_rate=5e-4",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="CKPT",
        help="start from saved weights of the same algorithm, as finetune's strategy 'full' moves them",
    )
    parser.add_argument(
        "--eval-freq",
        type=positive_int,
        default=None,
        help="env steps between evaluations (default: a twentieth of the budget)",
    )
    parser.add_argument(
        "--eval-episodes", type=positive_int, default=100, help="episodes per evaluation (default 100)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def trial_from_args(args: argparse.Namespace) -> Trial:
    """The trial the flags describe; bad input raises UsageError with one clear line."""
    check_env_id(args.env)
    types = agent_class(args.agent).hparam_types()
    hparams = parse_hparams(args.hparams, types)
    if args.num_envs is not None:
        hparams["num_envs"] = args.num_envs
    seed: int | list[int] = args.seed
    members = None
    if args.seeds is not None or args.sweep:
        seeds = flatten_seeds(args.seeds) if args.seeds is not None else [args.seed]
        grid = sweep_grid(args.sweep, types)
        seed = [s for _ in grid for s in seeds]
        members = [overrides for overrides in grid for _ in seeds] if args.sweep else None
    return Trial(
        agent=args.agent,
        env_id=args.env,
        seed=seed,
        members=members,
        total_timesteps=args.total_timesteps,
        hparams=hparams,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        device=args.device,
        eval_freq=args.eval_freq,
        eval_episodes=args.eval_episodes,
        init_from=args.init_from,
        progress=not args.no_progress and sys.stderr.isatty(),
    )


def sweep_grid(pairs: Sequence[str], types: dict[str, Any]) -> list[dict[str, Any]]:
    """``--sweep k=v1,v2 ...`` as every combination of the values (one empty one without a sweep)."""
    values = {}
    for key, text in split_pairs(pairs, "--sweep").items():
        if key not in types:
            raise UsageError(f"--sweep: unknown hyperparameter {key!r}; valid: {', '.join(sorted(types))}")
        if types[key] is not float:
            raise UsageError(f"--sweep {key}: only float hyperparameters can differ between members")
        given = [convert(v, float, f"--sweep {key}") for v in text.split(",") if v.strip()]
        if not given:
            raise UsageError(f"--sweep {key}={text}: give one value or more, e.g. {key}=0.001,0.003")
        values[key] = list(dict.fromkeys(given))  # each once, as --seeds takes each seed once
    return [dict(zip(values, combo, strict=True)) for combo in itertools.product(*values.values())]


def print_record(record: dict[str, Any]) -> None:
    """The summary on stdout: a single run's fields, or a group's per-member table and figures."""
    if "members" not in record:
        shown = {k: v for k, v in record.items() if k not in ("evaluations", "settings", "timing")}
        diagnostics = shown.pop("diagnostics", None) or {}
        shown.update({k: f"{v:.4g}" for k, v in diagnostics.items()})  # one line each
        print("\n".join(f"{k:>30}: {v}" for k, v in shown.items()))
        return
    print(f"{'seed':>6}  {'final':>9}  {'steps to solved':>15}  stayed  overrides")
    for row in record["table"]:
        final = "-" if row["final"] is None else f"{row['final']:.3f}"
        steps = "-" if row["steps_to_solved"] is None else f"{row['steps_to_solved']:,}"
        stayed, overrides = row["stayed_solved"], row["overrides"] or ""
        print(f"{row['seed']:>6}  {final:>9}  {steps:>15}  {stayed!s:>6}  {overrides}")
    for name, cell in record["cells"].items():
        final = cell["final"]
        interval = "" if final["ci95"] is None else f" [{final['ci95'][0]:.3f}, {final['ci95'][1]:.3f}]"
        iqm = "-" if final["iqm"] is None else f"{final['iqm']:.3f}"
        print(
            f"{name}: solved {cell['solved']}/{cell['seeds']}, stayed solved {cell['stayed_solved']}/"
            f"{cell['seeds']}, final IQM {iqm}{interval} (95% bootstrap CI)"
        )
    if record["interrupted"]:
        print("interrupted: every member that started saved its checkpoint and summary where it stopped")
    print(f"group: {record['run_dir']}" if record.get("run_dir") else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Train as the flags say; exit status 0, 1 (a failed run), 2 (misuse) or 130 (Ctrl-C)."""
    with stop_on_interrupt():
        return train(argv)


def train(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    grouped = args.seeds is not None or bool(args.sweep)
    cores = os.cpu_count() or 1
    threads = args.threads or (max(cores // args.workers, 1) if grouped else 1)
    torch.set_num_threads(threads)
    try:
        if args.workers > 1 and not grouped:
            raise UsageError("--workers splits a group: give --seeds or --sweep with it")
        trial = trial_from_args(args)
        trial.command = " ".join(["python -m rlzero.train", *(argv if argv is not None else sys.argv[1:])])
        check(trial)
    except (UsageError, ValueError, TypeError, FileNotFoundError) as exc:
        fail(parser, str(exc))
    seed_part = args.seed if not isinstance(trial.seed, list) else f"seeds{min(trial.seed)}-{max(trial.seed)}"
    trial.run_dir = str(run_dir_path(parser, args.logdir, args.env, args.agent, seed_part))
    if stop_requested():
        report("interrupted before the run started: nothing saved")
        return 130
    claimed: list[Path] = []

    def announce(run_dir: Path) -> None:
        claimed.append(run_dir)
        report(f"run directory: {run_dir}")

    try:
        with quiet_writer_threads():
            record = run(trial, args.workers, on_claim=announce, threads=threads)
    except ValueError as exc:  # found building the agent: memory, weights that do not fit
        fail(parser, str(exc))
    except OSError as exc:
        return write_failed(parser.prog, exc, claimed[0] if claimed else None)
    print_record(record)
    return 130 if record["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
