"""The registry: imports stay light, and a new agent is one file plus one registry line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlzero import train
from rlzero.agents import load_agent, registry
from rlzero.episodes import evaluate


def test_importing_the_agents_does_not_load_stable_baselines3() -> None:
    code = "import rlzero.agents, sys; assert 'stable_baselines3' not in sys.modules, 'SB3 loaded'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


def test_unknown_agent_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown agent 'nope'.*dqn.*reinforce.*sb3-ppo"):
        registry.agent_class("nope")


@pytest.mark.slow
def test_a_new_agent_is_one_file_and_one_registry_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one line (tests/example_agent.py is the one file); nothing else in the package changes.
    monkeypatch.setitem(registry.AGENTS, "bandit", "example_agent:Bandit")
    argv = ["--agent", "bandit", "--total-timesteps", "40000", "--eval-episodes", "50", "--no-progress"]
    assert train.main([*argv, "--logdir", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["agent"] == "bandit" and summary["env_steps"] >= 40_000
    assert summary["replay_ratio"] == pytest.approx(1.0)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["preset"]["key"] == "default" and config["resolved_hparams"]["epsilon"] == 0.2
    agent = load_agent(run_dir / "model.pt", device="cpu")  # the checkpoint knows it by name
    # A bandit learns ZeroOut-v0, where every right pick pays at once ...
    assert evaluate(agent, "ZeroOut-v0", 50).mean_normalized_return >= 0.9
    # ... and not FewestSteps, where every pick pays the same -1: nothing tells its actions apart.
    fewest = registry.agent_class("bandit")("ZeroOutFewestSteps-v0", device="cpu", seed=0).learn(40_000)
    assert evaluate(fewest, "ZeroOutFewestSteps-v0", 50).mean_normalized_return < 0.5
