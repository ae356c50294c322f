"""benchmarks/transfer.py between variants of any env: ``ID:k=v,k=v`` sources and targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

from rlzero.cli import UsageError


def test_a_variant_is_an_env_id_and_its_constructor_arguments() -> None:
    transfer = load_benchmark("transfer")
    variant = transfer.parse_variant("CartPole-v1:sutton_barto_reward=True")
    assert variant == ("CartPole-v1", {"sutton_barto_reward": True})
    assert transfer.variant_label(variant) == "CartPole-v1 (sutton_barto_reward=True)"
    assert transfer.parse_variant("ZeroOut-v0") == ("ZeroOut-v0", {})
    with pytest.raises(UsageError, match="NoSuchEnv-v0"):
        transfer.parse_variant("NoSuchEnv-v0:x=1")


def test_budget_sets_every_arm_of_every_target(tmp_path: Path) -> None:
    argv = ["--agents", "dqn", "--sb3", "none", "--source", "CartPole-v1", "--strategies", "full"]
    argv += ["--targets", "CartPole-v1:sutton_barto_reward=True", "--budget", "1500"]
    assert load_benchmark("transfer").main([*argv, "--quick", "--workers", "1", "--out", str(tmp_path)]) == 0
    arms = [json.loads(line) for line in (tmp_path / "trials.jsonl").read_text().splitlines()]
    arms = [arm for arm in arms if arm["spec"]["env_kwargs"]]
    assert [(arm["spec"]["strategy"], arm["spec"]["total_timesteps"]) for arm in arms] == [
        (None, 1500),
        ("full", 1500),
    ]
    # --budget wins over --quick's 4,000 (the vector env rounds it up to whole steps of its 32 envs).
    assert {member["env_steps"] for arm in arms for member in arm["result"]["members"]} == {1504}


@pytest.mark.slow
def test_lunar_lander_without_wind_to_with_wind_writes_a_row_per_arm(tmp_path: Path) -> None:
    pytest.importorskip("Box2D", reason='LunarLander needs Box2D: pip install "rlzero[box2d]"')
    argv = ["--agents", "ppo", "--sb3", "none", "--source", "LunarLander-v3:enable_wind=False"]
    argv += ["--targets", "LunarLander-v3:enable_wind=True,wind_power=10", "--strategies", "full"]
    assert load_benchmark("transfer").main([*argv, "--quick", "--workers", "1", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "transfer.json").read_text())["rows"]
    assert [(row[1], row[2]) for row in rows] == [
        ("LunarLander-v3 (enable_wind=True, wind_power=10)", "scratch"),
        ("LunarLander-v3 (enable_wind=True, wind_power=10)", "full"),
    ]
