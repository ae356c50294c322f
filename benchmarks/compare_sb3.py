"""Our agents against Stable-Baselines3's, tuned against tuned: same envs, seeds, protocol and machine.

Every cell (agent, env) runs ``--seeds`` seeds as :func:`rlzero.experiment.run` trials, each agent on its
preset (``rlzero.agents.presets``): ours on theirs, SB3's on rl-zoo3's tuned hyperparameters and budget (read
from the installed ``rl_zoo3``, and from rlzero's rl-zoo3 files on the ZeroOut ids). Each trial is evaluated
every ``--evaluations``-th of its budget (20 by default; ``--eval-episodes`` deterministic episodes on fresh
seeds, 100 by default; training seconds recorded without the evaluation time); ``--budget ENV=STEPS`` gives
every agent the same budget instead. Trials run interleaved (env, then seed, then agent), one torch thread
each (``--threads``), through :func:`rlzero.executor.run_trials` (a local pool of one process per CPU by
default, or Ray); ``--resume`` keeps the trials already in ``<out>/trials.jsonl``. With ``--groups`` each of
our agents trains an env's seeds as one group (one trial; every member as it would train alone, see
:mod:`rlzero.agents.base`): then our members' seconds are the group's clock, the time all of them took.

Per cell the report gives the final score's interquartile mean with its 95% bootstrap interval, the
seeds that solved, stayed solved and ended solved, the medians of env steps and training seconds to
solved, env-steps/s and the replay ratio; per env the ratios ours / SB3 (env-steps/s against the same
family, seconds to solved against each baseline), the probability that ours beats SB3's best on the
final score, a verdict (does one of ours stay solved on as many seeds as SB3's best, and reach solved
sooner than SB3's fastest among those?) and performance profiles. It writes ``compare_sb3.json``
(every trial's record), ``compare_sb3.md`` and three PNGs per env to ``--out``; it measures and never
asserts.

    python benchmarks/compare_sb3.py --workers 2           # the full run (see benchmarks/README.md)
    python benchmarks/compare_sb3.py --quick --out /tmp/c   # the pipeline on a tiny budget
"""

from __future__ import annotations

import datetime
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlzero.agents.presets import preset_for
from rlzero.agents.registry import FROM_SCRATCH
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    add_runner_args,
    check_env_id,
    fail,
    flatten_seeds,
    parse_budgets,
    positive_int,
    runner_options,
    seed_range,
)
from rlzero.curves import criterion
from rlzero.executor import BackendUnavailable, describe, failure, interrupted, run_trials
from rlzero.experiment import Trial, member_records, run, seed_results
from rlzero.plots import plot_curves, plot_profiles
from rlzero.report import (
    cell_row,
    cell_summary,
    command_line,
    device_label,
    improvement,
    markdown_table,
    num,
    ratio,
    run_line,
    times,
    with_interval,
    write_report,
)
from rlzero.stats import performance_profile
from rlzero.system import describe_machine, machine_info, package_versions

ENVS = (
    "ZeroOut-v0",
    "ZeroOutCountdown-v0",
    "ZeroOutInOrder-v0",
    "ZeroOutLarge-v0",
    "ZeroOutFewestSteps-v0",
    "CartPole-v1",
)
EVALUATIONS = 20
AGENTS = (*FROM_SCRATCH, "sb3-dqn", "sb3-ppo", "sb3-a2c")
SAME_FAMILY = {"dqn": "sb3-dqn", "ppo": "sb3-ppo", "reinforce": "sb3-a2c"}
"""The SB3 baseline each of ours is compared with on env-steps/s (value-based; clipped policy
gradient; on-policy policy gradient without a clip)."""
QUICK = {"budget": 2_048, "evaluations": 2, "episodes": 20, "seeds": [0]}


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="benchmarks/compare_sb3.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help="env ids (default: %(default)s)")
    parser.add_argument(
        "--seeds", nargs="+", type=seed_range, default=None, help="e.g. 10-19 (the default; --quick: 0)"
    )
    parser.add_argument(
        "--budget", nargs="+", default=[], metavar="ENV=STEPS", help="one budget for every agent on ENV"
    )
    parser.add_argument(
        "--evaluations",
        type=positive_int,
        default=EVALUATIONS,
        help="evaluations per trial (default %(default)s)",
    )
    parser.add_argument(
        "--eval-episodes",
        type=positive_int,
        default=100,
        help="episodes per evaluation (default %(default)s)",
    )
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads per trial (default 1)")
    parser.add_argument("--device", default="cpu", help="device of every agent (default cpu; labelled)")
    parser.add_argument("--out", default="benchmarks/results/compare_sb3", help="results folder")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2,048 env steps: the pipeline only")
    parser.add_argument(
        "--groups", action="store_true", help="train each of our agents' seeds of an env as one group"
    )
    add_runner_args(parser, resume=True)
    return parser


