"""Importing an env is cheap: ``import rlzero`` and ``gym.make`` of a ZeroOut id load the environments,
not the learners, SB3, matplotlib or scipy; and an env id whose package is missing is named clearly."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

from rlzero.cli import UsageError, check_env_id


def imported_modules(code: str) -> list[str]:
    """The modules a fresh interpreter has imported once it has run ``code``."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return proc.stdout.split()


def test_making_an_env_loads_no_learner() -> None:
    modules = imported_modules("import gymnasium as gym, rlzero; gym.make('ZeroOut-v0').reset(seed=0)")
    assert "rlzero.envs.zero_out" in modules
    heavy = [
        m for m in modules if m.startswith(("rlzero.agents", "stable_baselines3", "matplotlib", "scipy"))
    ]
    assert not heavy, heavy
    assert "torch" not in imported_modules("import rlzero")  # registering the ids needs no torch either


def test_an_env_whose_package_is_missing_is_named_with_what_to_install(monkeypatch) -> None:
    def missing_box2d(*args, **kwargs):
        raise gym.error.DependencyNotInstalled("Box2D is not installed")

    monkeypatch.setattr(gym, "make", missing_box2d)
    with pytest.raises(UsageError, match=r'LunarLander-v3 needs a package .*\(pip install "rlzero\[box2d\]"'):
        check_env_id("LunarLander-v3")


def test_lunar_lander_trains_where_the_box2d_extra_is_installed(tmp_path) -> None:
    pytest.importorskip("Box2D", reason='LunarLander needs pip install "rlzero[box2d]"')
    from rlzero.train import train

    argv = ["--agent", "ppo", "--env", "LunarLander-v3", "--total-timesteps", "512", "--eval-episodes", "2"]
    assert train([*argv, "--logdir", str(tmp_path), "--no-progress"]) == 0
    assert len(list(tmp_path.glob("*/model.pt"))) == 1
