"""The trial runner (rlzero.executor): the local pool and Ray give the figures of a one-by-one run.

The trials are tiny training runs (rlzero.experiment.run: DQN, 64 boards, 4,096 env steps, 10-episode
evaluations), a second or two each. Ray's tests share one local 2-CPU cluster (started once, a few
seconds) and are skipped where Ray is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlzero import finetune
from rlzero.cli import add_runner_args, runner_options
from rlzero.executor import DEFAULT_GPU_FRACTION, BackendUnavailable, load_records, run_trials, spec_key
from rlzero.experiment import Trial, run

TINY = {"num_envs": 64, "learning_starts": 512, "batch_size": 64}


def arm(run_dir: Path, seed: int, env_id: str = "ZeroOut-v0") -> Trial:
    return Trial(
        agent="dqn",
        env_id=env_id,
        seed=seed,
        total_timesteps=4_096,
        eval_freq=1_024,
        run_dir=str(run_dir / f"seed{seed}"),
        eval_episodes=10,
        hparams=TINY,
        device="cpu",
    )


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """What must agree between backends: the figures and the curve, without wall-clock times."""
    curve = [{k: v for k, v in row.items() if k != "wall_time_s"} for row in result["evaluations"]]
    return {"seed": result["seed"], "final": result["mean_normalized_return"], "curve": curve}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Trial], list[dict[str, Any]]]:
    """Two seeds' arms and their figures run one by one in this process (1 torch thread)."""
    root = tmp_path_factory.mktemp("sweep")
    arms = [arm(root, seed) for seed in (0, 1)]
    reference = [figures(run(a)) for a in arms]  # on 1 torch thread (conftest)
    assert reference[0]["curve"] != reference[1]["curve"]  # the seeds matter, so the check means something
    return arms, reference


def test_spec_key_is_stable() -> None:
    assert spec_key({"a": 1, "b": [1, 2]}) == spec_key({"b": [1, 2], "a": 1})
    assert spec_key(Trial("dqn", "ZeroOut-v0", 0, 1)) == spec_key(
        {**Trial("dqn", "ZeroOut-v0", 0, 1).__dict__}
    )


@pytest.mark.slow
def test_local_pool_matches_one_by_one(sweep: tuple[list[Trial], list[dict[str, Any]]]) -> None:
    arms, reference = sweep
    # The same specs again (same run_dir): each trial claims a fresh directory rather than colliding.
    records = run_trials(run, arms, backend="local", workers=2)
    assert [r["ok"] for r in records] == [True, True], [r.get("error") for r in records]
    assert [figures(r["result"]) for r in records] == reference
    run_dirs = [Path(r["result"]["run_dir"]) for r in records]
    assert [d.name for d in run_dirs] == ["seed0_1", "seed1_1"]
    assert all((d / "summary.json").exists() for d in run_dirs)
    assert not any(r["host"].endswith(f":{os.getpid()}") for r in records)  # ran in pool processes


def test_failing_trial_is_reported_and_resume_skips_finished(tmp_path: Path) -> None:
    specs = [arm(tmp_path, 0), arm(tmp_path, 1, env_id="NoSuchEnv-v0")]
    results = tmp_path / "trials.jsonl"
    calls: list[int] = []
    seen: list[int] = []

    def counted(spec: Trial) -> dict[str, Any]:  # workers=1 runs in this process: a closure is fine
        calls.append(spec.seed)
        return run(spec)

    records = run_trials(
        counted, specs, workers=1, results_path=results, on_result=lambda i, r: seen.append(i)
    )
    assert sorted(seen) == [0, 1] and calls == [0, 1]
    assert records[0]["ok"] and not records[1]["ok"]
    error = records[1]["error"]
    assert "NoSuchEnv-v0" in error["message"] and error["type"] and "Traceback" in error["traceback"]
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [line["ok"] for line in lines] == [True, False]
    assert set(load_records(results)) == {spec_key(specs[0])}

    # Resume: the finished trial comes back from the file; the failed one runs again.
    calls.clear()
    again = run_trials(counted, specs, workers=1, results_path=results, resume=True)
    assert calls == [1]
    assert again[0] == json.loads(json.dumps(records[0], default=str))
    assert not again[1]["ok"]
    assert len(results.read_text().splitlines()) == 3
    # An interrupted write leaves a torn last line: ignored.
    with results.open("a") as f:
        f.write('{"key": "torn')
    assert set(load_records(results)) == {spec_key(specs[0])}
    # ... and the next resumed record starts on a line of its own.
    run_trials(counted, specs[1:], workers=1, results_path=results, resume=True)
    assert json.loads(results.read_text().splitlines()[-1])["key"] == spec_key(specs[1])