def cells_report(env_id: str, labels: Sequence[str], records: dict[str, list[Any]]) -> dict[str, Any]:
    """Every cell of one env, the ratios ours / SB3, P(ours > SB3's best) on the final score, and the
    verdict: the most seeds any SB3 agent stayed solved on, SB3's fastest agent among those, and ours."""
    summary = {label: cell_summary(records[label]) for label in labels}
    sb3 = [label for label in labels if label not in FROM_SCRATCH]
    ours = [label for label in labels if label in FROM_SCRATCH]
    finals = {label: summary[label]["final"]["iqm"] for label in sb3}
    best = max(sb3, key=lambda label: -np.inf if finals[label] is None else finals[label], default=None)
    ratios = [
        {
            "ours": mine,
            "sb3": theirs,
            "env_steps_per_s": ratio(
                summary[mine]["env_steps_per_s"]["median"], summary[theirs]["env_steps_per_s"]["median"]
            )
            if SAME_FAMILY.get(mine) == theirs
            else None,
            "seconds_to_solved": ratio(
                summary[mine]["seconds_to_solved"]["median"], summary[theirs]["seconds_to_solved"]["median"]
            ),
            "p_final_better": improvement(records[mine], records[theirs]) if theirs == best else None,
        }
        for mine in ours
        for theirs in sb3
    ]
    return {"summary": summary, "best_sb3": best, "ratios": ratios, "verdict": verdict(summary, ours, sb3)}


def fastest(summary: Mapping[str, Any], labels: Sequence[str], stayed: int) -> str | None:
    """Of the agents that stayed solved on at least ``stayed`` seeds, the one with the lowest median
    seconds to solved (with ``stayed`` 0: of those that solved at all)."""
    timed = [
        label
        for label in labels
        if summary[label]["stayed_solved"] >= stayed
        and summary[label]["seconds_to_solved"]["median"] is not None
    ]
    return min(timed, key=lambda label: summary[label]["seconds_to_solved"]["median"], default=None)


