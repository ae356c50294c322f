"""Checkpoints: weights plus plain-data metadata, written atomically, loaded without unpickling code.

A checkpoint is one ``torch.save`` file holding ``{"format", "metadata", "state_dicts"}``; metadata is
JSON-like (agent, env id and kwargs, spaces, network, hyperparameters, steps, versions). Loading uses
``torch.load(weights_only=True)``, so a file carrying arbitrary Python objects is refused, not run.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from rlzero.agents.files import atomic_path, write_error

FORMAT = "rlzero-checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a loadable rlzero checkpoint, or weights that do not fit a network."""


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
    try:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
    except RuntimeError as exc:  # torch's zip writer reports a failed write so
        raise write_error(path, exc) from None
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
    check_metadata(payload.get("metadata"), path)
    state_dicts = payload.get("state_dicts")
    if not isinstance(state_dicts, dict) or not all(
        isinstance(sd, dict) and all(isinstance(v, torch.Tensor) for v in sd.values())
        for sd in state_dicts.values()
    ):
        raise CheckpointError(f"{path}: 'state_dicts' must map network names to state dicts of tensors")
    return payload


METADATA_FIELDS: dict[str, type | tuple[type, ...]] = {
    "agent": str,
    "env_id": str,
    "env_kwargs": dict,
    "seed": int,
    "hparams": dict,
    "num_timesteps": int,
}
"""What every checkpoint's metadata holds (ours and the SB3 adapter's ``rlzero.json``), and its type."""


def check_metadata(metadata: Any, path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of the checkpoint at ``path`` if it has every field of :data:`METADATA_FIELDS` with
    its type; else a :class:`CheckpointError` naming the first field that is missing or wrong."""
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: its metadata must be a mapping, got {type(metadata).__name__}")
    for field, kind in METADATA_FIELDS.items():
        if field not in metadata:
            raise CheckpointError(f"{path}: its metadata has no {field!r}")
        value = metadata[field]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(
                f"{path}: metadata {field!r} must be a {getattr(kind, '__name__', kind)}, got {value!r}"
            )
    return metadata


def check_agent(metadata: Mapping[str, Any], agent: str, path: str | os.PathLike) -> None:
    """A :class:`CheckpointError` unless the checkpoint at ``path`` was saved by an ``agent``: weights move
    between agents of one algorithm only."""
    if metadata["agent"] != agent:
        raise CheckpointError(f"{path} holds a {metadata['agent']!r} agent, not {agent!r}")


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