def test_missing_ray_exits_2_with_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(BackendUnavailable, match="distributed"):
        run_trials(run, [], backend="ray")
    argv = ["--agent", "dqn", "--logdir", str(tmp_path), "--backend", "ray", "--no-progress"]
    with pytest.raises(SystemExit) as exited:
        finetune.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'pip install "rlzero[distributed]"' in err
    assert not any(tmp_path.iterdir())  # failed before any work


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_matches_one_by_one(
    ray_cluster: Any, sweep: tuple[list[Trial], list[dict[str, Any]]], tmp_path: Path
) -> None:
    arms, reference = sweep
    bad = arm(tmp_path, 2, env_id="NoSuchEnv-v0")
    records = run_trials(run, [*arms, bad], backend="ray", results_path=tmp_path / "ray.jsonl")
    assert [r["ok"] for r in records] == [True, True, False], [r.get("error") for r in records]
    assert [figures(r["result"]) for r in records[:2]] == reference
    assert "NoSuchEnv-v0" in records[2]["error"]["message"]
    assert ray_cluster.is_initialized()  # a session it did not start is left running


def test_runner_flags_ask_ray_for_a_gpu_share_only_for_cuda_trials() -> None:
    parser = argparse.ArgumentParser()
    add_runner_args(parser, resume=True)
    args = parser.parse_args(["--workers", "3", "--resume"])
    assert runner_options(args, "cpu") == {
        "backend": "local",
        "workers": 3,
        "ray_address": None,
        "threads": 1,
        "gpus_per_trial": 0.0,
        "resume": True,
    }
    assert runner_options(args, "cuda")["gpus_per_trial"] == DEFAULT_GPU_FRACTION == 0.25
    assert runner_options(parser.parse_args(["--gpus-per-trial", "0.5"]), "cuda:0")["gpus_per_trial"] == 0.5
    with pytest.raises(SystemExit):
        parser.parse_args(["--workers", "0"])


NAPPING_SWEEP = """
import sys, time
from pathlib import Path
from rlzero.executor import run_trials, stop_requested

def nap(spec):  # a 60 s trial that, as an rlzero run does, stops when asked
    Path(spec["dir"], f"started-{spec['i']}").touch()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stop_requested():
        time.sleep(0.05)
    return {"stopped": stop_requested()}

if __name__ == "__main__":
    specs = [{"i": i, "dir": sys.argv[1]} for i in range(6)]
    records = run_trials(nap, specs, backend="local", workers=2)
    started = [r["result"]["stopped"] for r in records if r["ok"]]
    assert started == [True, True] and all(r["interrupted"] for r in records), records
    sys.exit(130)
"""


@pytest.mark.slow
def test_ctrl_c_on_the_pool_stops_the_running_trials_and_starts_no_other(tmp_path: Path) -> None:
    """Ctrl-C reaches the sweep's process, which tells its workers: the running trials stop when they
    next look, and no queued one starts (the pool queues calls ahead of its free workers)."""
    script = tmp_path / "sweep.py"
    script.write_text(textwrap.dedent(NAPPING_SWEEP))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("started-*"))) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the pool did not start two trials in 120 s"
            time.sleep(0.05)
        interrupted = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        stopped_after = time.monotonic() - interrupted
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert sorted(p.name for p in tmp_path.glob("started-*")) == ["started-0", "started-1"]
    assert stopped_after < 30  # the naps take 60 s: the running ones were stopped, none other ran
