"""benchmarks/page.py builds the results page from whatever results are there, and only from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark


def test_a_section_shows_its_first_line_and_first_tables_and_skips_what_has_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = load_benchmark("page")
    monkeypatch.setattr(page, "RESULTS", tmp_path)
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "seeds.md").write_text("`python benchmarks/seeds.py`\n\n| a |\n\n| per seed |\n")
    (tmp_path / "seeds" / "ZeroOut-v0.png").write_bytes(b"")
    (tmp_path / "diagnostics").mkdir()
    (tmp_path / "diagnostics" / "diagnostics.md").write_text("`line`\n\n| dqn |\n\n| policy |\n\n| more |\n")
    text = page.page()
    assert "## Our agents over seeds" in text and "| a |" in text and "| per seed |" not in text
    assert "[ZeroOut-v0](results/seeds/ZeroOut-v0.png)" in text
    assert "| dqn |" in text and "| policy |" in text and "| more |" not in text
    assert "tuned against tuned" not in text  # compare_sb3 has no results here: no section


def cell(final: float, ended: int) -> dict:
    median = {"median": 1000.0}
    return {
        "seeds": 10,
        "final": {"iqm": final, "ci95": [final - 1, final + 1]},
        "solved": 9,
        "stayed_solved": 7,
        "solved_final": ended,
        "steps_to_solved": median,
        "seconds_to_solved": median,
        "env_steps_per_s": median,
    }


def test_the_classic_section_puts_rl_zoo3s_runs_of_an_env_beside_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = load_benchmark("page")
    monkeypatch.setattr(page, "RESULTS", tmp_path)
    (tmp_path / "classic").mkdir()
    (tmp_path / "zoo_baseline").mkdir()
    older = {
        "run_line": "`older run`",
        "date": "2026-12-06T20:00:00+00:00",
        "budgets": {"LunarLander-v3": {"dqn": 200_000}, "Acrobot-v1": {"dqn": 200_000}},
        "envs": {"LunarLander-v3": {"summary": {"dqn": cell(120.0, 0)}}, "Acrobot-v1": {"summary": {}}},
    }
    ours = {
        "run_line": "`python benchmarks/compare_sb3.py --agents dqn`",
        "date": "2026-12-06T21:00:00+00:00",
        "budgets": {"LunarLander-v3": {"dqn": 600_000}},
        "envs": {"LunarLander-v3": {"summary": {"dqn": cell(230.0, 9)}}},
    }
    (tmp_path / "classic" / "rerun").mkdir()
    (tmp_path / "classic" / "compare_sb3.json").write_text(json.dumps(older))
    (tmp_path / "classic" / "rerun" / "compare_sb3.json").write_text(json.dumps(ours))
    for algo, env_id in (("ppo", "LunarLander-v3"), ("dqn", "Acrobot-v1")):
        zoo = {
            "command": f"python benchmarks/zoo_baseline.py --algo {algo} --env {env_id}",
            "machine_line": "2 cores",
            "budget": 1_000_000,
            "cell": cell(210.0, 6),
            "seeds": [{"agent": f"rl-zoo3 {algo}", "env_id": env_id}],
        }
        (tmp_path / "zoo_baseline" / f"{algo}_{env_id}.json").write_text(json.dumps(zoo))
    text = page.page()
    table = text.split("**LunarLander-v3**")[1]
    assert "| dqn | 600,000 |" in table and "| 9/10 | 9/10 | 7/10 |" in table
    assert "200,000" not in table and "`older run`" not in text  # the rerun supersedes the older cell
    assert "| rl-zoo3 ppo | 1,000,000 |" in table and "| 6/10 | 9/10 | 7/10 |" in table
    assert "rl-zoo3 dqn |" not in table  # its run is of another env
    assert "`python benchmarks/zoo_baseline.py --algo ppo --env LunarLander-v3`; 2 cores" in text
