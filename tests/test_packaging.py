"""The wheel ships the top-level envs/ and agents/ folders as rlzero.envs and rlzero.agents."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_the_packages(tmp_path):
    # Build from a copy so that setuptools' in-tree build/ and *.egg-info never touch the working tree.
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "dist",
            "runs",
            "tests",
            "benchmarks",
            "*.egg-info",
            "__pycache__",
            ".*_cache",
            ".hypothesis",
        ),
    )
    out = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = out.glob("rlzero-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "rlzero/__init__.py",
        "rlzero/py.typed",
        "rlzero/envs/zero_out.py",
        "rlzero/envs/vector.py",
        "rlzero/agents/__init__.py",
        *(f"rlzero/zoo/{algo}.py" for algo in ("a2c", "dqn", "ppo")),
        *(f"rlzero/agents/zoo/{algo}.yml" for algo in ("a2c", "dqn", "ppo")),
    ):
        assert required in names, sorted(names)
    # The source folders appear only under rlzero/, never as top-level packages of their own.
    assert not any(name.startswith(("envs/", "agents/", "tests/")) for name in names), sorted(names)
