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
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import rlzero
from rlzero.agents.sb3 import SB3_AGENTS
from rlzero.callbacks import EvalCallback
from rlzero.evaluation import SOLVED_THRESHOLD
from rlzero.finetune import FINETUNE_AGENTS, Arm, run_arm, summarize_arm
from rlzero.plots import plot_curves

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--agents", nargs="+", default=list(FINETUNE_AGENTS), choices=list(FINETUNE_AGENTS))
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--seeds", type=int, default=5, help="seeds per arm (default 5)")
    parser.add_argument("--sb3", default="sb3-a2c", choices=[*SB3_AGENTS, "none"], help="SB3 baseline")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu", help="device for our agents (cpu or cuda)")
    parser.add_argument("--out", default="benchmarks/results/transfer", help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the pipeline only")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(1 if args.quick else args.seeds))
    budget_of = {t: 4_000 if args.quick else BUDGETS[t] for t in args.targets}
    episodes = 10 if args.quick else 100
    started = time.time()
    print(f"torch threads {torch.get_num_threads()}, device {args.device}, seeds {seeds}", flush=True)

    rows: list[dict[str, Any]] = []
    curves: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for agent in args.agents:
        agent_class = FINETUNE_AGENTS[agent]
        pretrained: dict[str, str] = {}
        for arch in sorted({arm_hparams(agent, t).get("net_arch", "mlp") for t in args.targets}):
            budget = 8_000 if args.quick else agent_class.default_timesteps
            hparams = {"net_arch": arch} if arch != "mlp" else {}
            result = run_arm(
                Arm(
                    agent=agent,
                    env_id=SOURCE,
                    seed=0,
                    total_timesteps=budget,
                    eval_freq=max(budget // 10, 1),
                    run_dir=str(out / "runs" / f"{agent}-{arch}-pretrain"),
                    hparams=hparams,
                    device=args.device,
                    eval_episodes=episodes,
                )
            )
            pretrained[arch] = result["summary"]["checkpoint"]
            print(f"{agent} pretrained ({arch}) on {SOURCE}: {result['figures']}", flush=True)
        for target in args.targets:
            hparams = arm_hparams(agent, target)
            arch = hparams.get("net_arch", "mlp")
            budget = budget_of[target]
            lr = agent_class.config_class().learning_rate / 3
            arms: dict[str, list[dict[str, Any]]] = {}
            arm_curves: dict[str, list[Any]] = {}
            for arm_name in ["scratch", *args.strategies]:
                arms[arm_name] = []
                arm_curves[arm_name] = []
                for seed in seeds:
                    spec = Arm(
                        agent=agent,
                        env_id=target,
                        seed=seed,
                        total_timesteps=budget,
                        eval_freq=max(budget // 20, 1),
                        run_dir=str(out / "runs" / f"{agent}-{target}-{arm_name}-{seed}"),
                        hparams=hparams if arm_name == "scratch" else {**hparams, "learning_rate": lr},
                        device=args.device,
                        pretrained=None if arm_name == "scratch" else pretrained[arch],
                        strategy="full" if arm_name == "scratch" else arm_name,
                        eval_episodes=episodes,
                    )
                    result = run_arm(spec)
                    arms[arm_name].append(result["figures"])
                    arm_curves[arm_name].append(result["summary"]["evaluations"])
                    print(f"{agent} {target} {arm_name} seed {seed}: {result['figures']}", flush=True)
            curves[(agent, target)] = arm_curves
            scratch_steps = summarize(arms["scratch"])["steps_to_solved"]["median"]
            for arm_name, figures in arms.items():
                rows.append(
                    {
                        "agent": agent,
                        "target": target,
                        "arm": arm_name,
                        "arch": arch,
                        "budget": budget,
                        "summary": summarize(figures),
                        "per_seed": figures,
                        "scratch_steps_median": scratch_steps,
                    }
                )

    if args.sb3 != "none":
        name = args.sb3
        source_budget = 8_000 if args.quick else 100_000
        source = SB3_AGENTS[name](SOURCE, device="cpu", seed=0)
        source.learn(source_budget)
        weights = source.save(out / "runs" / f"{name}-pretrain.zip")
        for target in [t for t in args.targets if t not in SIZE_AGNOSTIC]:
            budget = budget_of[target]
            arms = {"scratch": [], "full (set_parameters)": []}
            arm_curves = {k: [] for k in arms}
            for arm_name in arms:
                for seed in seeds:
                    figures = sb3_transfer_trial(
                        name,
                        target,
                        seed,
                        budget,
                        max(budget // 20, 1),
                        None if arm_name == "scratch" else weights,
                        episodes,
                    )
                    arm_curves[arm_name].append(figures.pop("curve"))
                    arms[arm_name].append(figures)
                    print(f"{name} {target} {arm_name} seed {seed}: {figures}", flush=True)
            curves[(name, target)] = arm_curves
            scratch_steps = summarize(arms["scratch"])["steps_to_solved"]["median"]
            for arm_name, figures in arms.items():
                rows.append(
                    {
                        "agent": name,
                        "target": target,
                        "arm": arm_name,
                        "arch": "sb3 MlpPolicy",
                        "budget": budget,
                        "summary": summarize(figures),
                        "per_seed": figures,
                        "scratch_steps_median": scratch_steps,
                    }
                )

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
        "rows": rows,
    }
    (out / "transfer.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = markdown(results)
    (out / "transfer.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
