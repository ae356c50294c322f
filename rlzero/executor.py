"""Run many independent trials: one after another, on a local process pool, or as Ray tasks.

A *trial* is a picklable function applied to one *spec* (plain data: a dict or a dataclass such as
:class:`rlzero.experiment.Trial`) that returns plain data. :func:`run_trials` runs a list of specs and returns
one record per spec, in spec order, whatever the backend::

    {"key": ..., "spec": {...}, "ok": True, "result": {...}, "seconds": 12.3, "host": "node-1"}
    {"key": ..., "spec": {...}, "ok": False, "error": {"type": ..., "message": ..., "traceback": ...}, ...}

Backends:

* ``local`` (default): a :class:`~concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method
  and ``workers`` processes (default: ``os.cpu_count()``). ``workers=1`` runs the trials in this process,
  one after another: the sequential run, with nothing to spawn and a debugger that works (so does a
  sweep with a single trial left to run).
* ``ray``: one Ray task per trial (``num_cpus=1``, and ``num_gpus=gpus_per_trial`` for CUDA trials, a
  fraction such as 0.25 so that several small trials share a GPU). ``ray_address`` joins an existing
  cluster (``"auto"`` or ``"HEAD:6379"``); without one, Ray starts a local cluster (of ``workers`` CPUs
  when given) and stops it at the end. If Ray is already initialised, that session is used as it is.
  Ray is an optional extra: ``pip install "rlzero[distributed]"``.

Every trial first sets torch's CPU threads (``threads``, default 1), so trials running side by side do not
fight over cores, and runs on CPU with the same results as when run alone (our agents are deterministic
per seed on CPU with the thread count fixed). A trial that raises is recorded with its error and the
sweep goes on. KeyboardInterrupt stops the sweep: the local pool's workers ignore the terminal's Ctrl-C,
and the pool stops each running trial as Ctrl-C would stop it alone (an rlzero trial saves its checkpoint
and summary, see :func:`rlzero.experiment.run`), then ends them after ``STOP_GRACE_SECONDS`` at most.
Finished records are appended to ``results_path`` (JSON lines) as they arrive, so an interrupted sweep
loses none of them; ``resume=True`` reads that file and skips every spec whose key (:func:`spec_key`) has
a successful record there (failed ones run again). Without ``resume`` the file is started afresh.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

BACKENDS = ("local", "ray")
INSTALL_RAY = 'Ray is not installed; the ray backend needs it: pip install "rlzero[distributed]"'
DEFAULT_GPU_FRACTION = 0.25
"""GPU share a CUDA trial asks Ray for by default: our networks are small, four trials fit one GPU."""
STOP_GRACE_SECONDS = 60.0
"""How long an interrupted local pool waits for its running trials to wrap up before it ends them."""

Record = dict[str, Any]
TrialFn = Callable[[Any], Any]


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run here (Ray not installed)."""


def spec_data(spec: Any) -> Any:
    """The spec as JSON-able data (a dataclass becomes its dict)."""
    if dataclasses.is_dataclass(spec) and not isinstance(spec, type):
        spec = dataclasses.asdict(spec)
    return json.loads(json.dumps(spec, default=str))


def spec_key(spec: Any) -> str:
    """A stable identity of a spec: its JSON with sorted keys (what ``resume`` matches on)."""
    return json.dumps(spec_data(spec), sort_keys=True, separators=(",", ":"))


def import_ray() -> Any:
    """``import ray``, or :class:`BackendUnavailable` with the install command."""
    try:
        import ray
    except ImportError:
        raise BackendUnavailable(INSTALL_RAY) from None
    return ray


def error_record(spec: Any, exc: BaseException, seconds: float = 0.0) -> Record:
    """The record of a trial that raised ``exc``."""
    return {
        "key": spec_key(spec),
        "spec": spec_data(spec),
        "ok": False,
        "error": {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        },
        "seconds": round(seconds, 3),
    }


def run_one(fn: TrialFn, spec: Any, threads: int = 1) -> Record:
    """Run ``fn(spec)`` with ``threads`` torch threads (restored after); an exception becomes an error
    record."""
    global _trial_running
    if _stopping:  # a pool worker told to stop: a call the pool had queued ahead starts no trial
        raise KeyboardInterrupt
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    began = time.perf_counter()
    _trial_running = True
    try:
        record = {"key": spec_key(spec), "spec": spec_data(spec), "ok": True, "result": fn(spec)}
        record["seconds"] = round(time.perf_counter() - began, 3)
    except Exception as exc:  # reported in the record; the sweep goes on
        record = error_record(spec, exc, time.perf_counter() - began)
    finally:
        _trial_running = False
        torch.set_num_threads(previous)
    record["host"] = f"{socket.gethostname()}:{os.getpid()}"
    return record


def load_records(path: str | Path) -> dict[str, Record]:
    """Successful records of a JSONL results file by key (a torn last line is ignored)."""
    done: dict[str, Record] = {}
    path = Path(path)
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the half-written line of an interrupted sweep
        if record.get("ok"):
            done[record["key"]] = record
    return done


