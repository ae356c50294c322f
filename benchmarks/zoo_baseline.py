"""SB3 as rl-zoo3's users train it: ``python -m rl_zoo3.train``, scored with rlzero's evaluation protocol.

For each seed it runs rl-zoo3's own command line, as its documentation gives it, with rl-zoo3's tuned
hyperparameters and budget for the env (from the installed ``rl_zoo3``), saving a checkpoint every
``budget / --evaluations`` env steps (``--save-freq``; rl-zoo3's own evaluation is off, so no evaluation
time is spent during training). Each checkpoint is then scored as our runs are (:func:`rlzero.evaluate`:
``--eval-episodes`` deterministic episodes from the same seeds), at the env steps it holds and the
training seconds it was written at (its file's time since the training env's Monitor started, which
rl-zoo3 records in the ``monitor.csv`` header: Python's start-up and imports are left out, as our runs
leave out theirs). The curve then gives what every rlzero curve gives (:func:`rlzero.curves.curve_summary`):
the final score, the env steps and seconds to the first solved checkpoint, and whether it stayed solved.

Entries that normalise observations (``normalize: true``) are refused: rl-zoo3's checkpoints do not hold
the running statistics of the moment they were written, so they cannot be scored as they played.

    python benchmarks/zoo_baseline.py --algo dqn --env MountainCar-v0 --seeds 10-19 --workers 2
    python benchmarks/zoo_baseline.py --algo ppo --env LunarLander-v3 --seeds 10-19 --workers 2

It writes ``<out>/<algo>_<env>.json`` (every seed's curve and figures, the command lines, the machine) and
prints a markdown table.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlzero.agents.presets import ZOO_UNSUPPORTED, zoo_file
from rlzero.cli import (
    ArgumentParser,
    UsageError,
    add_runner_args,
    check_env_id,
    fail,
    flatten_seeds,
    positive_int,
    runner_options,
    seed_range,
)
from rlzero.curves import criterion, curve_summary
from rlzero.episodes import evaluate
from rlzero.executor import BackendUnavailable, describe, failure, interrupted, run_trials
from rlzero.report import cell_summary, markdown_table, num, steps
from rlzero.system import describe_machine, machine_info, package_versions

ALGOS = ("dqn", "ppo", "a2c")
"""rl-zoo3's algorithms that rlzero's benchmarks compare with."""


def zoo_entry(algo: str, env_id: str) -> dict[str, Any]:
    """rl-zoo3's hyperparameters for ``env_id``, as the installed ``rl_zoo3`` ships them; ValueError where
    it has none, or one this benchmark cannot score as it played."""
    import yaml

    path = zoo_file(algo, env_id)
    entry = yaml.safe_load(path.read_text()).get(env_id) if path.is_file() else None
    if entry is None:
        raise ValueError(f"rl-zoo3 has no {algo} entry for {env_id} ({path})")
    unsupported = sorted(set(entry) & ZOO_UNSUPPORTED)
    if unsupported:
        raise ValueError(
            f"rl-zoo3's {algo} entry for {env_id} uses {', '.join(unsupported)}: its checkpoints cannot be "
            "scored as they played"
        )
    return dict(entry)


def zoo_command(spec: dict[str, Any], folder: Path) -> list[str]:
    """rl-zoo3's training command line for one seed: checkpoints every ``save_freq`` env steps, no
    evaluation of its own, one torch thread, on the CPU."""
    return [
        sys.executable,
        "-m",
        "rl_zoo3.train",
        "--algo",
        spec["algo"],
        "--env",
        spec["env_id"],
        "--seed",
        str(spec["seed"]),
        "--save-freq",
        str(spec["save_freq"]),
        "--eval-freq",
        "-1",
        "--num-threads",
        "1",
        "--device",
        "cpu",
        "--log-folder",
        str(folder),
        "--verbose",
        "0",
        *(["--n-timesteps", str(spec["n_timesteps"])] if spec.get("n_timesteps") else []),
    ]


def monitor_start(run_dir: Path) -> float:
    """When the training env's first Monitor started (its CSV header's ``t_start``)."""
    starts = []
    for path in run_dir.glob("*.monitor.csv"):
        header = path.read_text().splitlines()[0]
        starts.append(float(json.loads(header.lstrip("#"))["t_start"]))
    if not starts:
        raise FileNotFoundError(f"no monitor.csv in {run_dir}: rl-zoo3 did not start training")
    return min(starts)


def train_and_score(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one seed with rl-zoo3's command line (its logs and checkpoints in a temporary folder), score
    every checkpoint; the seed's record."""
    with tempfile.TemporaryDirectory(prefix="rl-zoo3-") as folder:
        return score_run(spec, Path(folder))


