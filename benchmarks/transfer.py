"""Measure transfer from ZeroOut-v0 to its variants: does fine-tuning beat training from scratch?

For each of our agents it pretrains once on ZeroOut-v0 (the plain MLP for targets of the same
size, the size-agnostic ``slot`` network for ZeroOutLarge-v0), then on each target runs every
fine-tuning strategy and the from-scratch control over the same seeds and env-step budget, with
the DESIGN evaluation protocol at fixed intervals (an evaluation before any update gives the
jumpstart). Where spaces match, one SB3 baseline does the same source -> target transfer through
``set_parameters`` (SB3's only way to move weights), side by side.

It measures and writes (never asserts): ``<out>/transfer.json``, ``<out>/transfer.md`` and one
learning-curve PNG per agent and target.

    python benchmarks/transfer.py                 # full run (see benchmarks/README.md)
    python benchmarks/transfer.py --quick         # the whole pipeline on a tiny budget
    python benchmarks/transfer.py --workers 2     # trials on a local pool of 2 processes
    python benchmarks/transfer.py --backend ray --ray-address auto --resume

Pretraining runs first (one trial per agent and network, and SB3's), then every (agent, target, arm,
seed) runs as one sweep through :func:`rlzero.trials.run_trials`: a local process pool by default
(``--workers``, default the number of CPUs) or Ray tasks (``--backend ray``). Finished trials are
appended to ``<out>/pretrain.jsonl`` and ``<out>/trials.jsonl``; ``--resume`` skips them on a rerun
with the same flags and ``--out``. A trial that fails is reported in ``transfer.json`` and left out of
the figures; a failed pretraining stops the run (exit 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import rlzero
from rlzero.agents.sb3 import SB3_AGENTS
from rlzero.callbacks import EvalCallback
from rlzero.evaluation import SOLVED_THRESHOLD
from rlzero.finetune import FINETUNE_AGENTS, Arm, run_arm, summarize_arm
from rlzero.plots import plot_curves
from rlzero.trials import BackendUnavailable, add_runner_args, describe, run_trials, runner_options

SOURCE = "ZeroOut-v0"
TARGETS = ("ZeroOutCountdown-v0", "ZeroOutInOrder-v0", "ZeroOutLarge-v0")
STRATEGIES = ("full", "freeze", "head")
BUDGETS = {"ZeroOutCountdown-v0": 200_000, "ZeroOutInOrder-v0": 300_000, "ZeroOutLarge-v0": 200_000}
"""Env steps per arm and seed on each target; pretraining uses the agent's default budget."""
SIZE_AGNOSTIC = {"ZeroOutLarge-v0"}
"""Targets whose board size differs from the source: only the slot network can carry weights there."""


def arm_hparams(agent: str, target: str) -> dict[str, Any]:
    return {"net_arch": "slot"} if target in SIZE_AGNOSTIC else {}


def sb3_transfer_trial(
    name: str,
    target: str,
    seed: int,
    budget: int,
    eval_freq: int,
    source_weights: Path | None,
    episodes: int = 100,
) -> dict[str, Any]:
    """One SB3 arm: from scratch, or starting from ``source_weights`` via ``set_parameters``."""
    agent = SB3_AGENTS[name](target, device="cpu", seed=seed)
    if source_weights is not None:
        agent.init_from(source_weights)
    evaluator = EvalCallback(target, eval_freq, episodes, eval_at_start=True)
    agent.learn(budget, evaluator)
    return summarize_arm(evaluator.history) | {"curve": evaluator.history}


