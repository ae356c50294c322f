"""The train and evaluate CLIs: help, one-line usage errors, run directories, TensorBoard tags, Ctrl-C."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import rlzero
from rlzero import eval as eval_cli
from rlzero import train
from rlzero.agents import DQN, load_agent

FLAGS = [
    "--agent",
    "--env",
    "--env-kwargs",
    "--total-timesteps",
    "--seed",
    "--device",
    "--num-envs",
    "--logdir",
    "--set",
    "--init-from",
    "--no-progress",
]
SMOKE = [
    "--agent",
    "dqn",
    "--total-timesteps",
    "5000",
    "--set",
    "num_envs=64",
    "learning_starts=500",
    "batch_size=64",
    "--no-progress",
    "--eval-episodes",
    "10",
    "--eval-freq",
    "1000",
]
TAGS = [
    "charts/episodic_return",
    "charts/episodic_length",
    "charts/normalized_return",
    "charts/SPS",
    "losses/td_loss",
    "eval/mean_normalized_return",
]
SUMMARY_KEYS = [
    "agent",
    "env_id",
    "seed",
    "env_steps",
    "wall_time_s",
    "mean_return",
    "mean_normalized_return",
    "success_rate",
    "interrupted",
]


def run_module(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def run_train(argv):
    """``rlzero.train.main`` in this process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = train.main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def single_run_dir(logdir):
    (run_dir,) = [p for p in Path(logdir).iterdir() if p.is_dir()]
    return run_dir


def assert_one_line_usage_error(code, err, *needles):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------- --help and usage errors
@pytest.mark.slow
def test_help_explains_every_flag():
    proc = run_module("rlzero.train", "--help")
    assert proc.returncode == 0, proc.stderr
    for flag in FLAGS:
        assert flag in proc.stdout, flag
    assert "dqn" in proc.stdout


@pytest.mark.slow
def test_unknown_agent_exits_2_in_a_subprocess(tmp_path):
    proc = run_module("rlzero.train", "--agent", "nope", "--logdir", tmp_path)
    line = assert_one_line_usage_error(proc.returncode, proc.stderr, "nope", "dqn")
    assert "--agent" in line
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def mismatched_checkpoint(tmp_path_factory):
    agent = DQN("ZeroOut-v0", device="cpu", num_envs=8, buffer_size=100, hidden_sizes=(7,))
    return agent.save(tmp_path_factory.mktemp("mismatch") / "small.pt")


