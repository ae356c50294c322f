"""Files a user keeps (checkpoints, JSON, plots, videos) are written whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary file's path beside ``path`` for the block to write; once it has, the file is synced
    and renamed onto ``path``, so a crash or Ctrl-C leaves the old file or the new one, never half of
    one. The file gets the permissions ``open`` would give it (``mkstemp`` makes them owner-only). A
    write that fails raises ``OSError`` naming ``path`` itself (not the temporary file)."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        os.close(fd)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


def write_error(path: Path, exc: Exception) -> OSError:
    """An ``OSError`` for a write of ``path`` that a library reported otherwise (torch's zip writer raises
    ``RuntimeError``): "no space left" where the filesystem has less than a megabyte free."""
    try:
        full = shutil.disk_usage(path.parent).free < 1 << 20
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return OSError(errno.EIO, " ".join(str(exc).split()), str(path))