def run_trials(
    fn: TrialFn,
    specs: Sequence[Any],
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    results_path: str | Path | None = None,
    resume: bool = False,
    threads: int = 1,
    gpus_per_trial: float = 0.0,
    on_result: Callable[[int, Record], None] | None = None,
) -> list[Record]:
    """Run ``fn`` on every spec and return one record per spec, in spec order (see the module docstring).

    ``fn`` must be picklable (a module-level function); ``on_result(index, record)`` is called in this
    process as each trial finishes (records skipped by ``resume`` included), e.g. to print progress.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    ray = import_ray() if backend == "ray" else None
    keys = [spec_key(s) for s in specs]
    records: list[Record | None] = [None] * len(specs)
    done = load_records(results_path) if results_path is not None and resume else {}
    sink = None
    if results_path is not None:
        Path(results_path).parent.mkdir(parents=True, exist_ok=True)
        sink = open(results_path, "a" if resume else "w")  # noqa: SIM115 (closed in the finally below)
        if resume and sink.tell() and not Path(results_path).read_bytes().endswith(b"\n"):
            sink.write("\n")  # end a torn last line, so the next record starts on a line of its own

    def finish(index: int, record: Record, write: bool = True) -> None:
        records[index] = record
        if sink is not None and write:
            sink.write(json.dumps(record, default=str) + "\n")
            sink.flush()
        if on_result is not None:
            on_result(index, record)

    try:
        todo = []
        for i, key in enumerate(keys):
            if key in done:
                finish(i, done[key], write=False)
            else:
                todo.append(i)
        pool_size = min(workers or os.cpu_count() or 1, len(todo))
        if backend == "ray" and todo:
            _run_ray(ray, fn, specs, todo, finish, workers, ray_address, threads, gpus_per_trial)
        elif backend == "local" and pool_size > 1:
            _run_pool(fn, specs, todo, finish, pool_size, threads)
        else:  # one worker, or one trial left: in this process
            for i in todo:
                finish(i, run_one(fn, specs[i], threads))
    finally:
        if sink is not None:
            sink.close()
    missing = [i for i, r in enumerate(records) if r is None]
    assert not missing, f"no record for specs {missing}"
    return [r for r in records if r is not None]


def _run_pool(
    fn: TrialFn,
    specs: Sequence[Any],
    todo: list[int],
    finish: Callable[[int, Record], None],
    workers: int,
    threads: int,
) -> None:
    """Local backend: a spawn process pool (no state forked from this process, CUDA-safe)."""
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
    )
    futures = {pool.submit(run_one, fn, specs[i], threads): i for i in todo}
    try:
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # the worker died, or the spec or result did not pickle
                record = error_record(specs[i], exc)
            finish(i, record)
    except BaseException:
        # Interrupted: stop the running trials as Ctrl-C stops one alone, let them wrap up, then end
        # what is left (Python < 3.14 has no public way to reach the workers; ProcessPoolExecutor keeps
        # them in _processes).
        processes = list(getattr(pool, "_processes", {}).values())
        for future in futures:
            future.cancel()
        for process in processes:
            process.terminate()  # SIGTERM: see _stop_trial
        concurrent.futures.wait(futures, timeout=STOP_GRACE_SECONDS)
        for process in processes:
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


_trial_running = False
"""In a pool worker: whether :func:`run_one` is running a trial now."""

_stopping = False
"""In a pool worker: whether the pool has said stop (no trial starts after that)."""


def _init_worker(parent: int) -> None:
    """Pool worker initializer: stop only when the pool says so, and exit when the sweep's process is
    gone (killed, not just interrupted) instead of running on as an orphan.

    The terminal's Ctrl-C reaches every process of its group, the workers too; they ignore it and take
    the pool's SIGTERM as their Ctrl-C instead, once, so that no second signal cuts short a trial that
    is saving what it has.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_trial)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _stop_trial(signum: int, frame: Any) -> None:
    """A pool worker's SIGTERM: a KeyboardInterrupt in the running trial (none between trials), and no
    trial after it."""
    global _stopping
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _stopping = True
    if _trial_running:
        raise KeyboardInterrupt


def _run_ray(
    ray: Any,
    fn: TrialFn,
    specs: Sequence[Any],
    todo: list[int],
    finish: Callable[[int, Record], None],
    workers: int | None,
    ray_address: str | None,
    threads: int,
    gpus_per_trial: float,
) -> None:
    """Ray backend: one task per trial, gathered as they finish."""
    started_here = not ray.is_initialized()
    if started_here:
        if ray_address:
            ray.init(address=ray_address)
        else:
            ray.init(num_cpus=workers, include_dashboard=False)
    pending: dict[Any, int] = {}
    try:
        task = ray.remote(num_cpus=1, num_gpus=gpus_per_trial)(run_one)
        pending = {task.remote(fn, specs[i], threads): i for i in todo}
        while pending:
            # A timeout, so that Ctrl-C reaches this loop (a blocking ray.wait does not return for it).
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    record = ray.get(ref)
                except Exception as exc:  # the worker died, or the task could not be shipped
                    record = error_record(specs[i], exc)
                finish(i, record)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()


def describe(options: Mapping[str, Any]) -> str:
    """One line saying where the trials run."""
    if options["backend"] == "ray":
        where = options["ray_address"] or "a local Ray cluster"
        gpu = f", {options['gpus_per_trial']:g} GPU per trial" if options["gpus_per_trial"] else ""
        return f"trials: Ray tasks on {where}{gpu}, {options['threads']} torch thread(s) each"
    workers = options["workers"] or os.cpu_count() or 1
    mode = "in this process, one at a time" if workers == 1 else f"on a local pool of {workers} processes"
    return f"trials: {mode}, {options['threads']} torch thread(s) each"
