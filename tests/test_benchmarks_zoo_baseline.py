"""benchmarks/zoo_baseline.py: rl-zoo3's command line trains; each checkpoint is scored as our runs are."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "zoo_baseline.py"


@pytest.mark.slow
def test_a_tiny_run_scores_every_checkpoint(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--algo", "dqn", "--env", "CartPole-v1", "--seeds", "3"]
    command += ["--n-timesteps", "2000", "--evaluations", "4", "--eval-episodes", "3", "--workers", "1"]
    proc = subprocess.run([*command, "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "dqn_CartPole-v1.json").read_text())
    (seed,) = report["seeds"]
    assert seed["seed"] == 3 and "rl_zoo3.train --algo dqn --env CartPole-v1 --seed 3" in seed["command"]
    curve = seed["evaluations"]
    assert [row["env_steps"] for row in curve] == [500, 1000, 1500, 2000]
    assert all(0 < a["wall_time_s"] < b["wall_time_s"] for a, b in itertools.pairwise(curve))
    assert all(1 <= row["mean_length"] <= 500 for row in curve)
    assert report["entry"]["policy"] == "MlpPolicy" and report["budget"] == 2000


def test_an_entry_that_normalises_observations_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        load_benchmark("zoo_baseline").main(
            ["--algo", "ppo", "--env", "MountainCar-v0", "--out", str(tmp_path)]
        )
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "normalize" in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
