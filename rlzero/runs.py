"""Run directories: ``runs/<env>__<agent>__<seed>__<unix time>/`` with config, summary, checkpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rlzero.agents.files import atomic_path

CHECKPOINT_NAME = "model.pt"


def run_dir_name(logdir: str | Path, *name_parts: object) -> Path:
    """``logdir/<part>__<part>__...__<unix time>``, CleanRL's run name (:func:`claim_dir` claims it)."""
    return Path(logdir) / "__".join([*(str(p) for p in name_parts), str(int(time.time()))])


def claim_dir(path: str | Path) -> Path:
    """Create ``path``, or ``path_1``, ``path_2``, ... where it exists; return the one created.

    ``mkdir`` is atomic, so runs started at once (a process pool, Ray tasks on a shared filesystem)
    never share a directory, and a rerun never writes into an old run's directory.
    """
    path = Path(path)
    for suffix in ["", *(f"_{i}" for i in range(1, 1000))]:
        candidate = path.with_name(f"{path.name}{suffix}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory name for {path}")


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename), so a reader never sees half a file."""
    with atomic_path(Path(path)) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
