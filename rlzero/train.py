"""``python -m rlzero.train``: train an agent on an env and leave a complete run directory behind.

A run writes ``<logdir>/<env>__<agent>__<seed>__<time>/``: TensorBoard events, ``model.pt`` (or SB3's
``.zip``), ``config.json`` (everything needed to repeat it) and ``summary.json`` (the final evaluation
with the DESIGN protocol, and the evaluation curve). Ctrl-C saves the checkpoint, writes the summary
with ``"interrupted": true`` and exits 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch

from rlzero.agents.device import DEVICE_CHOICES
from rlzero.agents.presets import preset_for
from rlzero.agents.registry import AGENTS, agent_class
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    check_env_id,
    fail,
    parse_env_kwargs,
    parse_hparams,
    positive_int,
    report,
)
from rlzero.experiment import Trial, TrialInterrupted, build, run
from rlzero.runs import make_run_dir


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
    parser.add_argument("--seed", type=int, default=0, help="seed for networks, exploration and envs")
    parser.add_argument(
        "--device", default="auto", choices=DEVICE_CHOICES, help="auto picks CUDA when present"
    )
    parser.add_argument(
        "--num-envs", type=positive_int, default=None, help="envs stepped together (overrides --set)"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch CPU threads (default 1: the networks are small, and one thread per run avoids "
        "oversubscribing cores when several runs share a machine)",
    )
    parser.add_argument("--logdir", default="runs", help="parent folder of the run directory")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="K=V",
        dest="hparams",
        help="hyperparameter overrides on top of the preset, type-checked against the agent's config, "
        "e.g. learning_rate=5e-4",
    )
    parser.add_argument("--init-from", default=None, metavar="CKPT", help="start from saved weights")
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
    hparams = parse_hparams(args.hparams, agent_class(args.agent).hparam_types())
    if args.num_envs is not None:
        hparams["num_envs"] = args.num_envs
    return Trial(
        agent=args.agent,
        env_id=args.env,
        seed=args.seed,
        total_timesteps=args.total_timesteps,
        hparams=hparams,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        device=args.device,
        eval_freq=args.eval_freq,
        eval_episodes=args.eval_episodes,
        init_from=args.init_from,
        progress=not args.no_progress and sys.stderr.isatty(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        trial = trial_from_args(args)
        built = build(trial)
    except (UsageError, ValueError, TypeError, FileNotFoundError) as exc:
        fail(parser, str(exc))
    trial.run_dir = str(make_run_dir(args.logdir, args.env, args.agent, args.seed))
    built[1]["command"] = " ".join(["python -m rlzero.train", *(argv if argv is not None else sys.argv[1:])])
    report(f"run directory: {trial.run_dir}")
    try:
        record = run(trial, built)
    except TrialInterrupted as stop:
        record = stop.record
    shown = {k: v for k, v in record.items() if k not in ("evaluations", "settings", "timing")}
    print("\n".join(f"{k:>24}: {v}" for k, v in shown.items()))
    return 130 if record["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
