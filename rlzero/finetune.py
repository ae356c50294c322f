"""``python -m rlzero.finetune``: pretrain on one env variant, fine-tune on another, measure the gain.

A variant is an env id plus constructor arguments (``--source-kwargs``, ``--target-kwargs``): ZeroOut's
ids and custom boards, LunarLander with and without wind, and so on.

For each seed it fine-tunes the pretrained weights on the target (strategy ``full``, ``freeze`` or
``head``, see :mod:`rlzero.agents.transfer`; SB3 agents move every weight, ``full`` only) and, as the
control, trains the same agent from scratch on the target with the same budget, the same preset and the
same learning rate (``--lr`` sets it for both arms), so that the strategies are compared on the weights
they start from and nothing else. The run directory holds the pretraining run (unless ``--pretrained`` is
given), each arm's group run (``finetune/seed<S>/``, ``scratch/seed<S>/``; see
:func:`rlzero.experiment.run`), ``trials.jsonl`` (one record per arm, see :mod:`rlzero.executor`),
``transfer_report.json``, ``transfer_curves.png``, and one evaluation episode on the target before and
after fine-tuning (the first seed), ``before.gif`` and ``after.gif``.

Pretraining runs first, in this process; the two arms then run through :func:`rlzero.executor.run_trials`:
by default on a local process pool (``--workers``, default the number of CPUs), or as Ray tasks
(``--backend ray [--ray-address ADDR]``). An arm that fails is reported and left out of the aggregates
(the run then exits 1); the other still runs.

Report figures per seed (:func:`rlzero.curves.curve_summary`), and aggregated over the seeds as
interquartile mean with a bootstrap interval, median, min and max (:func:`rlzero.stats.aggregate`), for
the fine-tuned and the scratch arm: ``jumpstart`` (score on the target before any update),
``steps_to_solved`` (env steps at the first solved evaluation; None if never), ``auc`` (mean score over
the evaluations, which are evenly spaced: about the area under the curve divided by the budget) and
``final``.
"""

from __future__ import annotations

import signal
import sys

if __name__ == "__main__":  # a Ctrl-C while the imports below load ends the command quietly
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rlzero.agents import load_agent, read_metadata
from rlzero.agents.device import DEVICE_CHOICES
from rlzero.agents.registry import AGENTS, agent_class
from rlzero.agents.transfer import STRATEGIES
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    add_hparams_arg,
    add_runner_args,
    check_env_id,
    fail,
    flatten_seeds,
    parse_env_kwargs,
    parse_hparams,
    positive_int,
    report,
    run_dir_path,
    runner_options,
    seed_range,
    write_failed,
)
from rlzero.curves import criterion, curve_summary
from rlzero.executor import BackendUnavailable, describe, run_trials, stop_on_interrupt, stop_requested
from rlzero.experiment import Trial, check, member_records, run
from rlzero.plots import plot_curves
from rlzero.runs import claim_dir, write_json
from rlzero.stats import aggregate
from rlzero.video import record_video

FIGURES = ("jumpstart", "steps_to_solved", "auc", "final")
ARMS = ("finetuned", "scratch")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m rlzero.finetune",
        description="Pretrain on a source env (or load --pretrained), fine-tune on a target env, and "
        "compare against training from scratch with the same budget.",
    )
    parser.add_argument("--agent", required=True, choices=list(AGENTS), help="which agent")
    parser.add_argument("--source", default="ZeroOut-v0", help="env to pretrain on (default ZeroOut-v0)")
    parser.add_argument("--target", default="ZeroOutInOrder-v0", help="env to fine-tune on")
    parser.add_argument(
        "--source-kwargs",
        nargs="*",
        default=[],
        metavar="K=V",
        help="the source env's constructor arguments, e.g. enable_wind=False (a variant of any env)",
    )
    parser.add_argument(
        "--target-kwargs",
        nargs="*",
        default=[],
        metavar="K=V",
        help="the target env's constructor arguments, e.g. enable_wind=True wind_power=10",
    )
    parser.add_argument("--pretrained", metavar="CKPT", help="skip pretraining: start from this checkpoint")
    parser.add_argument(
        "--strategy", default="full", choices=STRATEGIES, help="full, freeze (body frozen) or head"
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="learning rate of both arms (default: the target's preset)"
    )
    parser.add_argument(
        "--total-timesteps",
        type=positive_int,
        default=None,
        help="env steps per arm and seed (default: preset)",
    )
    parser.add_argument(
        "--pretrain-timesteps",
        type=positive_int,
        default=None,
        help="env steps of pretraining (default: preset)",
    )
    parser.add_argument(
        "--seeds",
        type=seed_range,
        nargs="+",
        default=[[0, 1, 2]],
        help="seeds or ranges, e.g. 0-4 (default 0-2)",
    )
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="auto picks CUDA")
    parser.add_argument("--logdir", default="runs", help="parent folder of the run directory")
    add_hparams_arg(parser, "hyperparameter overrides")
    parser.add_argument("--eval-freq", type=positive_int, default=None, help="env steps between evals")
    parser.add_argument("--eval-episodes", type=positive_int, default=100, help="episodes per evaluation")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_runner_args(parser)
    return parser


