"""Do the CLI's defaults solve every env on every seed, and stay solved?

Each seed's run is what ``python -m rlzero.train --agent AGENT --env ENV --seed S`` runs with its
defaults (the preset's hyperparameters and budget, an evaluation every twentieth of the budget with 100
episodes). The seeds of one agent and env train as one group (``--seeds``: one trial of
:func:`rlzero.experiment.run`, each member as its seed's run alone, bit for bit on one CPU thread); the
groups run on a local pool (or Ray).
SB3 agents cannot form groups: each of their seeds is a trial. Per
agent and env it reports the seeds that solved (mean normalized return >= 0.99, or CartPole's return >=
475), stayed solved (every later evaluation too) and ended solved, the final score's interquartile mean
with its 95% bootstrap interval, the medians of env steps and training seconds to solved, env-steps/s and
the replay ratio, plus one row per seed. It writes ``seeds.json``, ``seeds.md``
and one learning-curve PNG per env to ``--out``; it measures and never asserts.

    python benchmarks/seeds.py --agents dqn reinforce --seeds 10-19
    python benchmarks/seeds.py --agents dqn --envs CartPole-v1 --seeds 10-19 --workers 2
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlzero.agents.presets import ZEROOUT_IDS
from rlzero.agents.registry import AGENTS, FROM_SCRATCH
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    add_runner_args,
    check_env_id,
    fail,
    flatten_seeds,
    runner_options,
    seed_range,
)
from rlzero.curves import criterion
from rlzero.executor import BackendUnavailable, describe, failure, interrupted, run_trials
from rlzero.experiment import Trial, member_records, run, seed_results
from rlzero.plots import plot_curves
from rlzero.report import (
    cell_summary,
    command_line,
    markdown_table,
    num,
    run_line,
    steps,
    with_interval,
    write_report,
)
from rlzero.system import package_versions

ENVS = (*ZEROOUT_IDS, "CartPole-v1")


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="benchmarks/seeds.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", nargs="+", default=list(FROM_SCRATCH), choices=list(AGENTS))
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help="env ids (default: %(default)s)")
    parser.add_argument(
        "--seeds", nargs="+", type=seed_range, default=[list(range(10, 20))], help="e.g. 10-19"
    )
    parser.add_argument("--device", default="cpu", help="device of every trial (default cpu)")
    parser.add_argument("--out", default="benchmarks/results/seeds", help="results folder")
    add_runner_args(parser, resume=True)
    args = parser.parse_args(argv)
    try:
        for env_id in args.envs:
            check_env_id(env_id)
        options = runner_options(args, args.device)
    except (UsageError, BackendUnavailable) as exc:
        fail(parser, str(exc))
    seeds = flatten_seeds(args.seeds)
    cells = [(env_id, agent) for env_id in args.envs for agent in args.agents]
    trials = [Trial(agent, env_id, list(seeds), device=args.device) for env_id, agent in cells]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = command_line("benchmarks/seeds.py", argv)
    first_line = run_line(command)
    print(f"{first_line}; {describe(options)}", flush=True)

    def show(index: int, record: dict[str, Any]) -> None:
        trial, result = trials[index], record.get("result")
        if result is None:
            print(f"{trial.env_id} {trial.agent} seeds {trial.seed}: {failure(record)}", flush=True)
            return
        for r in member_records(result):
            shown = (
                f"final {num(r['final'], 3)}, solved at {r['steps_to_solved']}, stayed {r['stayed_solved']}"
            )
            print(f"{trial.env_id} {trial.agent} seed {r['seed']}: {shown}", flush=True)

    records = run_trials(run, trials, results_path=out / "trials.jsonl", on_result=show, **options)
    if interrupted(records):
        print("interrupted: no report written; --resume picks up from trials.jsonl", file=sys.stderr)
        return 130
    per_cell: dict[tuple[str, str], list[dict[str, Any] | None]] = {cell: [] for cell in cells}
    for trial, record in zip(trials, records, strict=True):
        members = seed_results(trial, record)
        per_cell[trial.env_id, trial.agent].extend(members)
    summary = {cell: cell_summary(rs) for cell, rs in per_cell.items()}
    rows = [
        [
            agent,
            env_id,
            *(f"{s[count]}/{s['seeds']}" for count in ("solved", "stayed_solved", "solved_final")),
            with_interval(s["final"]),
            steps(s["steps_to_solved"]["median"]),
            num(s["seconds_to_solved"]["median"], 1),
            num(s["env_steps_per_s"]["median"], 0),
            num(s["replay_ratio"], 2),
        ]
        for (env_id, agent), s in summary.items()
    ]
    header = ["agent", "env", "solved", "stayed solved", "solved at the end", "final score (IQM [95% CI])"]
    header += ["env steps to solved", "seconds to solved", "env-steps/s", "replay ratio"]
    per_seed = [
        [agent, env_id, r["seed"], num(r["final"], 3), steps(r["steps_to_solved"]), r["stayed_solved"]]
        for (env_id, agent), results in per_cell.items()
        for r in results
        if r is not None
    ]
    seed_header = ["agent", "env", "seed", "final score", "env steps to solved", "stayed solved"]
    table = "\n\n".join(
        [
            first_line,
            markdown_table(header, rows),
            markdown_table(seed_header, per_seed),
        ]
    )
    for env_id in args.envs:
        curves = {agent: [r["evaluations"] for r in per_cell[env_id, agent] if r] for agent in args.agents}
        plot_curves(curves, out / f"{env_id}.png", criterion(env_id), title=f"{env_id}: seeds {args.seeds}")
    report = {
        "command": command,
        "versions": package_versions(),
        "summary": {f"{agent} {env_id}": s for (env_id, agent), s in summary.items()},
        "trials": records,
    }
    write_report(out, "seeds", report, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
