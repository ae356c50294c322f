"""What the command-line tools share: one-line usage errors, failed writes, typed ``key=value`` parsing."""

from __future__ import annotations

import argparse
import ast
import contextlib
import errno
import math
import os
import shutil
import sys
import threading
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from rlzero import envs
from rlzero.executor import BACKENDS, DEFAULT_GPU_FRACTION, import_ray
from rlzero.runs import run_dir_name


class UsageError(Exception):
    """Bad command-line input: reported on one line, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports misuse on a single line (no usage dump, no traceback) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def fail(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """Exit 2 with ``message`` on one line."""
    parser.error(" ".join(str(message).split()))


WRITE_FAILURES = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG)
"""Errors of a write that started and failed (a full disk, a quota): a failed run, not a misused flag."""


def write_failed(prog: str, exc: OSError, run_dir: Path | None) -> int:
    """Report a write that failed (a full disk, a folder gone) on one line, clean up the run directory,
    and return exit status 1 (a failed run, not a misused command).

    A run directory without a finished checkpoint is removed, as nothing in it can be used; one with a
    checkpoint is kept, and the line says so."""
    where = exc.filename or (f"into {run_dir}" if run_dir is not None else "a file")
    line = f"{prog}: cannot write {where}: {exc.strerror or exc}"
    if run_dir is not None and run_dir.exists():
        kept = sorted(str(p) for p in run_dir.rglob("model.*") if p.suffix in (".pt", ".zip"))
        if kept:
            line += f"; the run in {run_dir} is incomplete, its checkpoints are kept: {', '.join(kept)}"
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
            line += f"; removed the incomplete run directory {run_dir}"
    print(line, file=sys.stderr)
    return 1


@contextlib.contextmanager
def quiet_writer_threads() -> Iterator[None]:
    """Keep TensorBoard's writer threads from printing a traceback when a write fails: the writer raises
    the same error in the training thread at its next write, where the CLI reports it on one line."""
    original = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if type(args.thread).__name__ != "_AsyncWriterThread":
            original(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = original


def run_dir_path(parser: argparse.ArgumentParser, logdir: str | Path, *name_parts: object) -> Path:
    """Where a new run goes under ``logdir`` (:func:`rlzero.runs.run_dir_name`; claimed by the run itself),
    with ``logdir`` made; exit 2 with one line where it cannot hold one (a file, no permission) or is
    empty."""
    if not str(logdir).strip():
        fail(parser, "--logdir must name a folder, got an empty string (the default is runs)")
    try:
        if Path(logdir).exists() and not Path(logdir).is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
        Path(logdir).mkdir(parents=True, exist_ok=True)
        if not os.access(logdir, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "Permission denied")
    except OSError as exc:
        fail(parser, f"--logdir {logdir}: cannot create a run directory there ({exc.strerror or exc})")
    return run_dir_name(logdir, *name_parts)


def integer_at_least(text: str, minimum: int, expected: str) -> int:
    """``text`` as an integer >= ``minimum`` (underscores allowed, as in 100_000), else an argparse
    error saying what was ``expected``."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    return integer_at_least(text, 1, "a positive integer")


def seed_int(text: str) -> int:
    """argparse type: a seed, an integer >= 0."""
    return integer_at_least(text, 0, "a seed, an integer >= 0")


