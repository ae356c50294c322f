"""``python -m rlzero.finetune``: pretrain on one ZeroOut variant, fine-tune on another, measure the gain.

For each seed it fine-tunes the pretrained weights on the target (strategy ``full``, ``freeze`` or
``head``, see :mod:`rlzero.agents.transfer`) and, as the control, trains the same agent from scratch
on the target with the same budget. Both use the agent's default hyperparameters (plus ``--set``);
the fine-tuned run alone uses ``--lr`` (default: a third of the agent's learning rate). The run
directory holds the pretraining run (unless ``--pretrained`` is given), one run per seed and arm,
``trials.jsonl`` (one record per seed and arm, see :mod:`rlzero.trials`), ``transfer_report.json`` and
``transfer_curves.png``.

Pretraining runs first, in this process; the seeds' arms then run through :func:`rlzero.trials.run_trials`:
by default on a local process pool (``--workers``, default the number of CPUs), or as Ray tasks
(``--backend ray [--ray-address ADDR]``). An arm that fails is reported and left out of the aggregates
(the run then exits 1); the others still run.

Report figures, per seed and aggregated (median, min, max) for fine-tuned and scratch:
``jumpstart`` (normalized return on the target before any update), ``steps_to_solved`` (env steps
at the first evaluation >= 0.99; None if never), ``auc`` (mean normalized return over the
evaluations, i.e. the area under the curve divided by the budget) and ``final``.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rlzero.agents import Agent
from rlzero.agents.checkpoint import load_checkpoint
from rlzero.agents.device import DEVICE_CHOICES, resolve_device
from rlzero.agents.dqn import DQN
from rlzero.agents.reinforce import Reinforce
from rlzero.agents.transfer import STRATEGIES, transfer
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    check_env_id,
    fail,
    parse_hparams,
    positive_int,
    report,
)
from rlzero.evaluation import SOLVED_THRESHOLD
from rlzero.plots import curve_values, plot_curves
from rlzero.runs import claim_dir, make_run_dir, write_json
from rlzero.train import train_agent
from rlzero.trials import BackendUnavailable, add_runner_args, describe, run_trials, runner_options

FINETUNE_AGENTS: dict[str, type[Agent]] = {"dqn": DQN, "reinforce": Reinforce}
"""Agents whose weights the pipeline moves (our own: SB3 agents go through benchmarks/transfer.py)."""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m rlzero.finetune",
        description="Pretrain on a source env (or load --pretrained), fine-tune on a target env, and "
        "compare against training from scratch with the same budget.",
    )
    parser.add_argument("--agent", required=True, choices=list(FINETUNE_AGENTS), help="which agent")
    parser.add_argument("--source", default="ZeroOut-v0", help="env to pretrain on (default ZeroOut-v0)")
    parser.add_argument("--target", default="ZeroOutInOrder-v0", help="env to fine-tune on")
    parser.add_argument("--pretrained", metavar="CKPT", help="skip pretraining: start from this checkpoint")
    parser.add_argument(
        "--strategy", default="full", choices=STRATEGIES, help="full, freeze (body frozen) or head"
    )
    parser.add_argument("--lr", type=float, default=None, help="fine-tuning learning rate")
    parser.add_argument(
        "--total-timesteps", type=positive_int, default=None, help="env steps per arm and seed"
    )
    parser.add_argument(
        "--pretrain-timesteps", type=positive_int, default=None, help="env steps of pretraining"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default 0 1 2)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="auto picks CUDA")
    parser.add_argument("--logdir", default="runs", help="parent folder of the run directory")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="K=V", dest="hparams", help="hyperparameter overrides"
    )
    parser.add_argument("--eval-freq", type=positive_int, default=None, help="env steps between evals")
    parser.add_argument("--eval-episodes", type=positive_int, default=100, help="episodes per evaluation")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_runner_args(parser)
    return parser


def summarize_arm(history: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Jumpstart, steps to solved, AUC and final figure of one run's evaluation curve."""
    values = [curve_values(row) for row in history]
    solved_at = next(
        (row["env_steps"] for row, v in zip(history, values, strict=True) if v >= SOLVED_THRESHOLD), None
    )
    return {
        "jumpstart": values[0],
        "steps_to_solved": solved_at,
        "auc": sum(values) / len(values),
        "final": values[-1],
    }


