"""``python -m rlzero.train``: train an agent on an env and leave a complete run directory behind.

A run writes ``<logdir>/<env>__<agent>__<seed>__<time>/``: TensorBoard events, ``model.pt`` (or SB3's
``.zip``), ``config.json`` (everything needed to repeat it) and ``summary.json`` (the final evaluation
with the DESIGN protocol, and the evaluation curve). Ctrl-C saves the checkpoint, writes the summary
with ``"interrupted": true`` and exits 130.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.tensorboard import SummaryWriter

import rlzero
from rlzero.agents import AGENTS, Agent, SB3Agent
from rlzero.agents.callbacks import CallbackList
from rlzero.agents.device import DEVICE_CHOICES
from rlzero.callbacks import EvalCallback, ProgressCallback, TensorBoardCallback
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    check_env_id,
    fail,
    parse_env_kwargs,
    parse_hparams,
    positive_int,
)
from rlzero.evaluation import SOLVED_THRESHOLD
from rlzero.runs import CHECKPOINT_NAME, make_run_dir, write_json


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    summary: dict[str, Any]
    interrupted: bool


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
        help="env steps to train for (default: the agent's own: "
        + ", ".join(f"{name} {cls.default_timesteps:,}" for name, cls in AGENTS.items())
        + ")",
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
        help="hyperparameter overrides, type-checked against the agent's config, e.g. learning_rate=5e-4",
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


def make_agent(args: Any) -> Agent | SB3Agent:
    """Build the agent the flags describe; bad input raises UsageError with one clear line."""
    check_env_id(args.env)
    agent_class = AGENTS[args.agent]
    hparams = parse_hparams(args.hparams, agent_class.hparam_types())
    if args.num_envs is not None:
        hparams["num_envs"] = args.num_envs
    try:
        agent = agent_class(
            args.env,
            device=args.device,
            seed=args.seed,
            env_kwargs=parse_env_kwargs(args.env_kwargs),
            **hparams,
        )
        if args.init_from:
            agent.init_from(args.init_from)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    return agent


def train_agent(
    agent: Agent | SB3Agent,
    total_timesteps: int,
    run_dir: Path,
    eval_freq: int,
    eval_episodes: int = 100,
    progress: bool = False,
    eval_at_start: bool = False,
    config: dict[str, Any] | None = None,
) -> TrainResult:
    """Train with TensorBoard, periodic evaluation and (optionally) a progress bar; save and summarise."""
    if config is not None:
        write_json(run_dir / "config.json", config)
    writer = SummaryWriter(str(run_dir))
    evaluator = EvalCallback(
        agent.env_id, eval_freq, eval_episodes, agent.env_kwargs, writer, eval_at_start=eval_at_start
    )
    callbacks = [TensorBoardCallback(writer), evaluator]
    if progress:
        callbacks.append(ProgressCallback())
    interrupted = False
    try:
        agent.learn(total_timesteps, CallbackList(callbacks), log_interval=max(eval_freq // 4, 1))
    except KeyboardInterrupt:
        interrupted = True
        if not evaluator.history:
            # Ctrl-C before learn reached its loop (so before its on_training_end): evaluate as is.
            evaluator.on_training_start(agent, total_timesteps)
            evaluator.on_training_end()
    finally:
        writer.close()
    checkpoint = agent.save(run_dir / CHECKPOINT_NAME)
    final = evaluator.history[-1]
    summary = {
        "agent": agent.name,
        "env_id": agent.env_id,
        "seed": agent.seed,
        "env_steps": final["env_steps"],
        "wall_time_s": final["wall_time_s"],
        "mean_return": final["mean_return"],
        "mean_normalized_return": final["mean_normalized_return"],
        "success_rate": final["success_rate"],
        "mean_length": final["mean_length"],
        "solved": final["mean_normalized_return"] is not None
        and final["mean_normalized_return"] >= SOLVED_THRESHOLD,
        "interrupted": interrupted,
        "checkpoint": str(checkpoint),
        "evaluations": evaluator.history,
    }
    write_json(run_dir / "summary.json", summary)
    return TrainResult(run_dir, summary, interrupted)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        agent = make_agent(args)
    except UsageError as exc:
        fail(parser, str(exc))
    total = args.total_timesteps or agent.default_timesteps
    run_dir = make_run_dir(args.logdir, args.env, args.agent, args.seed)
    config = {
        "agent": args.agent,
        "env_id": args.env,
        "env_kwargs": agent.env_kwargs,
        "seed": args.seed,
        "device": str(agent.device),
        "total_timesteps": total,
        "eval_freq": args.eval_freq or max(total // 20, 1),
        "eval_episodes": args.eval_episodes,
        "init_from": args.init_from,
        "hparams": agent.config_dict(),
        "torch_threads": torch.get_num_threads(),
        "command": " ".join(["python -m rlzero.train", *(argv if argv is not None else sys.argv[1:])]),
        "versions": {"rlzero": rlzero.__version__, "torch": torch.__version__},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(f"run directory: {run_dir}", file=sys.stderr)
    result = train_agent(
        agent,
        total,
        run_dir,
        config["eval_freq"],
        args.eval_episodes,
        progress=not args.no_progress and sys.stderr.isatty(),
        config=config,
    )
    shown = {k: v for k, v in result.summary.items() if k != "evaluations"}
    print("\n".join(f"{k:>24}: {v}" for k, v in shown.items()))
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
