"""Faults a careful (or unlucky) user meets: full disks, damaged checkpoints, a second Ctrl-C, sizes past
memory. Each gets one clear line and an exit status, and leaves nothing half-written or untrue behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from rlzero import train
from rlzero.agents import DQN, CheckpointError, load_agent
from rlzero.agents.checkpoint import FORMAT
from rlzero.agents.registry import agent_class
from rlzero.curves import criterion
from rlzero.plots import plot_curves

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def command(*argv: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=ENV
    )


def one_line(err: str, *needles: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@contextlib.contextmanager
def tiny_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (a full disk to write to); skip where mounting is not
    allowed (not root, not Linux, a container without the capability)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip() or 'no mount'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


# ---------------------------------------------------------------- full disks
@pytest.mark.slow
@pytest.mark.parametrize(("agent", "size"), [("dqn", "64k"), ("dqn", "4k"), ("sb3-ppo", "4k")])
def test_a_full_disk_is_one_line_exit_1_and_no_half_made_run(tmp_path: Path, agent: str, size: str) -> None:
    with tiny_disk(tmp_path / "disk", size) as disk:
        proc = command(
            "rlzero.train", "--agent", agent, "--total-timesteps", "2000", "--eval-episodes", "5",
            "--no-progress", "--logdir", str(disk), cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        err = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("run directory:"))
        line = one_line(err, "cannot write", str(disk))
        assert "No space left on device" in line
        leftovers = list(disk.rglob("*"))
        kept = [p for p in leftovers if p.name.startswith("model.")]
        assert not leftovers or kept, leftovers  # removed, unless a finished checkpoint was kept


@pytest.mark.slow
def test_a_video_cut_short_by_a_full_disk_is_reported_as_a_failure(tmp_path: Path) -> None:
    pytest.importorskip("moviepy")
    checkpoint = DQN("ZeroOut-v0", seed=0, device="cpu", num_envs=4, buffer_size=64).save(tmp_path / "m.pt")
    with tiny_disk(tmp_path / "disk", "8k") as disk:
        video = disk / "x.mp4"
        proc = command(
            "rlzero.eval",
            "--checkpoint",
            str(checkpoint),
            "--episodes",
            "1",
            "--video",
            str(video),
            cwd=tmp_path,
        )
        assert proc.returncode == 1, proc.stderr
        one_line(proc.stderr, "cannot write", str(video))
        assert "wrote" not in proc.stderr and not video.exists() and not list(disk.glob("*.mp4"))


# ---------------------------------------------------------------- damaged checkpoints
def craft(path: Path, metadata: object = None, state_dicts: object = None) -> Path:
    """A checkpoint file that opens but whose contents are as given (None: a valid part)."""
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", num_envs=4, buffer_size=64)
    good_meta = json.loads(json.dumps(agent.metadata()))  # plain data, as save_checkpoint writes it
    good_sd = {
        name: {k: v.clone() for k, v in net.state_dict().items()} for name, net in agent.networks.items()
    }
    payload = {
        "format": FORMAT,
        "metadata": good_meta if metadata is None else metadata,
        "state_dicts": good_sd if state_dicts is None else state_dicts,
    }
    torch.save(payload, path)
    return path


def without(key: str) -> dict[str, object]:
    agent = DQN("ZeroOut-v0", seed=0, device="cpu", num_envs=4, buffer_size=64)
    meta = json.loads(json.dumps(agent.metadata()))
    del meta[key]
    return meta


@pytest.mark.parametrize(
    ("name", "metadata", "state_dicts", "needle"),
    [
        ("no-env-id", without("env_id"), None, "no 'env_id'"),
        ("no-hparams", without("hparams"), None, "no 'hparams'"),
        ("string-metadata", "dqn", None, "metadata must be a mapping"),
        ("seed-as-text", {**without("seed"), "seed": "zero"}, None, "'seed' must be a int"),
        ("no-state-dicts", None, "weights", "'state_dicts' must map"),
        ("sb3-in-a-pt", {**without("agent"), "agent": "sb3-ppo"}, None, "whose checkpoints are .zip files"),
    ],
)
@pytest.mark.slow
def test_a_checkpoint_with_damaged_metadata_is_a_value_error_and_exit_2(
    tmp_path: Path, name: str, metadata: object, state_dicts: object, needle: str
) -> None:
    path = craft(tmp_path / f"{name}.pt", metadata, state_dicts)
    with pytest.raises(ValueError, match=needle):
        load_agent(path, device="cpu")
    if name != "sb3-in-a-pt":
        with pytest.raises(CheckpointError, match=needle):
            DQN.load(path, device="cpu")
    proc = command("rlzero.eval", "--checkpoint", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    one_line(proc.stderr, needle)


def test_an_sb3_zip_whose_rlzero_json_is_not_metadata_is_refused(tmp_path: Path) -> None:
    model = agent_class("sb3-a2c")("ZeroOut-v0", seed=0, device="cpu", num_envs=2).save(tmp_path / "a2c.zip")
    with zipfile.ZipFile(model) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries["rlzero.json"] = json.dumps(["not", "a", "mapping"]).encode()
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    proc = command("rlzero.eval", "--checkpoint", str(tmp_path / "bad.zip"), cwd=tmp_path)
    assert proc.returncode == 2
    one_line(proc.stderr, "metadata must be a mapping")


@pytest.mark.slow
def test_init_from_a_checkpoint_of_another_algorithm_is_refused_before_any_work(tmp_path: Path) -> None:
    ppo = agent_class("sb3-ppo")("ZeroOut-v0", seed=0, device="cpu").save(tmp_path / "ppo.zip")
    logdir = tmp_path / "runs"
    proc = command(
        "rlzero.train", "--agent", "sb3-a2c", "--init-from", str(ppo), "--logdir", str(logdir), cwd=tmp_path
    )
    assert proc.returncode == 2
    one_line(proc.stderr, "holds a 'sb3-ppo' agent, not 'sb3-a2c'")
    assert not logdir.exists()
    reinforce = agent_class("reinforce")("ZeroOut-v0", seed=0, device="cpu").save(tmp_path / "r.pt")
    proc = command(
        "rlzero.train", "--agent", "ppo", "--init-from", str(reinforce), "--logdir", str(logdir), cwd=tmp_path
    )
    assert proc.returncode == 2
    one_line(proc.stderr, "holds a 'reinforce' agent, not 'ppo'")


# ---------------------------------------------------------------- Ctrl-C
def start_train(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rlzero.train", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=ENV,
        start_new_session=True,
        # a shell's background job (`pytest &`) ignores SIGINT, and so would the child, which inherits that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, out, err


@pytest.mark.slow
def test_a_second_ctrl_c_loses_nothing_the_first_was_saving(tmp_path: Path) -> None:
    logdir = tmp_path / "runs"
    argv = ["--agent", "dqn", "--seeds", "0-7", "--total-timesteps", "100_000_000", "--eval-episodes", "5"]
    proc = start_train([*argv, "--no-progress", "--logdir", str(logdir)], tmp_path)
    deadline = time.monotonic() + 300
    while len(list(logdir.glob("**/events.out.tfevents.*"))) < 8:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # into the training loop
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 130, err
    assert "Traceback" not in err and "nothing saved" not in err
    (group_dir,) = logdir.iterdir()
    group = json.loads((group_dir / "group.json").read_text())
    assert group["interrupted"] is True and [row["seed"] for row in group["table"]] == list(range(8))
    assert (group_dir / "curves.png").stat().st_size > 0
    for seed in range(8):
        summary = json.loads((group_dir / f"seed{seed}" / "summary.json").read_text())
        assert (
            load_agent(group_dir / f"seed{seed}" / "model.pt", device="cpu").num_timesteps
            == summary["env_steps"]
        )
    assert "every member that started saved its checkpoint and summary" in out


@pytest.mark.slow
def test_a_ctrl_c_while_starting_up_exits_130_quietly(tmp_path: Path) -> None:
    proc = start_train(["--agent", "dqn", "--no-progress", "--logdir", str(tmp_path / "runs")], tmp_path)
    time.sleep(0.3)  # still importing
    os.killpg(proc.pid, signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130 and "Traceback" not in err, err


# ---------------------------------------------------------------- sizes past memory
@pytest.mark.slow
def test_sizes_past_memory_are_refused_up_front_with_what_they_would_need(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        train.main(["--agent", "dqn", "--seeds", "0-100000", "--logdir", str(tmp_path)])
    assert stop.value.code == 2 and not list(tmp_path.iterdir())
    with pytest.raises(
        ValueError, match=r"a replay buffer of 1 member\(s\) x 2,000,000,000 transitions needs about"
    ):
        DQN("ZeroOut-v0", device="cpu", num_envs=4, buffer_size=2_000_000_000)
    checkpoint = DQN("ZeroOut-v0", seed=0, device="cpu", num_envs=4, buffer_size=64).save(tmp_path / "m.pt")
    proc = command("rlzero.eval", "--checkpoint", str(checkpoint), "--episodes", "1000000000", cwd=tmp_path)
    assert proc.returncode == 2
    one_line(proc.stderr, "--episodes 1000000000", "GiB")


# ---------------------------------------------------------------- smaller ones
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--agent", "ppo", "--sweep", "learning_rate="], "--sweep learning_rate=: give one value or more"),
        (["--agent", "dqn", "--set", "learning_starts=-5"], "learning_starts must be >= 0, got -5"),
        (["--agent", "dqn", "--logdir", ""], "--logdir must name a folder"),
    ],
)
def test_small_misuses_exit_2_naming_the_flag(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        train.main(argv)
    assert stop.value.code == 2
    one_line(capsys.readouterr().err, needle)


def test_a_plot_or_an_sb3_checkpoint_that_fails_leaves_no_file_behind(tmp_path: Path, monkeypatch) -> None:
    def fail_to_rename(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail_to_rename)
    curves = {"a": [[{"env_steps": 1, "wall_time_s": 1.0, "mean_normalized_return": 1.0}]]}
    with pytest.raises(OSError, match="No space left") as error:
        plot_curves(curves, tmp_path / "curves.png", criterion("ZeroOut-v0"))
    assert error.value.filename == str(tmp_path / "curves.png")
    with pytest.raises(OSError, match="No space left"):
        agent_class("sb3-a2c")("ZeroOut-v0", seed=0, device="cpu", num_envs=2).save(tmp_path / "model.zip")
    assert not list(tmp_path.iterdir())  # neither the plot, nor the zip, nor a temporary file
