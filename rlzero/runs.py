"""Run directories: ``runs/<env>__<agent>__<seed>__<unix time>/`` with config, summary, checkpoint."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

CHECKPOINT_NAME = "model.pt"


def make_run_dir(logdir: str | Path, env_id: str, agent: str, seed: int) -> Path:
    """Create a fresh run directory named CleanRL-style; never reuse an existing one."""
    base = f"{env_id}__{agent}__{seed}__{int(time.time())}"
    for suffix in ["", *(f"_{i}" for i in range(1, 1000))]:
        path = Path(logdir) / f"{base}{suffix}"
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory name under {logdir} for {base}")


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename), so a reader never sees half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
