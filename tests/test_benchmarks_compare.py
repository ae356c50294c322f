"""Smoke test of benchmarks/compare_sb3.py: a --quick run writes the JSON, the table and the plots.

The run is restricted to two envs (one ZeroOut, CartPole-v1) and to our DQN against SB3's DQN and A2C,
so that it stays well under a minute on a loaded 2-core machine while still exercising one of ours, the
SB3 adapters, both "solved" criteria and the ours / SB3 ratios.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_sb3.py"
AGENTS = ["dqn", "sb3-dqn", "sb3-a2c"]
ENVS = ["ZeroOut-v0", "CartPole-v1"]


def load_script():
    spec = importlib.util.spec_from_file_location("compare_sb3", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_json_table_and_plots(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path), "--agents", *AGENTS]
    proc = subprocess.run(
        [*command, "not-an-agent", "--envs", *ENVS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "torch threads per trial: 1" in proc.stdout
    assert "skipping agent 'not-an-agent'" in proc.stdout

    report = json.loads((tmp_path / "compare_sb3.json").read_text())
    for key in ("platform", "cpu_count"):
        assert report["machine"][key], key
    for key in ("python", "torch", "gymnasium", "stable_baselines3", "numpy"):
        assert report["versions"][key], key
    assert report["settings"]["threads"] == 1
    assert report["skipped_agents"] == {"not-an-agent": "not a known agent"}

    trials = report["trials"]
    assert {(t["agent"], t["env_id"]) for t in trials} == {(a, e) for a in AGENTS for e in ENVS}
    for t in trials:
        assert "error" not in t, t.get("traceback")
        assert t["budget"] == report["settings"]["budgets"][t["env_id"]]
        assert t["env_steps"] >= t["budget"] and t["env_steps_per_s"] > 0
        # 2 evaluations, and a third at the end when the agent overshoots the budget (A2C: 40-step rollouts)
        assert 2 <= len(t["curve"]) <= 3 and t["curve"][-1]["env_steps"] == t["env_steps"]
        for row in t["curve"]:
            assert {"env_steps", "wall_time_s", "mean_return"} <= set(row)
        assert isinstance(t["stayed_solved"], bool)
    metrics = {t["env_id"]: (t["solved_metric"], t["solved_threshold"]) for t in trials}
    assert metrics == {"ZeroOut-v0": ("mean_normalized_return", 0.99), "CartPole-v1": ("mean_return", 475.0)}

    for env_id in ENVS:
        env = report["envs"][env_id]
        assert set(env["summary"]) == set(AGENTS)
        pairs = {(r["ours"], r["sb3"]): r for r in env["ratios"]}
        assert set(pairs) == {("dqn", "sb3-dqn"), ("dqn", "sb3-a2c")}
        same = pairs["dqn", "sb3-dqn"]
        rates = {a: s["env_steps_per_s_mean"] for a, s in env["summary"].items()}
        expected = rates["dqn"] / rates["sb3-dqn"]
        assert same["same_family"] and same["env_steps_per_s"] == pytest.approx(expected)
        assert pairs["dqn", "sb3-a2c"]["env_steps_per_s"] is None  # not the same family
        for axis in ("steps", "seconds"):
            png = tmp_path / f"{env_id}_{axis}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png

    table = (tmp_path / "compare_sb3.md").read_text()
    for name in [*AGENTS, *ENVS, "dqn / sb3-dqn", "dqn / sb3-a2c"]:
        assert name in table, name
    assert table in proc.stdout


def test_solved_stats_and_bootstrap() -> None:
    module = load_script()
    rows = [
        {"env_steps": 1000, "wall_time_s": 1.0, "score": 0.5},
        {"env_steps": 2000, "wall_time_s": 2.0, "score": 1.0},
        {"env_steps": 3000, "wall_time_s": 3.0, "score": 0.9},
    ]
    assert module.solved_stats(rows, "score", 0.99) == {
        "steps_to_solved": 2000,
        "seconds_to_solved": 2.0,
        "stayed_solved": False,
    }
    assert module.solved_stats(rows[:2], "score", 0.99)["stayed_solved"] is True
    assert module.solved_stats(rows[:1], "score", 0.99)["steps_to_solved"] is None
    low, high = module.bootstrap_ci([1.0, 2.0, 3.0, 4.0])
    assert 1.0 <= low < 2.5 < high <= 4.0
    assert module.bootstrap_ci([0.7]) == (0.7, 0.7)


def test_ratios_are_ours_over_sb3() -> None:
    module = load_script()

    def summary(rate: float, seconds: float | None, steps: float | None, solved: int) -> dict:
        return {
            "env_steps_per_s_mean": rate,
            "seconds_to_solved_median": seconds,
            "steps_to_solved_median": steps,
            "solved_seeds": solved,
            "seeds": 5,
        }

    rows = module.ratios(
        {
            "dqn": summary(100_000.0, 1.0, 20_000, 5),
            "sb3-dqn": summary(2_000.0, 10.0, 10_000, 3),
            "sb3-ppo": summary(2_500.0, None, None, 0),
        }
    )
    by_pair = {(r["ours"], r["sb3"]): r for r in rows}
    assert set(by_pair) == {("dqn", "sb3-dqn"), ("dqn", "sb3-ppo")}
    assert by_pair["dqn", "sb3-dqn"]["env_steps_per_s"] == pytest.approx(50.0)
    assert by_pair["dqn", "sb3-dqn"]["seconds_to_solved"] == pytest.approx(0.1)
    assert by_pair["dqn", "sb3-dqn"]["steps_to_solved"] == pytest.approx(2.0)
    assert by_pair["dqn", "sb3-dqn"]["solved_seeds"] == [5, 3]
    assert by_pair["dqn", "sb3-ppo"]["seconds_to_solved"] is None
