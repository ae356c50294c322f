"""Checkpoints: weights plus plain-data metadata, written atomically, loaded without unpickling code.

A checkpoint is one ``torch.save`` file holding ``{"format", "metadata", "state_dicts"}``; metadata is
JSON-like (agent, env id and kwargs, spaces, network, hyperparameters, steps, versions). Loading uses
``torch.load(weights_only=True)``, so a file carrying arbitrary Python objects is refused, not run.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

FORMAT = "rlzero-checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a loadable rlzero checkpoint, or weights that do not fit a network."""


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary file's path beside ``path`` for the block to write; once it has, the file is synced
    and renamed onto ``path``, so a crash or Ctrl-C leaves the old file or the new one, never half of
    one. The file gets the permissions ``open`` would give it (``mkstemp`` makes them owner-only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(
    path: str | os.PathLike, metadata: dict[str, Any], state_dicts: dict[str, dict[str, torch.Tensor]]
) -> Path:
    """Write atomically: a crash or Ctrl-C leaves the old file or the new one, never half of one."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        # A JSON round trip keeps metadata to plain types (a str subclass such as torch's
        # TorchVersion would otherwise be pickled as a class that weights_only loading refuses).
        "metadata": json.loads(json.dumps(metadata)),
        "state_dicts": {
            # A copy, not the tensor: a group member's weights are views into the whole group's
            # storage, which torch.save would write in full.
            name: {k: v.detach().to("cpu", copy=True) for k, v in sd.items()}
            for name, sd in state_dicts.items()
        },
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint onto ``map_location``; raise :class:`CheckpointError` on anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        refusal = _why_refused(path, str(exc))
        if refusal:
            raise CheckpointError(
                f"refused to load {path}: {refusal} (checkpoints are loaded with weights_only=True)"
            ) from None
        # torch wraps the unpickler's reason in a long note; keep the reason only, on one line.
        reason = str(exc).split("WeightsUnpickler error:")[-1].split("Check the documentation")[0]
        raise CheckpointError(
            f"cannot read {path}: corrupt or truncated checkpoint ({' '.join(reason.split())})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rlzero checkpoint (expected format {FORMAT!r})")
    return payload


def _why_refused(path: Path, message: str) -> str | None:
    """Why weights-only loading refused a well-formed pickle; None where the file is just unreadable.

    torch reports every weights-only failure as "Weights only load failed", random bytes included
    ("Unsupported operand"), so the reason is told apart here: a class or function the unpickler
    will not build, or a raw pickle stream (rlzero checkpoints are torch's zip archives).
    """
    if "Weights only load failed" not in message:
        return None
    if re.search(r"GLOBAL|allowlisted|unrecognized function", message):
        return "it holds Python objects other than tensors and plain data"
    with open(path, "rb") as f:
        head = f.read(2)
    if len(head) == 2 and head[0] == pickle.PROTO[0] and head[1] <= pickle.HIGHEST_PROTOCOL:
        return "it is a raw Python pickle, not a checkpoint archive"
    return None


def check_weights(
    own: Mapping[str, torch.Tensor], state_dict: Mapping[str, torch.Tensor], what: str = "network"
) -> None:
    """Raise :class:`CheckpointError` naming every tensor of ``state_dict`` that does not fit ``own``
    (the state dict of the network it is meant for)."""
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    misshapen = [
        f"{k} (checkpoint {tuple(state_dict[k].shape)} vs {what} {tuple(own[k].shape)})"
        for k in sorted(set(own) & set(state_dict))
        if own[k].shape != state_dict[k].shape
    ]
    problems = [
        f"{label}: {', '.join(items)}"
        for label, items in (
            ("shape mismatch", misshapen),
            ("missing", missing),
            ("unexpected", unexpected),
        )
        if items
    ]
    if problems:
        raise CheckpointError(f"weights do not fit the {what}: " + "; ".join(problems))