def verdict(finetuned: Mapping[str, Any], scratch: Mapping[str, Any], n_seeds: int) -> str:
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


def transfer_summary(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Every figure of both arms aggregated over the seeds, and the verdict."""
    aggregated = {arm: {key: aggregate([s[arm][key] for s in per_seed]) for key in FIGURES} for arm in ARMS}
    return {
        "aggregate": aggregated,
        "verdict": verdict(aggregated["finetuned"], aggregated["scratch"], len(per_seed)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Pretrain, fine-tune and compare as the flags say; exit status 0, 1 (a failed run or arm), 2
    (misuse) or 130 (Ctrl-C)."""
    with stop_on_interrupt():
        return pretrain_then_finetune(argv)


def pretrain_then_finetune(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.seeds = flatten_seeds(args.seeds)
    torch.set_num_threads(args.threads)
    common: dict[str, Any] = {
        "agent": args.agent,
        "device": args.device,
        "eval_freq": args.eval_freq,
        "eval_episodes": args.eval_episodes,
        "eval_at_start": True,
    }
    try:
        for env_id in (args.source, args.target):
            check_env_id(env_id)
        args.source_kwargs = parse_env_kwargs(args.source_kwargs, "--source-kwargs")
        args.target_kwargs = parse_env_kwargs(args.target_kwargs, "--target-kwargs")
        hparams = parse_hparams(args.hparams, agent_class(args.agent).hparam_types())
        target_hparams = {**hparams, **({"learning_rate": args.lr} if args.lr is not None else {})}
        options = runner_options(args, args.device, threads=args.threads)
        source = Trial(
            env_id=args.source,
            env_kwargs=args.source_kwargs,
            seed=args.seeds[0],
            total_timesteps=args.pretrain_timesteps,
            hparams=hparams,
            **common,
        )
        arm = Trial(
            env_id=args.target,
            env_kwargs=args.target_kwargs,
            seed=args.seeds,
            total_timesteps=args.total_timesteps,
            hparams=target_hparams,
            strategy=args.strategy,
            **common,
        )
        if args.pretrained:
            read_metadata(args.pretrained)  # a bad file fails now, with one line
            arm.init_from = args.pretrained
        else:
            check(source)
        check(arm)  # before any run directory or training
    except (UsageError, ValueError, TypeError, FileNotFoundError, BackendUnavailable) as exc:
        fail(parser, str(exc))
    name = f"finetune-{args.agent}-{args.strategy}"
    # Resolved: trials may run in other processes, or on other nodes of a cluster.
    run_dir = claim_dir(run_dir_path(parser, args.logdir, args.target, name, args.source)).resolve()
    report(f"run directory: {run_dir}")
    in_process = options["backend"] == "local" and (options["workers"] or os.cpu_count()) == 1
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        pretrained = args.pretrained
        if pretrained is None:
            report(f"pretraining {args.agent} on {args.source}")
            source.run_dir, source.progress = str(run_dir / "pretrain"), progress
            pretrained = run(source)["checkpoint"]
            if stop_requested():
                report("interrupted while pretraining: its checkpoint and summary are saved")
                return 130
        pretrained = str(Path(pretrained).resolve())
        arms = {
            "finetuned": dataclasses.replace(
                arm, init_from=pretrained, run_dir=str(run_dir / "finetune"), save_start=True
            ),
            "scratch": dataclasses.replace(
                arm, init_from=None, strategy=None, run_dir=str(run_dir / "scratch")
            ),
        }
        for trial in arms.values():
            trial.progress = progress and in_process  # one bar at a time
        report(describe(options))
        rule = criterion(args.target, args.target_kwargs)

        def show(index: int, record: dict[str, Any]) -> None:
            name = ARMS[index]
            if "error" in record:
                report(f"{name}: FAILED {record['error']['type']}: {record['error']['message']}")
            for result in member_records(record.get("result") or {"members": []}):
                figures = curve_summary(result["evaluations"], rule)
                shown = ", ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
                )
                report(f"seed {result['seed']} {name}: {shown}")

        records = run_trials(
            run, [arms[a] for a in ARMS], results_path=run_dir / "trials.jsonl", on_result=show, **options
        )
    except (ValueError, FileNotFoundError) as exc:
        fail(parser, str(exc))
    except OSError as exc:
        return write_failed(parser.prog, exc, run_dir)
    if stop_requested():
        report("interrupted: every run that started saved its checkpoint and summary")
        return 130

    results: dict[int, dict[str, Any]] = {}
    failed = []
    for arm_name, record in zip(ARMS, records, strict=True):
        if "error" in record:
            failed += [{"seed": seed, "arm": arm_name, "error": record["error"]} for seed in args.seeds]
        for result in member_records(record.get("result") or {"members": []}):
            results.setdefault(result["seed"], {})[arm_name] = result
    per_seed = [
        {
            "seed": seed,
            "transfer": pair["finetuned"]["settings"]["transfer"],
            **{arm_name: curve_summary(r["evaluations"], rule) for arm_name, r in pair.items()},
            "curves": {arm_name: r["evaluations"] for arm_name, r in pair.items()},
        }
        for seed, pair in results.items()
        if len(pair) == len(ARMS)  # a seed counts when both its arms finished
    ]
    if not per_seed:
        report(f"every seed failed; first error: {failed[0]['error']['message']}")
        return 1  # a failed run, not a misused command
    try:
        summary = write_report(args, run_dir, results, per_seed, failed, pretrained, hparams)
    except OSError as exc:
        return write_failed(parser.prog, exc, run_dir)
    for arm_name in ARMS:
        figures = summary["aggregate"][arm_name]
        report(
            f"{arm_name:>9}: jumpstart {figures['jumpstart']['iqm']:.3f}, "
            f"steps to solved {figures['steps_to_solved']['median']} "
            f"({figures['steps_to_solved']['n']}/{len(per_seed)} seeds), auc {figures['auc']['iqm']:.3f}"
        )
    print(summary["verdict"])
    print(f"report: {run_dir / 'transfer_report.json'}")
    if failed:
        report(f"{len(failed)} arm(s) failed (errors in the report and in {run_dir / 'trials.jsonl'})")
        return 1
    return 0


def write_report(
    args: argparse.Namespace,
    run_dir: Path,
    results: dict[int, dict[str, Any]],
    per_seed: list[dict[str, Any]],
    failed: list[dict[str, Any]],
    pretrained: str,
    hparams: dict[str, Any],
) -> dict[str, Any]:
    """Write the videos, ``transfer_report.json`` and ``transfer_curves.png``; return the report."""
    rule, target_kwargs = criterion(args.target, args.target_kwargs), args.target_kwargs
    first_seed = per_seed[0]["seed"]
    first = results[first_seed]["finetuned"]["settings"]
    # One episode on the target before and after fine-tuning (the first seed's arm), to watch: before
    # is where the arm started (the pretrained weights moved into a target agent, which is what a
    # target of another size needs), after is its checkpoint.
    before = load_agent(results[first_seed]["finetuned"]["start_checkpoint"], "cpu")
    after = load_agent(results[first_seed]["finetuned"]["checkpoint"], "cpu")
    videos = {
        moment: str(record_video(agent, args.target, run_dir / f"{moment}.gif", env_kwargs=target_kwargs))
        for moment, agent in (("before", before), ("after", after))
    }
    summary = {
        "agent": args.agent,
        "source": args.source,
        "source_kwargs": args.source_kwargs,
        "target": args.target,
        "target_kwargs": args.target_kwargs,
        "strategy": args.strategy,
        "learning_rate": first["resolved_hparams"].get("learning_rate"),
        "total_timesteps": first["total_timesteps"],
        "device": first["device"],
        "pretrained": pretrained,
        "hparams": hparams,
        **transfer_summary(per_seed),
        "videos": videos,
        "seeds": per_seed,
        "failed": failed,
    }
    write_json(run_dir / "transfer_report.json", summary)
    plot_curves(
        {f"fine-tuned ({args.strategy})": [s["curves"]["finetuned"] for s in per_seed]}
        | {"from scratch": [s["curves"]["scratch"] for s in per_seed]},
        run_dir / "transfer_curves.png",
        rule,
        title=f"{args.agent}: {args.source} -> {args.target}",
    )
    return summary


if __name__ == "__main__":
    sys.exit(main())
