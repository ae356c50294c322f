"""Transfer from one env variant to others: does fine-tuning beat training from scratch?

A variant is an env id with constructor arguments, written ``ID`` or ``ID:k=v,k=v``
(``LunarLander-v3:enable_wind=True,wind_power=10``). Each agent is pretrained once on the source variant
(``--source``, default ZeroOut-v0) with its preset (the plain MLP for targets of the same size, the
size-agnostic ``slot`` network for ZeroOutLarge-v0). On each target, every fine-tuning strategy and the
from-scratch control then train over the same seeds and budget (``--budget``, or :data:`BUDGETS` for
ZeroOut's ids and the agent's preset budget elsewhere), at the same learning rate (the target's preset;
``--lr-scales 1 0.3`` adds fine-tuning arms at other multiples of it), evaluated before any update (the
jumpstart) and every twentieth of the budget. SB3's A2C (or ``--sb3``) does the same transfer where the
spaces match, through ``set_parameters`` (strategy ``full``, SB3's only way to move weights).

Everything is a :func:`rlzero.experiment.run` trial through :func:`rlzero.executor.run_trials`: a local
pool by default, or Ray; ``--resume`` keeps finished trials. Each arm is one group trial of every seed
(each member is the run of its seed alone). It writes ``transfer.json``, ``transfer.md`` and one
learning-curve PNG per agent and target to ``--out``; it measures and never asserts.

    python benchmarks/transfer.py
    python benchmarks/transfer.py --agents dqn --targets ZeroOutInOrder-v0 --lr-scales 1 0.3
    python benchmarks/transfer.py --agents ppo --sb3 none --source LunarLander-v3:enable_wind=False \\
        --targets LunarLander-v3:enable_wind=True,wind_power=10 --out benchmarks/results/transfer_lunar
    python benchmarks/transfer.py --quick --out /tmp/transfer
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlzero.agents.presets import preset_for
from rlzero.agents.registry import AGENTS, FROM_SCRATCH, agent_class
from rlzero.agents.transfer import STRATEGIES
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    add_runner_args,
    check_env_id,
    fail,
    flatten_seeds,
    parse_env_kwargs,
    positive_int,
    runner_options,
    seed_range,
)
from rlzero.curves import criterion, curve_summary
from rlzero.executor import BackendUnavailable, describe, failure, interrupted, run_trials
from rlzero.experiment import Trial, run, seed_results
from rlzero.finetune import transfer_summary
from rlzero.plots import plot_curves
from rlzero.report import (
    command_line,
    markdown_table,
    ratio,
    run_line,
    steps,
    times,
    with_interval,
    write_report,
)
from rlzero.stats import probability_of_improvement
from rlzero.system import package_versions

SOURCE = "ZeroOut-v0"
"""The default source variant."""
BUDGETS = {
    target: 100_000
    for target in ("ZeroOutCountdown-v0", "ZeroOutInOrder-v0", "ZeroOutLarge-v0", "ZeroOutFewestSteps-v0")
}
"""Env steps per arm and seed on each target, the same for every arm of both agents (REINFORCE's preset
budget there, half DQN's); pretraining uses the source's preset budget."""
SIZE_AGNOSTIC = {"ZeroOutLarge-v0"}
"""Targets whose board size differs from the source's: only the slot network carries weights there."""
QUICK = {"budget": 4_000, "pretrain": 8_000, "episodes": 10, "seeds": [0]}

Variant = tuple[str, dict[str, Any]]
"""An env id and its constructor arguments."""


def parse_variant(text: str) -> Variant:
    """``ID`` or ``ID:k=v,k=v`` as an env id and constructor arguments; UsageError for a bad one."""
    env_id, _, kwargs = text.partition(":")
    check_env_id(env_id)
    return env_id, parse_env_kwargs([pair for pair in kwargs.split(",") if pair], f"variant {text!r}")


def variant_label(variant: Variant) -> str:
    """``ID`` or ``ID (k=v, k=v)``."""
    env_id, kwargs = variant
    return f"{env_id} ({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else env_id


def arm_budget(agent: str, variant: Variant) -> int:
    """Env steps per arm and seed on a target: :data:`BUDGETS` for ZeroOut's ids, else the agent's
    preset budget there."""
    return BUDGETS.get(variant[0]) or preset_for(agent, variant[0])[1].total_timesteps


def network(agent: str, target: str) -> dict[str, Any]:
    """The network hyperparameters that let weights move from the source to ``target`` (the slot network,
    for an agent that has one)."""
    has_slots = "net_arch" in agent_class(agent).hparam_types()
    return {"net_arch": "slot"} if target in SIZE_AGNOSTIC and has_slots else {}


def arms(
    agent: str, target: str, strategies: Sequence[str], scales: Sequence[float]
) -> list[tuple[str, Any]]:
    """``(label, strategy, hyperparameters)`` of every arm of one agent on one target, scratch first: each
    strategy the agent has, at each multiple of its preset's learning rate (where that is a number)."""
    base = network(agent, target)
    cls = agent_class(agent)
    defaults = vars(cls.config_class()) if hasattr(cls, "config_class") else {}
    lr = {**defaults, **preset_for(agent, target)[1].hparams}.get("learning_rate")
    out = [("scratch", None, base)]
    for strategy in [s for s in strategies if s in cls.strategies]:
        for scale in scales if isinstance(lr, float) else [1.0]:
            label = strategy if scale == 1 else f"{strategy} (lr x{scale:g})"
            out.append((label, strategy, base if scale == 1 else {**base, "learning_rate": lr * scale}))
    return out


def table_rows(agent: str, target: Variant, cells: dict[str, list[Any]]) -> list[list[Any]]:
    """One row per fine-tuning arm against the same seeds' scratch runs."""
    rule, rows = criterion(*target), []
    scratch = cells["scratch"]
    for label, records in cells.items():
        pairs = [(ft, sc) for ft, sc in zip(records, scratch, strict=True) if ft and sc]
        per_seed = [
            {
                "finetuned": curve_summary(ft["evaluations"], rule),
                "scratch": curve_summary(sc["evaluations"], rule),
            }
            for ft, sc in pairs
        ]
        if not per_seed:
            continue
        summary = transfer_summary(per_seed)["aggregate"]
        arm = summary["scratch" if label == "scratch" else "finetuned"]
        solved, baseline = arm["steps_to_solved"], summary["scratch"]["steps_to_solved"]
        auc = [s["finetuned"]["auc"] for s in per_seed], [s["scratch"]["auc"] for s in per_seed]
        rows.append(
            [
                agent,
                variant_label(target),
                label,
                with_interval(arm["jumpstart"], 2),
                f"{steps(solved['median'])} ({solved['n']}/{solved['of']})",
                "" if label == "scratch" else times(ratio(solved["median"], baseline["median"])),
                with_interval(arm["auc"], 2),
                with_interval(arm["final"], 2),
                "" if label == "scratch" else with_interval(probability_of_improvement(*auc), 2),
            ]
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="benchmarks/transfer.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", nargs="+", default=list(FROM_SCRATCH), choices=list(FROM_SCRATCH))
    parser.add_argument("--source", default=SOURCE, help="the variant to pretrain on: ID or ID:k=v,k=v")
    parser.add_argument(
        "--targets", nargs="+", default=list(BUDGETS), help="variants to fine-tune on: ID or ID:k=v,k=v"
    )
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--lr-scales", nargs="+", type=float, default=[1.0], help="fine-tuning lr multiples")
    parser.add_argument("--seeds", nargs="+", type=seed_range, default=[list(range(5))], help="e.g. 0-4")
    parser.add_argument(
        "--budget",
        type=positive_int,
        default=None,
        help="env steps per arm and seed on every target (also with --quick)",
    )
    parser.add_argument(
        "--sb3", default="sb3-a2c", choices=[a for a in AGENTS if a not in FROM_SCRATCH] + ["none"]
    )
    parser.add_argument("--device", default="cpu", help="device of every trial (default cpu)")
    parser.add_argument("--out", default="benchmarks/results/transfer", help="results folder")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: the pipeline only")
    add_runner_args(parser, resume=True)
    args = parser.parse_args(argv)
    try:
        source = parse_variant(args.source)
        targets = [parse_variant(t) for t in args.targets]
        for variant in (source, *targets):
            criterion(*variant)  # builds each variant: its kwargs are checked now
        options = runner_options(args, args.device)
    except (UsageError, ValueError, TypeError, BackendUnavailable) as exc:
        fail(parser, str(exc))
    out = Path(args.out).resolve()  # trials may run in other processes, or on other nodes
    quick = QUICK if args.quick else {}
    seeds = quick.get("seeds") or flatten_seeds(args.seeds)
    episodes = quick.get("episodes", 100)
    sb3 = [] if args.sb3 == "none" else [args.sb3]
    agents_on = {
        variant_label(t): [*args.agents, *(sb3 if t[0] not in SIZE_AGNOSTIC else [])] for t in targets
    }
    command = command_line("benchmarks/transfer.py", argv)
    first_line = run_line(command)
    print(f"{first_line}; {describe(options)}", flush=True)

    common = {"device": args.device, "eval_episodes": episodes}

    # Stage 1: pretraining on the source, once per agent and network.
    sources = {(a, json.dumps(network(a, t[0]))) for t in targets for a in agents_on[variant_label(t)]}
    keys = sorted(sources)
    pretrain = [
        Trial(
            agent,
            source[0],
            env_kwargs=source[1],
            total_timesteps=quick.get("pretrain"),
            hparams=json.loads(net),
            run_dir=str(out / "runs" / f"{agent}-{json.loads(net).get('net_arch', 'mlp')}-pretrain"),
            **common,
        )
        for agent, net in keys
    ]
    checkpoints = {}
    for key, record in zip(
        keys, run_trials(run, pretrain, results_path=out / "pretrain.jsonl", **options), strict=True
    ):
        if not record["ok"] or record.get("interrupted"):
            print(f"pretraining {key[0]}: {failure(record) if not record['ok'] else 'interrupted'}")
            return 130 if record.get("interrupted") else 1
        checkpoints[key] = record["result"]["checkpoint"]

    # Stage 2: every arm of every agent on every target, over the seeds.
    cells: list[tuple[str, Variant, str]] = []
    trials: list[Trial] = []
    for target in targets:
        for agent in agents_on[variant_label(target)]:
            pretrained = checkpoints[(agent, json.dumps(network(agent, target[0])))]
            for label, strategy, hparams in arms(agent, target[0], args.strategies, args.lr_scales):
                cells.append((agent, target, label))
                trials.append(
                    Trial(
                        agent,
                        target[0],
                        list(seeds),
                        env_kwargs=target[1],
                        total_timesteps=args.budget or quick.get("budget") or arm_budget(agent, target),
                        hparams=hparams,
                        eval_at_start=True,
                        init_from=pretrained if strategy else None,
                        strategy=strategy,
                        **common,
                    )
                )
    records = run_trials(run, trials, results_path=out / "trials.jsonl", **options)
    if interrupted(records):
        print("interrupted: no report written; --resume picks up from trials.jsonl", file=sys.stderr)
        return 130
    grouped: dict[tuple[str, str], dict[str, list[Any]]] = {}
    variants = {variant_label(t): t for t in targets}
    for (agent, target, label), trial, record in zip(cells, trials, records, strict=True):
        members = seed_results(trial, record)
        grouped.setdefault((agent, variant_label(target)), {}).setdefault(label, []).extend(members)
    rows = [row for (agent, name), cell in grouped.items() for row in table_rows(agent, variants[name], cell)]
    header = [
        "agent",
        "target",
        "arm",
        "jumpstart",
        "env steps to solved",
        "ratio to scratch",
        "AUC",
        "final",
        "P(AUC > scratch's)",
    ]
    table = f"{first_line}\n\n" + markdown_table(header, rows, align="lll" + "r" * 6)
    for (agent, name), cell in grouped.items():
        curves = {label: [r["evaluations"] for r in rs if r] for label, rs in cell.items()}
        stem = "".join(c if c.isalnum() or c in "-." else "_" for c in name).strip("_")
        title = f"{agent}: {variant_label(source)} -> {name}, {len(seeds)} seeds"
        plot_curves(curves, out / f"transfer_{agent}_{stem}.png", criterion(*variants[name]), title=title)
    report = {"command": command, "versions": package_versions(), "rows": rows, "trials": records}
    write_report(out, "transfer", report, table)
    failed = sum(not r["ok"] for r in records)
    if failed:
        print(f"{failed} trial(s) failed: see {out / 'transfer.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
