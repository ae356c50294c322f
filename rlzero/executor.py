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
sweep goes on. Finished records are appended to ``results_path`` (JSON lines) as they arrive, so an
interrupted sweep loses none of them; ``resume=True`` reads that file and skips every spec whose key
(:func:`spec_key`) has a successful, uninterrupted record there (the others run again). Without
``resume`` the file is started afresh.

**Stopping** is this module's too, for every run in rlzero: :func:`stop_on_interrupt` is the one handler
of Ctrl-C (and SIGTERM). The first asks for a stop (:func:`stop_requested`), which a running rlzero run
obeys at its next step, saving its checkpoint and summary as at its end (see
:func:`rlzero.experiment.run`); later ones are noted and otherwise ignored, so nothing is cut short
while it saves. A local pool passes the stop on to its workers (which ignore the terminal's Ctrl-C and
wait for it), and no trial starts after it: each trial not started is recorded with
``"interrupted": true`` and no result, as is each that was running (with its result). Ray tasks are
cancelled.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

BACKENDS = ("local", "ray")
INSTALL_RAY = 'Ray is not installed; the ray backend needs it: pip install "rlzero[distributed]"'
DEFAULT_GPU_FRACTION = 0.25
"""GPU share a CUDA trial asks Ray for by default: our networks are small, four trials fit one GPU."""
POLL_SECONDS = 0.2
"""How often a local pool or a Ray sweep looks for a stop while it waits for its trials."""

Record = dict[str, Any]
TrialFn = Callable[[Any], Any]


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run here (Ray not installed)."""


_stop = threading.Event()
"""Set by the first Ctrl-C in this process (see :func:`stop_on_interrupt`)."""
_pool_stop: Any = None
"""In a local pool's worker: the pool's shared event, set when the sweep's process stops."""
_handling = False
"""Whether :func:`stop_on_interrupt`'s handler is installed in this process."""


def stop_requested() -> bool:
    """Whether a stop was asked for: every run in this process (or its pool) stops at its next step."""
    return _stop.is_set() or (_pool_stop is not None and _pool_stop.is_set())


def request_stop() -> None:
    """What the first Ctrl-C does: ask every run in this process, and in its pool, to stop."""
    _stop.set()


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[None]:
    """Within it, Ctrl-C (SIGINT) and SIGTERM no longer raise: the first requests a stop, later ones are
    noted on stderr and otherwise ignored. The outermost use installs the handler and clears the request
    on the way out; nested uses, pool workers (their pool passes the stop on) and threads other than the
    main one leave things as they are."""
    global _handling
    if _handling or _pool_stop is not None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if _stop.is_set():
            print("interrupted already: saving what the run has, then stopping", file=sys.stderr)
        _stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    _handling = True
    _stop.clear()
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _handling = False
        _stop.clear()


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


def interrupted_record(spec: Any) -> Record:
    """The record of a trial that a stop kept from starting (or, on Ray, cancelled): no result."""
    return {"key": spec_key(spec), "spec": spec_data(spec), "ok": False, "interrupted": True, "seconds": 0.0}


def run_one(fn: TrialFn, spec: Any, threads: int = 1) -> Record:
    """Run ``fn(spec)`` with ``threads`` torch threads (restored after); an exception becomes an error
    record. After a stop it starts nothing, and a trial it stopped is recorded as interrupted."""
    if stop_requested():
        return interrupted_record(spec)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    began = time.perf_counter()
    try:
        record = {"key": spec_key(spec), "spec": spec_data(spec), "ok": True, "result": fn(spec)}
        record["seconds"] = round(time.perf_counter() - began, 3)
    except Exception as exc:  # reported in the record; the sweep goes on
        record = error_record(spec, exc, time.perf_counter() - began)
    finally:
        torch.set_num_threads(previous)
    if stop_requested():
        record["interrupted"] = True
    record["host"] = f"{socket.gethostname()}:{os.getpid()}"
    return record


def load_records(path: str | Path) -> dict[str, Record]:
    """Successful, uninterrupted records of a JSONL results file by key (a torn last line is ignored)."""
    done: dict[str, Record] = {}
    path = Path(path)
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the half-written line of an interrupted sweep
        if record.get("ok") and not record.get("interrupted"):
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
    """Run ``fn`` on every spec and return one record per spec, in spec order (see the module docstring),
    stopping as :func:`stop_on_interrupt` says.

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

    with stop_on_interrupt():
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
    """Local backend: a spawn process pool (no state forked from this process, CUDA-safe), told of a
    stop through an event its workers share."""
    context = multiprocessing.get_context("spawn")
    pool_stop = context.Event()
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(), pool_stop)
    )
    futures = {pool.submit(run_one, fn, specs[i], threads): i for i in todo}
    pending = set(futures)
    try:
        while pending:
            done, pending = concurrent.futures.wait(
                pending, timeout=POLL_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                i = futures[future]
                try:
                    record = future.result()
                except Exception as exc:  # the worker died, or the spec or result did not pickle
                    record = error_record(specs[i], exc)
                finish(i, record)
            if stop_requested():
                pool_stop.set()  # running trials stop at their next step; queued ones do not start
    finally:
        pool_stop.set()  # a no-op after a full sweep; after an error here, the workers wrap up
        pool.shutdown(wait=True, cancel_futures=True)


def _init_worker(parent: int, pool_stop: Any) -> None:
    """Pool worker initializer: stop when the pool says so (the terminal's Ctrl-C, which reaches every
    process of its group, is the sweep's process's to handle), and exit when the sweep's process is gone
    (killed, not just interrupted) instead of running on as an orphan."""
    global _pool_stop
    _pool_stop = pool_stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


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
        while pending and not stop_requested():
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    record = ray.get(ref)
                except Exception as exc:  # the worker died, or the task could not be shipped
                    record = error_record(specs[i], exc)
                finish(i, record)
    finally:
        for ref in pending:  # left by a stop or an error
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
    for i in pending.values():  # cancelled by a stop
        finish(i, interrupted_record(specs[i]))


def interrupted(records: Sequence[Record]) -> bool:
    """Whether a stop cut the sweep short: a trial of it was stopped or never started."""
    return any(record.get("interrupted") for record in records)


def failure(record: Record) -> str:
    """Why a record has no result, on one line."""
    if "error" in record:
        return f"FAILED {record['error']['type']}: {record['error']['message']}"
    return "not started: the sweep was interrupted"


def describe(options: Mapping[str, Any]) -> str:
    """One line saying where the trials run."""
    if options["backend"] == "ray":
        where = options["ray_address"] or "a local Ray cluster"
        gpu = f", {options['gpus_per_trial']:g} GPU per trial" if options["gpus_per_trial"] else ""
        return f"trials: Ray tasks on {where}{gpu}, {options['threads']} torch thread(s) each"
    workers = options["workers"] or os.cpu_count() or 1
    mode = "in this process, one at a time" if workers == 1 else f"on a local pool of {workers} processes"
    return f"trials: {mode}, {options['threads']} torch thread(s) each"