def aggregate(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max over seeds of every figure; steps to solved counts the seeds that got there."""
    out: dict[str, Any] = {}
    for key in ("jumpstart", "steps_to_solved", "auc", "final"):
        values = [s[key] for s in per_seed if s[key] is not None]
        out[key] = {
            "median": statistics.median(values) if values else None,
            "min": min(values) if values else None,
            "max": max(values) if values else None,
            "n": len(values),
        }
    return out


def verdict(finetuned: dict[str, Any], scratch: dict[str, Any], n_seeds: int) -> str:
    """One sentence: does fine-tuning reach solved in at most half the env steps of scratch?"""
    ft, sc = finetuned["steps_to_solved"], scratch["steps_to_solved"]
    if ft["n"] * 2 <= n_seeds:
        return f"fine-tuning reached solved on only {ft['n']}/{n_seeds} seeds"
    if sc["n"] * 2 <= n_seeds:
        return f"fine-tuning solved on {ft['n']}/{n_seeds} seeds; scratch only on {sc['n']}/{n_seeds}"
    ratio = ft["median"] / sc["median"] if sc["median"] else float("inf")
    half = "at most half" if ratio <= 0.5 else "more than half"
    return (
        f"fine-tuned median steps to solved {ft['median']:.0f} vs scratch {sc['median']:.0f} "
        f"(ratio {ratio:.2f}: {half} of scratch)"
    )


@dataclasses.dataclass
class Arm:
    """One training run of the pipeline, as plain data (so a process pool or Ray can run it)."""

    agent: str
    env_id: str
    seed: int
    total_timesteps: int
    eval_freq: int
    run_dir: str
    eval_episodes: int = 100
    hparams: dict[str, Any] = dataclasses.field(default_factory=dict)
    device: str = "auto"
    pretrained: str | None = None
    """checkpoint to start from; None trains from scratch"""
    strategy: str = "full"
    """how to move the pretrained weights (see rlzero.agents.transfer)"""
    progress: bool = False


def run_arm(arm: Arm) -> dict[str, Any]:
    """Train one arm (pretraining, fine-tuning or scratch) and return its summary and curve figures."""
    agent_class = FINETUNE_AGENTS[arm.agent]
    agent = agent_class(arm.env_id, device=arm.device, seed=arm.seed, **arm.hparams)
    moved = None
    if arm.pretrained is not None:
        payload = load_checkpoint(arm.pretrained, map_location=agent.device)
        moved = transfer(agent, payload["state_dicts"], arm.strategy)
        for line in moved.lines():
            report(f"{arm.env_id} seed {arm.seed} transfer ({arm.strategy}): {line}")
    run_dir = claim_dir(arm.run_dir)  # arm.run_dir, or arm.run_dir_1, ... if that one exists
    result = train_agent(
        agent,
        arm.total_timesteps,
        run_dir,
        arm.eval_freq,
        arm.eval_episodes,
        progress=arm.progress,
        eval_at_start=True,
        config=dataclasses.asdict(arm),
    )
    if result.interrupted:
        raise KeyboardInterrupt
    return {
        "seed": arm.seed,
        "run_dir": str(run_dir),
        "summary": result.summary,
        "figures": summarize_arm(result.summary["evaluations"]),
        "transfer": dataclasses.asdict(moved) if moved else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    agent_class = FINETUNE_AGENTS[args.agent]
    try:
        for env_id in (args.source, args.target):
            check_env_id(env_id)
        device = str(resolve_device(args.device))
        hparams = parse_hparams(args.hparams, agent_class.hparam_types())
        if args.pretrained:
            load_checkpoint(args.pretrained)  # fail now, with one line, on a bad file
        options = runner_options(args, device, threads=args.threads)
    except (UsageError, ValueError, FileNotFoundError, BackendUnavailable) as exc:
        fail(parser, str(exc))
    lr = args.lr if args.lr is not None else agent_class.config_class().learning_rate / 3
    total = args.total_timesteps or agent_class.default_timesteps
    run_dir = make_run_dir(args.logdir, args.target, f"finetune-{args.agent}-{args.strategy}", args.source)
    run_dir = run_dir.resolve()  # trials may run in other processes, or on other nodes of a cluster
    report(f"run directory: {run_dir}")
    in_process = options["backend"] == "local" and (options["workers"] or os.cpu_count()) == 1
    common = {
        "agent": args.agent,
        "eval_episodes": args.eval_episodes,
        "device": device,
        "progress": not args.no_progress and sys.stderr.isatty(),
    }
    try:
        pretrained = args.pretrained
        if pretrained is None:
            report(f"pretraining {args.agent} on {args.source}")
            budget = args.pretrain_timesteps or agent_class.default_timesteps
            pretrain = run_arm(
                Arm(
                    env_id=args.source,
                    seed=args.seeds[0],
                    total_timesteps=budget,
                    eval_freq=args.eval_freq or max(budget // 20, 1),
                    run_dir=str(run_dir / "pretrain"),
                    hparams=hparams,
                    **common,
                )
            )
            pretrained = pretrain["summary"]["checkpoint"]
        pretrained = str(Path(pretrained).resolve())
        common["progress"] = common["progress"] and in_process  # one bar at a time
        arms: list[tuple[int, str, Arm]] = []
        for seed in dict.fromkeys(args.seeds):
            target = {
                "env_id": args.target,
                "seed": seed,
                "total_timesteps": total,
                "eval_freq": args.eval_freq or max(total // 20, 1),
                **common,
            }
            pair = {
                "finetuned": Arm(
                    run_dir=str(run_dir / f"finetune_seed{seed}"),
                    hparams={**hparams, "learning_rate": lr},
                    pretrained=pretrained,
                    strategy=args.strategy,
                    **target,
                ),
                "scratch": Arm(run_dir=str(run_dir / f"scratch_seed{seed}"), hparams=hparams, **target),
            }
            arms += [(seed, name, arm) for name, arm in pair.items()]
        report(describe(options))

        def progress(index: int, record: dict[str, Any]) -> None:
            seed, name, _ = arms[index]
            if record["ok"]:
                figures = record["result"]["figures"]
                shown = ", ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
                )
                report(f"seed {seed} {name}: {shown}")
            else:
                report(f"seed {seed} {name}: FAILED {record['error']['type']}: {record['error']['message']}")

        records = run_trials(
            run_arm,
            [arm for _, _, arm in arms],
            results_path=run_dir / "trials.jsonl",
            on_result=progress,
            **options,
        )
        results: dict[int, dict[str, Any]] = {}
        failed = []
        for (seed, name, _), record in zip(arms, records, strict=True):
            if record["ok"]:
                results.setdefault(seed, {})[name] = record["result"]
            else:
                failed.append({"seed": seed, "arm": name, "error": record["error"]})
        seeds = [
            {
                "seed": seed,
                "transfer": pair["finetuned"]["transfer"],
                **{name: r["figures"] for name, r in pair.items()},
                "curves": {name: r["summary"]["evaluations"] for name, r in pair.items()},
            }
            for seed, pair in results.items()
            if len(pair) == 2  # a seed counts when both its arms finished
        ]
        if not seeds:
            fail(parser, f"every seed failed; first error: {failed[0]['error']['message']}")
    except (ValueError, FileNotFoundError) as exc:
        fail(parser, str(exc))
    except KeyboardInterrupt:
        report("interrupted")
        return 130

    aggregated = {arm: aggregate([s[arm] for s in seeds]) for arm in ("finetuned", "scratch")}
    summary = {
        "agent": args.agent,
        "source": args.source,
        "target": args.target,
        "strategy": args.strategy,
        "learning_rate": lr,
        "total_timesteps": total,
        "device": device,
        "pretrained": pretrained,
        "hparams": hparams,
        "aggregate": aggregated,
        "verdict": verdict(aggregated["finetuned"], aggregated["scratch"], len(seeds)),
        "seeds": seeds,
        "failed": failed,
    }
    write_json(run_dir / "transfer_report.json", summary)
    plot_curves(
        {
            f"fine-tuned ({args.strategy})": [s["curves"]["finetuned"] for s in seeds],
            "from scratch": [s["curves"]["scratch"] for s in seeds],
        },
        run_dir / "transfer_curves.png",
        title=f"{args.agent}: {args.source} -> {args.target}",
        threshold=SOLVED_THRESHOLD,
    )
    for arm in ("finetuned", "scratch"):
        figures = aggregated[arm]
        report(
            f"{arm:>9}: jumpstart {figures['jumpstart']['median']:.3f}, "
            f"steps to solved {figures['steps_to_solved']['median']} "
            f"({figures['steps_to_solved']['n']}/{len(seeds)} seeds), auc {figures['auc']['median']:.3f}"
        )
    print(summary["verdict"])
    print(f"report: {Path(run_dir) / 'transfer_report.json'}")
    if failed:
        report(f"{len(failed)} arm(s) failed (errors in the report and in {run_dir / 'trials.jsonl'})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
