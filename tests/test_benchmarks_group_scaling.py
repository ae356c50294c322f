"""benchmarks/group_scaling.py on a tiny budget: one row per group size, the group of one as the baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "group_scaling.py"


@pytest.mark.slow
def test_each_size_gets_a_row_measured_against_the_group_of_one(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--agents", "dqn", "--envs", "ZeroOut-v0", "--out", str(tmp_path)]
    options = ["--members", "1", "3", "--warmup", "64", "--steps", "64", "--repeats", "2"]
    hparams = ["--set", "num_envs=16", "batch_size=16", "learning_starts=0"]
    proc = subprocess.run(
        [*command, *options, *hparams], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    one, three = json.loads((tmp_path / "group_scaling.json").read_text())["cells"]
    assert (one["members"], three["members"]) == (1, 3)
    assert one["hparams"] == {"num_envs": 16, "batch_size": 16, "learning_starts": 0}
    assert len(one["rates"]) == len(three["rates"]) == 2 and min(one["rates"] + three["rates"]) > 0
    assert one["vs_single"] == 1.0 and one["device"] == "cpu"
    assert abs(three["vs_single"] - three["median"] / one["median"]) <= 0.01
    assert (tmp_path / "group_scaling.md").read_text().count("| dqn | ZeroOut-v0 |") == 2


@pytest.mark.slow
def test_a_group_of_no_members_exits_2_with_one_line(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--members", "0", "--out", str(tmp_path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "--members" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is here: the GPU side would run")
@pytest.mark.parametrize("script", [SCRIPT, SCRIPT.with_name("groups.py")], ids=["group_scaling", "groups"])
@pytest.mark.slow
def test_device_cuda_without_cuda_exits_2_with_one_line(tmp_path: Path, script: Path) -> None:
    command = [sys.executable, str(script), "--device", "cuda", "--out", str(tmp_path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "cuda" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())