def seed_range(text: str) -> list[int]:
    """argparse type: a seed (``3``) or an inclusive range of them (``0-31``)."""
    first, sep, last = text.partition("-")
    try:
        seeds = list(range(int(first), int(last) + 1)) if sep else [int(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed or a range such as 0-31, got {text!r}") from None
    if not seeds or seeds[0] < 0:
        raise argparse.ArgumentTypeError(f"expected seeds >= 0 in increasing order, got {text!r}")
    return seeds


def flatten_seeds(groups: Sequence[Sequence[int]]) -> list[int]:
    """The seeds of ``nargs="+"`` :func:`seed_range` arguments, in order, each once."""
    return list(dict.fromkeys(seed for group in groups for seed in group))


def split_pairs(pairs: Sequence[str], flag: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a pair without ``=`` is a UsageError."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def parse_literal(text: str) -> Any:
    """A Python literal where the text is one (``3``, ``0.5``, ``True``, ``[64, 64]``), else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_env_kwargs(pairs: Sequence[str], flag: str = "--env-kwargs") -> dict[str, Any]:
    """``--env-kwargs size=12 rule=countdown`` (or another ``flag``) as constructor arguments."""
    return {k: parse_literal(v) for k, v in split_pairs(pairs, flag).items()}


def add_hparams_arg(parser: argparse.ArgumentParser, help: str) -> None:
    """``--set K=V ...`` into ``args.hparams``, to be checked with :func:`parse_hparams`."""
    parser.add_argument("--set", nargs="*", default=[], metavar="K=V", dest="hparams", help=help)


def parse_hparams(pairs: Sequence[str], types: Mapping[str, Any]) -> dict[str, Any]:
    """``--set key=value`` checked against an agent's hyperparameter names and types."""
    out: dict[str, Any] = {}
    for key, text in split_pairs(pairs, "--set").items():
        if key not in types:
            raise UsageError(f"--set: unknown hyperparameter {key!r}; valid: {', '.join(sorted(types))}")
        out[key] = convert(text, types[key], f"--set {key}")
    return out


def convert(text: str, hint: Any, where: str) -> Any:
    """Convert ``text`` to the annotated type (int, float, bool, str, tuple of ints); a float must be
    finite."""
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError
            return lowered in ("true", "1")
        if hint is int:
            return int(text.replace("_", ""))
        if hint is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if origin is tuple:
            items = text.strip("()[] ").split(",")
            return tuple(int(x) for x in items if x.strip())
        if hint is str:
            return text
    except ValueError:
        pass
    expected = getattr(hint, "__name__", str(hint))
    raise UsageError(f"{where}: expected {expected}, got {text!r}")


def check_env_id(env_id: str) -> None:
    """A UsageError unless ``env_id`` can be made here (see :func:`rlzero.envs.check_env_id`)."""
    try:
        envs.check_env_id(env_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def parse_budgets(pairs: Sequence[str], env_ids: Sequence[str]) -> dict[str, int]:
    """``--budget ENV=STEPS ...`` for envs among ``env_ids``."""
    budgets = {}
    for env_id, text in split_pairs(pairs, "--budget").items():
        if env_id not in env_ids:
            raise UsageError(f"--budget names {env_id!r}, which is not among the envs: {', '.join(env_ids)}")
        budgets[env_id] = convert(text, int, f"--budget {env_id}")
        if budgets[env_id] < 1:
            raise UsageError(f"--budget {env_id}: expected a positive integer, got {text!r}")
    return budgets


def report(message: str) -> None:
    """Print a status line on stderr."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# The flags that say where many trials run (rlzero.executor), shared by finetune and the benchmarks.


def add_runner_args(
    parser: argparse.ArgumentParser, resume: bool = False, default_workers: int | None = None
) -> argparse._ArgumentGroup:
    """Add ``--backend``, ``--workers``, ``--ray-address``, ``--gpus-per-trial`` (and ``--resume``)."""
    group = parser.add_argument_group("running the trials")
    group.add_argument(
        "--backend",
        default="local",
        choices=BACKENDS,
        help="local: a process pool on this machine (default); ray: one Ray task per trial, on the "
        'cluster at --ray-address or a local one (needs pip install "rlzero[distributed]")',
    )
    group.add_argument(
        "--workers",
        type=positive_int,
        default=default_workers,
        help="trials run at once: processes of the local pool (default: "
        + (f"{default_workers}" if default_workers else "the number of CPUs")
        + "; 1 runs them in this process); with --backend ray and no --ray-address, the CPUs "
        "of the local Ray cluster",
    )
    group.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="an existing Ray cluster: HEAD:6379, or auto for the one `ray start` set up on this node",
    )
    group.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help=f"GPU share each Ray task asks for when the trials run on CUDA (default {DEFAULT_GPU_FRACTION})",
    )
    if resume:
        group.add_argument(
            "--resume",
            action="store_true",
            help="keep the trials already finished in the output folder's trials.jsonl; run the rest",
        )
    return group


def runner_options(args: argparse.Namespace, device: str, threads: int = 1) -> dict[str, Any]:
    """The :func:`run_trials` keyword arguments from the flags of :func:`add_runner_args`.

    Raises :class:`BackendUnavailable` for ``--backend ray`` without Ray (check it before any work).
    """
    if args.backend == "ray":
        import_ray()
    # A trial resolves "auto" itself, on the machine that runs it; the driver asks Ray for a GPU share
    # when the trials are to run on CUDA, or on "auto" where this machine has CUDA.
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    gpus = args.gpus_per_trial if args.gpus_per_trial is not None else DEFAULT_GPU_FRACTION
    return {
        "backend": args.backend,
        "workers": args.workers,
        "ray_address": args.ray_address,
        "threads": threads,
        "gpus_per_trial": gpus if cuda else 0.0,
        "resume": bool(getattr(args, "resume", False)),
    }
