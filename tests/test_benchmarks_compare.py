"""benchmarks/compare_sb3.py on a --quick run, and the report pieces it is built from (rlzero.report).

The run is restricted to two envs (one ZeroOut, CartPole-v1) and to our DQN and PPO against SB3's DQN and
PPO, so that it stays well under a minute on a loaded 2-core machine while still exercising ours, the SB3
adapters on rl-zoo3's tuned hyperparameters, both "solved" criteria, the ours / SB3 ratios and the verdict.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmark_scripts import load_benchmark

from rlzero.report import cell_summary, markdown_table, ratio, with_interval

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_sb3.py"
AGENTS = ["dqn", "ppo", "sb3-dqn", "sb3-ppo"]
ENVS = ["ZeroOut-v0", "CartPole-v1"]


@pytest.mark.slow
def test_quick_run_writes_json_table_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("rl_zoo3", reason="SB3's side of the comparison runs rl-zoo3's hyperparameters")
    command = [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path), "--agents", *AGENTS]
    proc = subprocess.run(
        [*command, "--envs", *ENVS, "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "compare_sb3.json").read_text())
    assert report["machine"]["cpu_count"] and report["machine"]["platform"]
    for key in ("python", "torch", "gymnasium", "stable_baselines3", "numpy", "rlzero"):
        assert report["versions"][key], key

    records = [r["result"] for r in report["trials"]]
    assert all(r["ok"] for r in report["trials"]), [r.get("error") for r in report["trials"]]
    assert len(records) == len(AGENTS) * len(ENVS)
    for record in records:
        budget = report["budgets"][record["env_id"]][record["agent"]]
        assert record["settings"]["total_timesteps"] == budget == 2_048
        assert record["settings"]["torch_threads"] == 1  # every trial, every agent
        assert record["env_steps"] >= budget and record["env_steps_per_s"] > 0
        assert record["evaluations"][-1]["env_steps"] == record["env_steps"]
    rules = {r["env_id"]: (r["solved_metric"], r["solved_threshold"]) for r in records}
    assert rules == {"ZeroOut-v0": ("mean_normalized_return", 0.99), "CartPole-v1": ("mean_return", 475.0)}

    for env_id in ENVS:
        env = report["envs"][env_id]
        assert set(env["summary"]) == set(AGENTS)
        assert env["best_sb3"] in ("sb3-dqn", "sb3-ppo")
        pairs = {(r["ours"], r["sb3"]): r for r in env["ratios"]}
        assert set(pairs) == {(o, s) for o in ("dqn", "ppo") for s in ("sb3-dqn", "sb3-ppo")}
        rates = {a: s["env_steps_per_s"]["median"] for a, s in env["summary"].items()}
        assert pairs["dqn", "sb3-dqn"]["env_steps_per_s"] == pytest.approx(rates["dqn"] / rates["sb3-dqn"])
        assert pairs["dqn", "sb3-ppo"]["env_steps_per_s"] is None  # not the same family
        stayed = max(env["summary"][a]["stayed_solved"] for a in ("sb3-dqn", "sb3-ppo"))
        assert env["verdict"]["sb3_stayed_solved"] == stayed
        for axis in ("steps", "seconds", "profile"):
            png = tmp_path / f"{env_id}_{axis}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    # SB3 runs rl-zoo3's tuned entry: its learning-rate schedule on CartPole-v1, rlzero's file on ZeroOut.
    presets = {(r["agent"], r["env_id"]): r["settings"]["preset"] for r in records}
    assert presets["sb3-ppo", "CartPole-v1"]["hparams"]["learning_rate"] == "lin_0.001"
    assert presets["sb3-ppo", "CartPole-v1"]["key"].startswith("rl-zoo3 ")
    assert presets["sb3-dqn", "ZeroOut-v0"]["key"] == "rlzero: dqn.yml ZeroOut-v0"

    table = (tmp_path / "compare_sb3.md").read_text()
    for name in [*AGENTS, *ENVS, "dqn / sb3-dqn", "ppo / sb3-ppo", "SB3's best stayed solved on"]:
        assert name in table, name
    assert table in proc.stdout


@pytest.mark.slow
def test_groups_train_every_agents_seeds_as_one_trial_and_report_each_member(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--quick", "--groups", "--seeds", "0-1", "--out", str(tmp_path)]
    command += ["--agents", "dqn", "sb3-a2c", "--envs", "ZeroOut-v0", "--workers", "1"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "compare_sb3.json").read_text())
    seeds = {r["spec"]["agent"]: [] for r in report["trials"]}
    for trial in report["trials"]:
        seeds[trial["spec"]["agent"]].append(trial["spec"]["seed"])
    assert seeds == {"dqn": [[0, 1]], "sb3-a2c": [[0, 1]]}  # one group trial each (SB3's: seed by seed)
    summary = report["envs"]["ZeroOut-v0"]["summary"]
    assert summary["dqn"]["seeds"] == summary["sb3-a2c"]["seeds"] == 2
    assert "ZeroOut-v0 dqn seed 1: final" in proc.stdout and "ZeroOut-v0 sb3-a2c seed 1: final" in proc.stdout


def record(final: float, steps_to_solved: int | None, stayed: bool, rate: float) -> dict[str, Any]:
    return {
        "final": final,
        "steps_to_solved": steps_to_solved,
        "seconds_to_solved": None if steps_to_solved is None else steps_to_solved / 1000,
        "stayed_solved": stayed,
        "solved_final": stayed,
        "env_steps_per_s": rate,
        "replay_ratio": 1.0,
        "env_steps": 10_000,
    }


def test_cell_summary_counts_seeds_and_failures() -> None:
    cell = cell_summary(
        [
            record(1.0, 2000, True, 100.0),
            record(0.5, None, False, 300.0),
            None,
            record(1.0, 4000, False, 200.0),
        ]
    )
    assert (cell["seeds"], cell["failed"], cell["solved"], cell["stayed_solved"]) == (4, 1, 2, 1)
    assert cell["steps_to_solved"]["median"] == 3000 and cell["steps_to_solved"]["n"] == 2
    assert cell["final"]["n"] == 3 and cell["env_steps_per_s"]["median"] == 200.0
    assert ratio(1.0, 4.0) == 0.25 and ratio(None, 4.0) is None and ratio(1.0, 0.0) is None


def test_markdown_pieces() -> None:
    assert with_interval({"iqm": 0.5, "ci95": [0.25, 0.75]}, 2) == "0.50 [0.25, 0.75]"
    assert with_interval({"p": 1.0, "ci95": [1.0, 1.0]}, 1) == "1.0 [1.0, 1.0]"
    assert with_interval({"iqm": None, "ci95": None}) == "—"
    assert markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n|---|---:|\n| 1 | 2 |"


@pytest.mark.slow
def test_the_verdict_falls_back_to_sb3s_fastest_solver_where_no_sb3_agent_stays_solved() -> None:
    compare = load_benchmark("compare_sb3")
    summary = {
        "ours": cell_summary([record(1.0, 3000, True, 1.0), record(1.0, 3000, True, 1.0)]),
        "slow": cell_summary([record(1.0, 8000, False, 1.0), record(1.0, 8000, False, 1.0)]),
        "quick": cell_summary([record(1.0, 6000, False, 1.0), record(0.5, None, False, 1.0)]),
    }
    v = compare.verdict(summary, ["ours"], ["slow", "quick"])
    assert (v["sb3_stayed_solved"], v["sb3_fastest"], v["ours_fastest"]) == (0, "quick", "ours")
    assert v["seconds_ratio"] == 0.5
    summary["slow"] = cell_summary([record(1.0, 8000, True, 1.0), record(1.0, 8000, False, 1.0)])
    v = compare.verdict(summary, ["ours"], ["slow", "quick"])
    assert (v["sb3_stayed_solved"], v["sb3_fastest"], v["seconds_ratio"]) == (1, "slow", 3 / 8)
