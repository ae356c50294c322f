"""The learners against the optimum: DQN's Q-values against Q*, with and without double-Q and n-step
returns, and the policy agents' probability of an optimal pick, over training.

ZeroOut's optimal values have closed forms (:mod:`rlzero.envs.optimal`), so at every evaluation each
member's outputs on a fixed set of held-out boards are scored against them (:mod:`rlzero.diagnostics`):
DQN's mean |Q - Q*| at its greedy picks and its overestimation ``Q(s, argmax) - Q*(s, argmax)``;
REINFORCE's and PPO's probability of a productive pick and their baseline's |V - V*|. Each variant is
one group of ``--seeds`` (each member its seed's run alone) with the agent's preset on the env, the
variant's settings on top; evaluations every twentieth of the budget. It writes ``diagnostics.json``,
``diagnostics.md`` (the figures at the end of training, IQM [95% CI] over the seeds) and one plot per
env and figure (IQM and interquartile band over the seeds) to ``--out``; it measures and never asserts.

    python benchmarks/diagnostics.py --workers 2
    python benchmarks/diagnostics.py --quick --out /tmp/diagnostics
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlzero.cli import (
    ArgumentParser,
    UsageError,
    add_runner_args,
    fail,
    flatten_seeds,
    runner_options,
    seed_range,
)
from rlzero.curves import Criterion
from rlzero.executor import BackendUnavailable, describe, failure, interrupted, run_trials
from rlzero.experiment import Trial, member_records, run
from rlzero.plots import plot_curves
from rlzero.report import command_line, markdown_table, run_line, with_interval, write_report
from rlzero.stats import aggregate
from rlzero.system import package_versions

ENVS = ("ZeroOut-v0", "ZeroOutFewestSteps-v0")
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dqn (double-Q)": ("dqn", {"double_q": True, "n_steps": 1}),
    "dqn (max)": ("dqn", {"double_q": False, "n_steps": 1}),
    "dqn (double-Q, 3-step)": ("dqn", {"double_q": True, "n_steps": 3}),
    "dqn (max, 3-step)": ("dqn", {"double_q": False, "n_steps": 3}),
    "reinforce": ("reinforce", {}),
    "ppo": ("ppo", {}),
}
"""Label -> (agent, hyperparameters on top of its preset)."""
FIGURES = {
    "dqn": ("q_error_greedy", "overestimation", "q_error"),
    "reinforce": ("optimal_pick", "value_error"),
    "ppo": ("optimal_pick", "value_error"),
}
QUICK = {"budget": 2_048, "episodes": 10, "seeds": [0, 1]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="benchmarks/diagnostics.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=seed_range, default=None, help="e.g. 10-19 (the default)")
    parser.add_argument("--out", default="benchmarks/results/diagnostics", help="results folder")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 2,048 env steps: the pipeline only")
    add_runner_args(parser)
    args = parser.parse_args(argv)
    try:
        options = runner_options(args, "cpu")
    except (UsageError, BackendUnavailable) as exc:
        fail(parser, str(exc))
    quick = QUICK if args.quick else {}
    seeds = flatten_seeds(args.seeds) if args.seeds else quick.get("seeds", list(range(10, 20)))
    cells = [(env_id, label) for env_id in args.envs for label in args.variants]
    trials = [
        Trial(
            VARIANTS[label][0],
            env_id,
            seed=list(seeds),
            total_timesteps=quick.get("budget"),
            hparams=VARIANTS[label][1],
            device="cpu",
            eval_episodes=quick.get("episodes", 100),
        )
        for env_id, label in cells
    ]
    command = command_line("benchmarks/diagnostics.py", argv)
    first_line = run_line(command)
    print(f"{first_line}; {describe(options)}", flush=True)
    records = run_trials(run, trials, **options)
    if interrupted(records):
        print("interrupted: no report written", file=sys.stderr)
        return 130
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for (env_id, label), record in zip(cells, records, strict=True):
        if not record["ok"]:
            print(f"{env_id} {label}: {failure(record)}")
            continue
        members = member_records(record["result"])
        agent = VARIANTS[label][0]
        finals = {
            f: aggregate([m["diagnostics"][f"diagnostics/{f}"] for m in members]) for f in FIGURES[agent]
        }
        rows.append([env_id, label, *(with_interval(finals[f], 3) for f in FIGURES[agent])])
        for figure in FIGURES[agent]:
            curves.setdefault((env_id, figure), {})[label] = [m["evaluations"] for m in members]
    for (env_id, figure), runs in curves.items():
        reference = 1.0 if figure == "optimal_pick" else 0.0
        rule = Criterion(f"diagnostics/{figure}", reference)
        plot_curves(
            runs, out / f"{env_id}_{figure}.png", rule, title=f"{env_id}: {figure}", reference="optimum"
        )
    dqn_rows = [r for r in rows if r[1].startswith("dqn")]
    policy_rows = [r for r in rows if not r[1].startswith("dqn")]
    table = "\n\n".join(
        [
            first_line,
            markdown_table(["env", "variant", "Q error, greedy", "overestimation", "Q error, all"], dqn_rows),
            markdown_table(["env", "agent", "P(optimal pick)", "V error"], policy_rows),
        ]
    )
    report = {"command": command, "versions": package_versions(), "rows": rows, "trials": records}
    write_report(out, "diagnostics", report, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