def score_run(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    command = zoo_command(spec, folder)
    began = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"rl_zoo3.train exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    (run_dir,) = sorted((folder / spec["algo"]).glob(f"{spec['env_id']}_*"))
    start = monitor_start(run_dir)
    algo_class = getattr(importlib.import_module("stable_baselines3"), spec["algo"].upper())
    checkpoints = sorted(run_dir.glob("rl_model_*_steps.zip"), key=lambda p: int(p.stem.split("_")[2]))
    curve = []
    for path in checkpoints:
        model = algo_class.load(path, device="cpu")
        result = evaluate(model, spec["env_id"], spec["eval_episodes"])
        curve.append(
            {
                "env_steps": int(path.stem.split("_")[2]),
                "wall_time_s": path.stat().st_mtime - start,
                "mean_return": result.mean_return,
                "mean_length": result.mean_length,
            }
        )
    rule = criterion(spec["env_id"])
    figures = curve_summary(curve, rule)
    env_steps = curve[-1]["env_steps"] if curve else 0
    seconds = curve[-1]["wall_time_s"] if curve else 0.0
    return {
        "agent": f"rl-zoo3 {spec['algo']}",
        "env_id": spec["env_id"],
        "seed": spec["seed"],
        "command": " ".join(["python", *command[1:]]).replace(str(folder), "LOGS"),
        "evaluations": curve,
        **figures,
        "env_steps": env_steps,
        "env_steps_per_s": env_steps / max(seconds, 1e-9),
        "replay_ratio": None,
        "process_seconds": round(wall, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="benchmarks/zoo_baseline.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", required=True, choices=ALGOS)
    parser.add_argument("--env", required=True, help="a Gymnasium env id rl-zoo3 has an entry for")
    parser.add_argument(
        "--seeds", nargs="+", type=seed_range, default=[list(range(10, 20))], help="e.g. 10-19"
    )
    parser.add_argument("--evaluations", type=positive_int, default=20, help="checkpoints scored per run")
    parser.add_argument("--eval-episodes", type=positive_int, default=100, help="episodes per checkpoint")
    parser.add_argument("--n-timesteps", type=positive_int, default=None, help="override rl-zoo3's budget")
    parser.add_argument("--out", default="benchmarks/results/zoo_baseline", help="results folder")
    add_runner_args(parser, resume=True)
    args = parser.parse_args(argv)
    try:
        check_env_id(args.env)
        entry = zoo_entry(args.algo, args.env)
        criterion(args.env)
        options = runner_options(args, "cpu")
    except (UsageError, ValueError, BackendUnavailable) as exc:
        fail(parser, str(exc))
    budget = args.n_timesteps or int(float(entry["n_timesteps"]))
    out = Path(args.out).resolve()
    specs = [
        {
            "algo": args.algo,
            "env_id": args.env,
            "seed": seed,
            "save_freq": max(budget // args.evaluations, 1),
            "n_timesteps": args.n_timesteps,
            "eval_episodes": args.eval_episodes,
        }
        for seed in flatten_seeds(args.seeds)
    ]
    command = " ".join(["python benchmarks/zoo_baseline.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"`{command}`; {describe(options)}", flush=True)
    name = f"{args.algo}_{args.env}"
    records = run_trials(train_and_score, specs, results_path=out / f"{name}.jsonl", **options)
    if interrupted(records):
        print("interrupted: no report written; --resume picks up from the .jsonl", file=sys.stderr)
        return 130
    for record in records:
        if not record["ok"]:
            print(f"seed {record['spec']['seed']}: {failure(record)}", flush=True)
    seeds = [r["result"] if r["ok"] else None for r in records]
    cell = cell_summary(seeds)
    rule = criterion(args.env)
    rows = [
        [
            r["seed"],
            num(r["final"], 1),
            steps(r["steps_to_solved"]),
            num(r["seconds_to_solved"], 1),
            str(r["stayed_solved"]),
        ]
        for r in seeds
        if r is not None
    ]
    header = ["seed", f"final {rule.label}", "steps to solved", "seconds to solved", "stayed solved"]
    table = markdown_table(header, rows)
    machine = machine_info()
    summary = (
        f"rl-zoo3 {args.algo} on {args.env} (budget {budget:,}): solved {cell['solved']}/{cell['seeds']}, "
        f"stayed solved {cell['stayed_solved']}/{cell['seeds']}, median seconds to solved "
        f"{num(cell['seconds_to_solved']['median'], 1)}"
    )
    report = {
        "command": command,
        "machine": machine,
        "machine_line": describe_machine(machine),
        "load_avg_end": os.getloadavg()[0],
        "versions": package_versions(),
        "budget": budget,
        "entry": entry,
        "cell": cell,
        "summary": summary,
        "table_markdown": table,
        "seeds": seeds,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"{summary}\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