BAD_INPUT = {
    "unknown agent": (["--agent", "nope"], ["nope", "dqn"]),
    "unknown env": (["--agent", "dqn", "--env", "NoSuchEnv-v9"], ["NoSuchEnv-v9", "ZeroOut-v0"]),
    "--set without =": (["--agent", "dqn", "--set", "learning_rate"], ["--set", "key=value"]),
    "--set unknown key": (
        ["--agent", "dqn", "--set", "learnin_rate=1e-3"],
        ["learnin_rate", "learning_rate"],
    ),
    "--set wrong type": (["--agent", "dqn", "--set", "learning_rate=abc"], ["learning_rate", "abc", "float"]),
    "--set bad int": (["--agent", "dqn", "--set", "batch_size=1.5"], ["batch_size", "int"]),
    "--set bad value": (["--agent", "dqn", "--set", "gamma=2"], ["gamma"]),
    "--set non-finite": (["--agent", "dqn", "--set", "learning_rate=inf"], ["learning_rate", "inf"]),
    "--set zero width": (["--agent", "dqn", "--set", "hidden_sizes=64,0"], ["hidden_sizes", "(64, 0)"]),
    "--set sb3 count 0": (["--agent", "sb3-a2c", "--set", "n_steps=0"], ["sb3-a2c", "n_steps", "0"]),
    "--set sb3 assertion": (["--agent", "sb3-ppo", "--set", "batch_size=1"], ["sb3-ppo", "batch_size"]),
    "--env-kwargs without =": (["--agent", "dqn", "--env-kwargs", "size"], ["--env-kwargs", "key=value"]),
    "--env-kwargs bad value": (["--agent", "dqn", "--env-kwargs", "size=0"], ["size"]),
    "--env-kwargs bad rule": (["--agent", "dqn", "--env-kwargs", "rule=nope"], ["nope", "zero"]),
    "--env-kwargs huge max_value": (
        ["--agent", "dqn", "--env-kwargs", "max_value=3000000000"],
        ["max_value", "2147483647", "3000000000"],
    ),
    "--total-timesteps 0": (["--agent", "dqn", "--total-timesteps", "0"], ["--total-timesteps", "0"]),
    "--total-timesteps -5": (["--agent", "dqn", "--total-timesteps", "-5"], ["--total-timesteps", "-5"]),
    "--total-timesteps abc": (["--agent", "dqn", "--total-timesteps", "abc"], ["--total-timesteps"]),
    "--num-envs 0": (["--agent", "dqn", "--num-envs", "0"], ["--num-envs"]),
    "--device unknown": (["--agent", "dqn", "--device", "tpu"], ["tpu", "cpu", "cuda"]),
    "--init-from missing": (["--agent", "dqn", "--init-from", "no/such/dir/missing.pt"], ["missing.pt"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line(case, tmp_path):
    argv, needles = BAD_INPUT[case]
    code, out, err = run_train([*argv, "--logdir", tmp_path, "--no-progress"])
    assert_one_line_usage_error(code, err, *needles)
    assert out == ""
    assert list(tmp_path.iterdir()) == []  # no run directory for a run that never started


def test_a_logdir_that_cannot_hold_a_run_exits_2_with_one_line(tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    code, out, err = run_train(["--agent", "dqn", "--logdir", not_a_folder, "--no-progress"])
    assert_one_line_usage_error(code, err, "--logdir", str(not_a_folder), "Not a directory")
    assert out == ""


def test_an_env_with_no_solved_criterion_exits_2_before_training(tmp_path):
    if "NoThreshold-v0" not in gym.registry:
        gym.register("NoThreshold-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv")
    code, out, err = run_train(["--agent", "dqn", "--env", "NoThreshold-v0", "--logdir", tmp_path])
    assert_one_line_usage_error(code, err, "NoThreshold-v0", "reward_threshold")
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_device_cuda_without_cuda_exits_2(tmp_path):
    code, _, err = run_train(["--agent", "dqn", "--device", "cuda", "--logdir", tmp_path])
    line = assert_one_line_usage_error(code, err, "cuda")
    assert "cpu" in line  # names what is valid here


def test_init_from_a_mismatched_checkpoint_exits_2(tmp_path, mismatched_checkpoint):
    argv = ["--agent", "dqn", "--init-from", mismatched_checkpoint, "--logdir", tmp_path]
    code, _, err = run_train(argv)
    assert_one_line_usage_error(code, err, "features.0.weight", "head.weight")


def test_init_from_a_corrupt_checkpoint_exits_2(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(os.urandom(1000))
    code, _, err = run_train(["--agent", "dqn", "--init-from", corrupt, "--logdir", tmp_path / "runs"])
    assert_one_line_usage_error(code, err, "corrupt")


# ---------------------------------------------------------------- a complete run
@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    code, out, err = run_train([*SMOKE, "--logdir", logdir])
    assert code == 0, err
    return single_run_dir(logdir), out, err


def test_run_directory_contents(smoke_run):
    run_dir, out, err = smoke_run
    assert str(run_dir) in err
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "summary.json", "model.pt"} <= names
    assert any(name.startswith("events.out.tfevents") for name in names)
    assert not [n for n in names if n.endswith(".tmp")]

    config = json.loads((run_dir / "config.json").read_text())
    assert config["agent"] == "dqn"
    assert config["env_id"] == "ZeroOut-v0"
    assert config["total_timesteps"] == 5000
    assert config["hparams"]["num_envs"] == 64
    assert config["hparams"]["learning_starts"] == 500
    assert config["hparams"]["batch_size"] == 64

    summary = json.loads((run_dir / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert key in summary, key
    assert summary["agent"] == "dqn"
    assert summary["env_id"] == "ZeroOut-v0"
    assert summary["seed"] == 0
    assert summary["env_steps"] >= 5000
    assert summary["wall_time_s"] > 0
    assert summary["interrupted"] is False
    # The summary's figures are the last evaluation's, and the saved agent reproduces them exactly.
    final = summary["evaluations"][-1]
    for key in ("env_steps", "mean_return", "mean_normalized_return", "success_rate", "mean_length"):
        assert summary[key] == final[key], key
    agent = load_agent(run_dir / "model.pt", device="cpu")
    assert agent.num_timesteps == summary["env_steps"]
    assert agent.config.num_envs == 64
    again = rlzero.evaluate(agent, "ZeroOut-v0", n_episodes=10)
    assert (again.mean_normalized_return, again.success_rate) == (
        summary["mean_normalized_return"],
        summary["success_rate"],
    )
    # The summary is printed at the end.
    for key in ("mean_normalized_return", "success_rate", "interrupted"):
        assert f"{key}: {summary[key]}" in out


def test_tensorboard_events_hold_the_cleanrl_tags(smoke_run):
    run_dir, _, _ = smoke_run
    events = EventAccumulator(str(run_dir))
    events.Reload()
    scalars = events.Tags()["scalars"]
    for tag in TAGS:
        assert tag in scalars, (tag, scalars)
    evals = events.Scalars("eval/mean_normalized_return")
    assert len(evals) >= 5  # every 1000 of 5000 steps
    assert [e.step for e in evals] == sorted(e.step for e in evals)
    assert all(e.value > 0 for e in events.Scalars("charts/SPS"))


def test_same_seed_same_summary(smoke_run, tmp_path):
    run_dir, _, _ = smoke_run
    code, _, err = run_train([*SMOKE, "--logdir", tmp_path])
    assert code == 0, err
    again = single_run_dir(tmp_path)

    def figures(path):
        summary = json.loads((path / "summary.json").read_text())
        drop = {"wall_time_s", "seconds_to_solved", "env_steps_per_s", "timing", "checkpoint", "run_dir"}
        out = {k: v for k, v in summary.items() if k not in drop and k != "evaluations"}
        out["evaluations"] = [
            {k: v for k, v in row.items() if k not in drop} for row in summary["evaluations"]
        ]
        return out

    first, second = figures(run_dir), figures(again)
    assert first == second
    assert len(first["evaluations"]) >= 5


# ---------------------------------------------------------------- python -m rlzero.eval
def run_evaluate(argv, capsys):
    try:
        code = eval_cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_evaluate_prints_boards_and_a_result_line(smoke_run, capsys):
    run_dir, _, _ = smoke_run
    argv = ["--checkpoint", run_dir / "model.pt", "--episodes", "5", "--render", "ansi", "--device", "cpu"]
    code, out, err = run_evaluate(argv, capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    boards = [line for line in lines if line.startswith("[") and "step" in line]
    assert len(boards) >= 2  # the start and at least one step
    assert "step 0/" in boards[0]
    result = lines[-2]
    assert result.startswith("dqn on ZeroOut-v0:")
    assert "episodes 5" in result
    assert "normalized" in result
    assert lines[-1].startswith("against the optimum (held-out boards): q_error ")


def test_evaluate_json(smoke_run, capsys):
    run_dir, _, _ = smoke_run
    code, out, _ = run_evaluate(["--checkpoint", run_dir / "model.pt", "--episodes", "3", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["agent"] == "dqn"
    assert data["env_id"] == "ZeroOut-v0"
    assert data["n_episodes"] == 3
    assert {"diagnostics/q_error", "diagnostics/q_error_greedy", "diagnostics/overestimation"} <= set(data)


@pytest.mark.parametrize("kind", ["corrupt", "missing"])
def test_evaluate_bad_checkpoint_exits_2_with_one_line(tmp_path, capsys, kind):
    path = tmp_path / f"{kind}.pt"
    if kind == "corrupt":
        path.write_bytes(os.urandom(2000))
    code, out, err = run_evaluate(["--checkpoint", path], capsys)
    assert_one_line_usage_error(code, err, str(path), "corrupt" if kind == "corrupt" else "not found")
    assert out == ""


def test_evaluate_misuse_exits_2_with_one_line(smoke_run, capsys, tmp_path):
    checkpoint = smoke_run[0] / "model.pt"
    code, _, err = run_evaluate(["--checkpoint", checkpoint, "--seed", "-1"], capsys)
    assert_one_line_usage_error(code, err, "--seed", "-1")
    (tmp_path / "a-file").write_text("")
    video = tmp_path / "a-file" / "episode.gif"
    code, _, err = run_evaluate(["--checkpoint", checkpoint, "--video", video, "--episodes", "1"], capsys)
    assert_one_line_usage_error(code, err, str(video))
    pole = DQN("CartPole-v1", seed=0, device="cpu", num_envs=2, buffer_size=100).save(tmp_path / "pole.pt")
    code, _, err = run_evaluate(["--checkpoint", pole, "--render", "ansi"], capsys)
    assert_one_line_usage_error(code, err, "--render ansi", "CartPole-v1")


def test_evaluate_bad_episodes_exits_2(smoke_run, capsys):
    run_dir, _, _ = smoke_run
    code, _, err = run_evaluate(["--checkpoint", run_dir / "model.pt", "--episodes", "0"], capsys)
    assert_one_line_usage_error(code, err, "--episodes")


# ---------------------------------------------------------------- Ctrl-C
def interrupt_train(argv, tmp_path, events):
    """Start ``python -m rlzero.train`` in a process group of its own, as a terminal starts it, press
    Ctrl-C there once ``events`` TensorBoard files exist, and return (exit code, stdout, stderr)."""
    logdir = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rlzero.train",
            *argv,
            "--eval-episodes",
            "10",
            "--no-progress",
            "--logdir",
            str(logdir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
        # a shell's background job (`pytest &`) ignores SIGINT, and so would the child, which inherits that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 300
        while len(list(logdir.glob("**/events.out.tfevents.*"))) < events:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"fewer than {events} events files after 300 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert "Traceback" not in err
    return proc.returncode, out, err


@pytest.mark.slow
def test_ctrl_c_saves_checkpoint_and_summary_and_exits_130(tmp_path):
    code, out, err = interrupt_train(["--agent", "dqn", "--total-timesteps", "100_000_000"], tmp_path, 1)
    assert code == 130, err
    run_dir = single_run_dir(tmp_path / "runs")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert summary["env_steps"] < 100_000_000
    assert "interrupted" in out
    agent = load_agent(run_dir / "model.pt", device="cpu")
    assert agent.num_timesteps == summary["env_steps"]


@pytest.mark.slow
def test_ctrl_c_with_workers_stops_every_part_and_leaves_a_complete_group(tmp_path):
    """The pool's workers leave the stop to the pool, which stops each part as Ctrl-C stops a single run."""
    argv = ["--agent", "dqn", "--seeds", "0-3", "--workers", "2", "--total-timesteps", "100_000_000"]
    code, out, err = interrupt_train(argv, tmp_path, 4)
    assert code == 130, err
    logdir = tmp_path / "runs"
    (group_dir,) = logdir.iterdir()
    group = json.loads((group_dir / "group.json").read_text())
    assert group["interrupted"] is True and [row["seed"] for row in group["table"]] == [0, 1, 2, 3]
    for seed in range(4):
        summary = json.loads((group_dir / f"seed{seed}" / "summary.json").read_text())
        assert summary["interrupted"] is True and summary["env_steps"] < 100_000_000
        agent = load_agent(group_dir / f"seed{seed}" / "model.pt", device="cpu")
        assert agent.num_timesteps == summary["env_steps"]
    assert "interrupted" in out


def test_ctrl_c_while_the_writers_open_closes_them_and_leaves_a_complete_run(tmp_path, monkeypatch):
    """A Ctrl-C can land after the events file exists and before training starts; the run must still be
    complete (checkpoint, summary: training stops at its first step) and its writer closed."""
    from torch.utils.tensorboard import SummaryWriter

    add_text = SummaryWriter.add_text

    def ctrl_c_on_the_first_text(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # what the terminal does: the run's handler takes it
        return add_text(self, *args, **kwargs)

    monkeypatch.setattr(SummaryWriter, "add_text", ctrl_c_on_the_first_text)
    closed = []
    close = SummaryWriter.close
    monkeypatch.setattr(SummaryWriter, "close", lambda self: (closed.append(self), close(self)))
    code, _, err = run_train([*SMOKE, "--logdir", tmp_path])
    assert code == 130, err
    assert "Traceback" not in err
    assert len(closed) == 1
    run_dir = single_run_dir(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert 0 < summary["env_steps"] < 5000  # stopped at its first step, of a budget of 5000
    assert summary["mean_normalized_return"] is not None  # the agent was still evaluated
    (events_file,) = run_dir.glob("events.out.tfevents.*")
    events = EventAccumulator(str(events_file))
    events.Reload()
    assert "eval/mean_normalized_return" in events.Tags()["scalars"]
    assert load_agent(run_dir / "model.pt", device="cpu").num_timesteps == summary["env_steps"]
