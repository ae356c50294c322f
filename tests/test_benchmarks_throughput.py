"""Smoke test of benchmarks/throughput.py: a --quick run writes a figure for every configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"


@pytest.mark.slow
def test_quick_run_writes_every_configuration(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    expected = {"single", "sync-8", "batched-cpu-65536-defaults"}
    expected |= {f"batched-{d}-{n}" for d in devices for n in (1, 64, 4096, 65536)}
    results = {r["name"]: r for r in report["results"]}
    assert set(results) == expected
    for r in results.values():
        assert r["steps_per_s"] > 0 and r["ratio_to_sync"] > 0, r
    sync = results["sync-8"]["steps_per_s"]
    for r in results.values():  # each configuration's rate over the SyncVectorEnv's, not the other way
        assert r["ratio_to_sync"] == pytest.approx(r["steps_per_s"] / sync, rel=0.01), r
    assert results["batched-cpu-65536"]["num_envs"] == 65536
    for key in ("platform", "cpu_count", "python", "torch", "gymnasium", "numpy", "date"):
        assert report["machine"][key], key
    assert "| configuration |" in proc.stdout  # the markdown table is printed
