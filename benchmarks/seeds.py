"""Does `python -m rlzero.train --agent AGENT` with its defaults solve ZeroOut-v0 on every seed, and stay so?

Runs the train CLI itself (defaults: budget, hyperparameters, evaluation every twentieth of the budget
with 100 episodes) for seeds 0..N-1 and reads each run's ``summary.json``: the first evaluation at or
above 0.99, whether every later one is too, the training seconds to get there and env steps/s.
It measures and writes (``<out>/seeds_<agent>.json`` and ``.md``); it never asserts.

    python benchmarks/seeds.py --agent dqn
    python benchmarks/seeds.py --agent reinforce --seeds 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

from rlzero.agents import AGENTS
from rlzero.evaluation import SOLVED_THRESHOLD
from rlzero.train import main as train_main


def solved_figures(evaluations: list[dict[str, Any]]) -> dict[str, Any]:
    """First solved evaluation, and whether every later evaluation stays solved."""
    values = [row["mean_normalized_return"] for row in evaluations]
    first = next((i for i, v in enumerate(values) if v is not None and v >= SOLVED_THRESHOLD), None)
    return {
        "steps_to_solved": evaluations[first]["env_steps"] if first is not None else None,
        "seconds_to_solved": evaluations[first]["wall_time_s"] if first is not None else None,
        "stays_solved": first is not None and all(v >= SOLVED_THRESHOLD for v in values[first:]),
        "curve": [round(v, 3) for v in values],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--agent", default="dqn", choices=list(AGENTS))
    parser.add_argument("--env", default="ZeroOut-v0")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/seeds")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rows = []
    for seed in range(args.seeds):
        logdir = out / "runs" / f"{args.agent}-{seed}"
        code = train_main(
            [
                "--agent",
                args.agent,
                "--env",
                args.env,
                "--seed",
                str(seed),
                "--logdir",
                str(logdir),
                "--no-progress",
            ]
        )
        if code != 0:
            raise SystemExit(f"training seed {seed} exited {code}")
        summary = json.loads(next(logdir.glob("*/summary.json")).read_text())
        row = {
            "seed": seed,
            "env_steps": summary["env_steps"],
            "wall_time_s": summary["wall_time_s"],
            "env_steps_per_s": summary["env_steps"] / summary["wall_time_s"],
            "final": summary["mean_normalized_return"],
            **solved_figures(summary["evaluations"]),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    solved = [r for r in rows if r["steps_to_solved"] is not None]
    result = {
        "agent": args.agent,
        "env": args.env,
        "command": f"python benchmarks/seeds.py --agent {args.agent} --env {args.env} --seeds {args.seeds}",
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, 1 torch thread",
        "seeds_solved": len(solved),
        "seeds_stayed_solved": sum(r["stays_solved"] for r in rows),
        "median_steps_to_solved": statistics.median(r["steps_to_solved"] for r in solved) if solved else None,
        "median_seconds_to_solved": statistics.median(r["seconds_to_solved"] for r in solved)
        if solved
        else None,
        "median_env_steps_per_s": statistics.median(r["env_steps_per_s"] for r in rows),
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"seeds_{args.agent}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"`{result['command']}` ({result['machine']})",
        "",
        "| seed | env steps to solved | training s to solved | stays solved | final | env steps/s |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['seed']} | {r['steps_to_solved']} | {r['seconds_to_solved']} | {r['stays_solved']} | "
            f"{r['final']:.3f} | {r['env_steps_per_s']:,.0f} |"
            for r in rows
        ),
        "",
        f"Solved {result['seeds_solved']}/{args.seeds}, "
        f"stayed solved {result['seeds_stayed_solved']}/{args.seeds}; "
        f"median {result['median_steps_to_solved']} env steps "
        f"and {result['median_seconds_to_solved']} s to solved; "
        f"median {result['median_env_steps_per_s']:,.0f} env steps/s.",
    ]
    (out / f"seeds_{args.agent}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
