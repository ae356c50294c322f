"""benchmarks/torch_func.py: both ways compute the same gradients, and a --quick run writes its figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark


def test_group_layers_and_torch_func_give_a_member_the_same_gradients() -> None:
    # Same weights per member, same batch: the timings compare two ways of computing one thing.
    assert load_benchmark("torch_func").same_gradients(3) < 1e-6


@pytest.mark.slow
def test_quick_run_writes_a_row_per_group_size(tmp_path: Path) -> None:
    out = tmp_path / "torch_func.json"
    assert load_benchmark("torch_func").main(["--quick", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [row["members"] for row in data["figures"]] == [1, 4]
    assert all(row["group_layers_ms"] > 0 and row["torch_func_ms"] > 0 for row in data["figures"])
    assert "torch.func / group" in data["table_markdown"]