def spread(values: list[Any]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    return {
        "median": statistics.median(present) if present else None,
        "min": min(present) if present else None,
        "max": max(present) if present else None,
        "n": len(present),
        "of": len(values),
    }


def summarize(arms: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: spread([a[key] for a in arms]) for key in ("jumpstart", "steps_to_solved", "auc", "final")}


def fmt(stat: dict[str, Any], digits: int = 2) -> str:
    if stat["median"] is None:
        return f"never (0/{stat['of']})"
    if isinstance(stat["median"], float) and digits:
        return f"{stat['median']:.{digits}f} [{stat['min']:.{digits}f}, {stat['max']:.{digits}f}]"
    return f"{stat['median']:,.0f} [{stat['min']:,.0f}, {stat['max']:,.0f}] ({stat['n']}/{stat['of']})"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| agent | target | arm | jumpstart | env steps to solved | ratio to scratch | AUC | final |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        scratch = row["scratch_steps_median"]
        steps = row["summary"]["steps_to_solved"]
        ratio = (
            f"{steps['median'] / scratch:.2f}"
            if steps["median"] is not None and scratch and row["arm"] != "scratch"
            else ""
        )
        lines.append(
            f"| {row['agent']} | {row['target']} | {row['arm']} | {fmt(row['summary']['jumpstart'])} | "
            f"{fmt(row['summary']['steps_to_solved'], 0)} | {ratio} | {fmt(row['summary']['auc'])} | "
            f"{fmt(row['summary']['final'])} |"
        )
    return "\n".join(lines) + "\n"


def trial(spec: dict[str, Any]) -> dict[str, Any]:
    """One trial of the sweep, as plain data (what :func:`rlzero.trials.run_trials` runs).

    ``kind`` ``"arm"``: one of our agents' runs (:func:`rlzero.finetune.run_arm`); ``"sb3-pretrain"``:
    SB3 trained on the source and saved to ``path``; ``"sb3"``: one :func:`sb3_transfer_trial`.
    """
    if spec["kind"] == "arm":
        return run_arm(Arm(**spec["arm"]))
    if spec["kind"] == "sb3-pretrain":
        source = SB3_AGENTS[spec["agent"]](SOURCE, device="cpu", seed=0)
        source.learn(spec["budget"])
        return {"checkpoint": str(source.save(spec["path"]))}
    if spec["kind"] == "sb3":
        return sb3_transfer_trial(
            spec["agent"],
            spec["target"],
            spec["seed"],
            spec["budget"],
            spec["eval_freq"],
            Path(spec["weights"]) if spec["weights"] else None,
            spec["episodes"],
        )
    raise ValueError(f"unknown trial kind {spec['kind']!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--agents", nargs="+", default=list(FINETUNE_AGENTS), choices=list(FINETUNE_AGENTS))
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--seeds", type=int, default=5, help="seeds per arm (default 5)")
    parser.add_argument("--sb3", default="sb3-a2c", choices=[*SB3_AGENTS, "none"], help="SB3 baseline")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per trial (default 1)")
    parser.add_argument("--device", default="cpu", help="device for our agents (cpu or cuda)")
    parser.add_argument("--out", default="benchmarks/results/transfer", help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the pipeline only")
    add_runner_args(parser, resume=True)
    args = parser.parse_args(argv)
    try:
        options = runner_options(args, args.device, threads=args.threads)
    except BackendUnavailable as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    torch.set_num_threads(args.threads)
    out = Path(args.out).resolve()  # trials may run in other processes, or on other nodes
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(1 if args.quick else args.seeds))
    budget_of = {t: 4_000 if args.quick else BUDGETS[t] for t in args.targets}
    episodes = 10 if args.quick else 100
    started = time.time()
    print(f"torch threads {args.threads} per trial, device {args.device}, seeds {seeds}", flush=True)
    print(describe(options), flush=True)

    def progress(labels: list[str]) -> Callable[[int, dict[str, Any]], None]:
        def show(index: int, record: dict[str, Any]) -> None:
            if record["ok"]:
                result = record["result"]
                figures = result.get("figures", {k: v for k, v in result.items() if k != "curve"})
                print(f"{labels[index]}: {figures}", flush=True)
            else:
                print(f"{labels[index]}: FAILED {record['error']['type']}: {record['error']['message']}")

        return show

    # Stage 1: pretraining on the source (one run per agent and network; SB3 once).
    pretrain_specs: dict[tuple[str, str], dict[str, Any]] = {}
    for agent in args.agents:
        budget = 8_000 if args.quick else FINETUNE_AGENTS[agent].default_timesteps
        for arch in sorted({arm_hparams(agent, t).get("net_arch", "mlp") for t in args.targets}):
            arm = Arm(
                agent=agent,
                env_id=SOURCE,
                seed=0,
                total_timesteps=budget,
                eval_freq=max(budget // 10, 1),
                run_dir=str(out / "runs" / f"{agent}-{arch}-pretrain"),
                hparams={"net_arch": arch} if arch != "mlp" else {},
                device=args.device,
                eval_episodes=episodes,
            )
            pretrain_specs[(agent, arch)] = {"kind": "arm", "arm": dataclasses.asdict(arm)}
    sb3_targets = [t for t in args.targets if t not in SIZE_AGNOSTIC] if args.sb3 != "none" else []
    if sb3_targets:
        pretrain_specs[(args.sb3, "sb3")] = {
            "kind": "sb3-pretrain",
            "agent": args.sb3,
            "budget": 8_000 if args.quick else 100_000,
            "path": str(out / "runs" / f"{args.sb3}-pretrain.zip"),
        }
    labels = [f"{agent} pretrained ({arch}) on {SOURCE}" for agent, arch in pretrain_specs]
    records = run_trials(
        trial,
        list(pretrain_specs.values()),
        results_path=out / "pretrain.jsonl",
        on_result=progress(labels),
        **options,
    )
    failed = [r for r in records if not r["ok"]]
    if failed:
        print(f"pretraining failed: {failed[0]['error']['traceback']}", file=sys.stderr)
        return 1
    pretrained = {
        key: r["result"]["summary"]["checkpoint"] if "summary" in r["result"] else r["result"]["checkpoint"]
        for key, r in zip(pretrain_specs, records, strict=True)
    }

    # Stage 2: every (agent, target, arm, seed) on the targets, as one sweep.
    cells: list[tuple[str, str, str, str]] = []  # (agent, target, arm, arch) of each spec below
    specs: list[dict[str, Any]] = []
    for agent in args.agents:
        lr = FINETUNE_AGENTS[agent].config_class().learning_rate / 3
        for target in args.targets:
            hparams = arm_hparams(agent, target)
            arch = hparams.get("net_arch", "mlp")
            budget = budget_of[target]
            for arm_name in ["scratch", *args.strategies]:
                for seed in seeds:
                    arm = Arm(
                        agent=agent,
                        env_id=target,
                        seed=seed,
                        total_timesteps=budget,
                        eval_freq=max(budget // 20, 1),
                        run_dir=str(out / "runs" / f"{agent}-{target}-{arm_name}-{seed}"),
                        hparams=hparams if arm_name == "scratch" else {**hparams, "learning_rate": lr},
                        device=args.device,
                        pretrained=None if arm_name == "scratch" else pretrained[(agent, arch)],
                        strategy="full" if arm_name == "scratch" else arm_name,
                        eval_episodes=episodes,
                    )
                    cells.append((agent, target, arm_name, arch))
                    specs.append({"kind": "arm", "arm": dataclasses.asdict(arm)})
    for target in sb3_targets:
        budget = budget_of[target]
        for arm_name in ("scratch", "full (set_parameters)"):
            for seed in seeds:
                cells.append((args.sb3, target, arm_name, "sb3 MlpPolicy"))
                specs.append(
                    {
                        "kind": "sb3",
                        "agent": args.sb3,
                        "target": target,
                        "seed": seed,
                        "budget": budget,
                        "eval_freq": max(budget // 20, 1),
                        "weights": None if arm_name == "scratch" else pretrained[(args.sb3, "sb3")],
                        "episodes": episodes,
                    }
                )
    labels = [
        f"{a} {t} {arm} seed {s['arm']['seed'] if 'arm' in s else s['seed']}"
        for (a, t, arm, _), s in zip(cells, specs, strict=True)
    ]
    records = run_trials(
        trial, specs, results_path=out / "trials.jsonl", on_result=progress(labels), **options
    )

    grouped: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for cell, record in zip(cells, records, strict=True):
        grouped.setdefault(cell, []).append(record)
    rows: list[dict[str, Any]] = []
    curves: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for (agent, target, arm_name, arch), group in grouped.items():
        done = [r["result"] for r in group if r["ok"]]
        figures = [
            r["figures"] if "figures" in r else {k: v for k, v in r.items() if k != "curve"} for r in done
        ]
        curve = [r["summary"]["evaluations"] if "summary" in r else r["curve"] for r in done]
        curves.setdefault((agent, target), {})[arm_name] = curve
        rows.append(
            {
                "agent": agent,
                "target": target,
                "arm": arm_name,
                "arch": arch,
                "budget": budget_of[target],
                "summary": summarize(figures),
                "per_seed": figures,
                "failed": [{"seed": r["spec"].get("seed"), **r["error"]} for r in group if not r["ok"]],
            }
        )
    for row in rows:
        scratch = next(
            r for r in rows if (r["agent"], r["target"], r["arm"]) == (row["agent"], row["target"], "scratch")
        )
        row["scratch_steps_median"] = scratch["summary"]["steps_to_solved"]["median"]

    for (agent, target), arm_curves in curves.items():
        plot_curves(
            arm_curves,
            out / f"transfer_{agent}_{target}.png",
            title=f"{agent}: {SOURCE} -> {target}",
            threshold=SOLVED_THRESHOLD,
        )
    results = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "rlzero": rlzero.__version__,
            "device": args.device,
        },
        "command": " ".join(["python benchmarks/transfer.py", *(argv if argv is not None else sys.argv[1:])]),
        "seeds": seeds,
        "wall_clock_s": round(time.time() - started, 1),
        "runner": describe(options),
        "failed_trials": sum(len(row["failed"]) for row in rows),
        "rows": rows,
    }
    (out / "transfer.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = markdown(results)
    (out / "transfer.md").write_text(table)
    print(table)
    if results["failed_trials"]:
        print(f"{results['failed_trials']} trial(s) failed: see 'failed' in {out / 'transfer.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