def verdict(summary: Mapping[str, Any], ours: Sequence[str], sb3: Sequence[str]) -> dict[str, Any]:
    """Does one of ours stay solved on as many seeds as SB3's best agent, and reach solved sooner than
    SB3's fastest agent among those that stay solved on that many?"""
    target = max((summary[label]["stayed_solved"] for label in sb3), default=0)
    theirs, mine = fastest(summary, sb3, target), fastest(summary, ours, target)
    seconds = {label: summary[label]["seconds_to_solved"]["median"] for label in (theirs, mine) if label}
    return {
        "sb3_stayed_solved": target,
        "sb3_fastest": theirs,
        "ours_fastest": mine,
        "seconds_ratio": ratio(seconds.get(mine or ""), seconds.get(theirs or "")),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        report["run_line"],
        "",
        f"Device {report['device']}; {report['threads']} torch thread(s) per trial. "
        f"Versions: {', '.join(f'{k} {v}' for k, v in report['versions'].items())}. "
        f"Whole run: {report['total_seconds']:.0f} s.",
    ]
    for env_id, env in report["envs"].items():
        rule = criterion(env_id)
        lines += ["", f"#### {env_id}", "", f"Solved = {rule.label} >= {rule.threshold:g}.", ""]
        rows = [
            [*cell_row(label, report["budgets"][env_id][label], s), num(s["replay_ratio"], 2)]
            for label, s in env["summary"].items()
        ]
        header = ["agent", "budget", f"final {rule.label} (IQM [95% CI])", "solved", "stayed solved"]
        header += ["env steps to solved", "seconds to solved", "env-steps/s", "replay ratio"]
        lines.append(markdown_table(header, rows))
        ratio_rows = [
            [
                f"{r['ours']} / {r['sb3']}",
                times(r["env_steps_per_s"]),
                times(r["seconds_to_solved"]),
                "—" if r["p_final_better"] is None else with_interval(r["p_final_better"], 2),
            ]
            for r in env["ratios"]
        ]
        if ratio_rows:
            header = ["ours / SB3", "env-steps/s (same family)", "seconds to solved"]
            header.append("P(final score > SB3's best's) [95% CI]")
            lines += ["", markdown_table(header, ratio_rows)]
        v = env["verdict"]
        if any(label not in FROM_SCRATCH for label in env["summary"]):
            lines += [
                "",
                f"SB3's best stayed solved on {v['sb3_stayed_solved']} seeds; the fastest of those: "
                f"{v['sb3_fastest'] or 'none'}; ours: {v['ours_fastest'] or 'none'} "
                f"({times(v['seconds_ratio'])} SB3's median seconds to solved).",
            ]
        lines += [
            "",
            " ".join(f"![{env_id} {axis}]({env_id}_{axis}.png)" for axis in ("steps", "seconds", "profile")),
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        for env_id in args.envs:
            check_env_id(env_id)
        budgets = parse_budgets(args.budget, args.envs)
        options = runner_options(args, args.device, threads=args.threads)
    except (UsageError, BackendUnavailable) as exc:
        fail(parser, str(exc))
    quick = QUICK if args.quick else {}
    seeds = flatten_seeds(args.seeds) if args.seeds else quick.get("seeds", list(range(10, 20)))
    labels = list(dict.fromkeys(args.agents))
    try:  # each agent's preset budget (rl-zoo3's for SB3's), unless --budget or --quick sets one
        budget = {
            e: {a: budgets.get(e, quick.get("budget", preset_for(a, e)[1].total_timesteps)) for a in labels}
            for e in args.envs
        }
    except ValueError as exc:
        fail(parser, str(exc))
    cells, trials = [], []
    for env_id in args.envs:
        for index, seed in enumerate(seeds):
            for label in labels:
                grouped = args.groups
                if grouped and index > 0:
                    continue
                cells.append((env_id, label))
                trials.append(
                    Trial(
                        agent=label,
                        env_id=env_id,
                        seed=list(seeds) if grouped else seed,
                        total_timesteps=budget[env_id][label],
                        device=args.device,
                        eval_freq=max(budget[env_id][label] // quick.get("evaluations", args.evaluations), 1),
                        eval_episodes=quick.get("episodes", args.eval_episodes),
                    )
                )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    first_line = run_line(command_line("benchmarks/compare_sb3.py", argv))
    print(f"{first_line}; device {device_label(args.device)}")
    print(
        f"{describe(options)}; {len(labels)} agents x {len(args.envs)} envs x {len(seeds)} seeds", flush=True
    )
    began = time.perf_counter()

    def show(index: int, record: dict[str, Any]) -> None:
        (env_id, label), result = cells[index], record.get("result")
        if result is None:
            seed = trials[index].seed
            print(f"{env_id} {label} seed {seed}: {failure(record)}", flush=True)
            return
        for member in member_records(result):
            solved = member["steps_to_solved"]
            solved_at = "never solved" if solved is None else f"solved at {solved:,}"
            rate = f"{member['env_steps_per_s']:,.0f} env-steps/s"
            final = num(member["final"], 3)
            print(f"{env_id} {label} seed {member['seed']}: final {final}, {solved_at}, {rate}")
        sys.stdout.flush()

    records = run_trials(run, trials, results_path=out / "trials.jsonl", on_result=show, **options)
    if interrupted(records):
        print("interrupted: no report written; --resume picks up from trials.jsonl", file=sys.stderr)
        return 130
    by_cell: dict[str, dict[str, list[Any]]] = {e: {label: [] for label in labels} for e in args.envs}
    for (env_id, label), trial, record in zip(cells, trials, records, strict=True):
        members = seed_results(trial, record)
        by_cell[env_id][label].extend(members)
    report: dict[str, Any] = {
        "command": command_line("benchmarks/compare_sb3.py", argv),
        "run_line": first_line,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "machine_line": describe_machine(machine),
        "device": device_label(args.device),
        "threads": args.threads,
        "versions": package_versions(),
        "budgets": budget,
        "total_seconds": time.perf_counter() - began,
        "envs": {e: cells_report(e, labels, by_cell[e]) for e in args.envs},
        "trials": records,
    }
    for env_id, cell in by_cell.items():
        rule = criterion(env_id)
        curves = {label: [r["evaluations"] for r in rs if r] for label, rs in cell.items()}
        for axis, x in (("steps", "env_steps"), ("seconds", "wall_time_s")):
            plot_curves(
                curves, out / f"{env_id}_{axis}.png", rule, x=x, title=f"{env_id}, {len(seeds)} seeds"
            )
        finals = {
            label: [r["final"] for r in rs if r and r["final"] is not None] for label, rs in cell.items()
        }
        taus = np.linspace(min(min(f, default=0) for f in finals.values()), rule.threshold, 50)
        profiles = performance_profile({k: v for k, v in finals.items() if v}, taus)
        title = f"{env_id}: final scores, {len(seeds)} seeds"
        plot_profiles(profiles, taus, out / f"{env_id}_profile.png", rule.label, title=title)
    write_report(out, "compare_sb3", report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
