"""benchmarks/groups.py on a tiny budget: a group against the pool, with hyperparameters on top of the
preset on both sides, and every member's curve its single run's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "groups.py"


@pytest.mark.slow
def test_group_and_pool_take_the_same_overrides_and_give_the_same_curves(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--agents", "reinforce", "--seeds", "0-1", "--out", str(tmp_path)]
    options = ["--budget", "ZeroOut-v0=2048", "--set", "learning_rate=0.05", "--workers", "1"]
    proc = subprocess.run(
        [*command, *options, "--group-threads", "1"], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "groups.json").read_text())
    (cell,) = results["cells"]
    assert results["command"].startswith("python benchmarks/groups.py --agents reinforce --seeds 0-1")
    assert (tmp_path / "groups.md").read_text().startswith(f"`{results['command']}`")
    assert cell["hparams"] == {"learning_rate": 0.05}
    assert cell["env_steps_per_member"] >= 2048 and cell["seeds"] == 2
    assert cell["same_curves"] is True
    assert cell["group_device"] == "cpu" and cell["first"] == "group"  # the first cell's group goes first
    assert "| 1 x 2 (1 threads) |" in (tmp_path / "groups.md").read_text()


@pytest.mark.slow
def test_an_unknown_hyperparameter_exits_2_with_one_line(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--agents", "dqn", "--set", "n_epochs=3", "--out", str(tmp_path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "n_epochs" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_groups_of_a_given_size_on_the_pool_give_every_member_its_single_run(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--agents", "reinforce", "--seeds", "0-2", "--out", str(tmp_path)]
    options = ["--envs", "ZeroOut-v0", "ZeroOutLarge-v0", "--workers", "1", "--group-size", "2"]
    options += ["--budget", "ZeroOut-v0=2048", "ZeroOutLarge-v0=1024"]
    proc = subprocess.run([*command, *options], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cells = json.loads((tmp_path / "groups.json").read_text())["cells"]
    assert [cell["first"] for cell in cells] == ["group", "pool"]  # the sides take turns
    for cell in cells:
        assert (cell["group_size"], cell["group_threads"], cell["group"]["seeds"]) == (2, 1, 3)
        assert cell["same_curves"] is True
    assert (tmp_path / "groups.md").read_text().count("| 2 x 2 (pool) |") == 2
