"""Atomic file writes: a temp file in the same directory, fsync, then rename over the target (as
rsync does). A reader, or a crash, never sees a half-written checkpoint or JSON file, and the file
it replaces stays as it was until the new one is complete.

The new file gets the permissions the umask gives any file (mkstemp's own 0600 would hide run
records and checkpoints from colleagues on a shared cluster). A full disk or a read-only folder is
one line naming the file, not a traceback."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from paperlab.errors import UserError

TEMP_SUFFIX = ".tmp"  # .<name>.<random>.tmp beside the target: see remove_temp_files
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_ALLOWED = {errno.EROFS, errno.EACCES, errno.EPERM}


def umask() -> int:
    """The process's umask (read, not changed, where /proc tells it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def unwritable(path: Path, err: OSError) -> UserError:
    """The one-line error for a write that the file system refused."""
    reason = os.strerror(err.errno) if err.errno else str(err)
    if err.errno in _NO_ROOM:
        return UserError(f"cannot write {path}: {reason.lower()}",
                         "free some space (files written before, such as the last good checkpoint, are kept), "
                         "then run again or --resume")
    return UserError(f"cannot write {path}: {reason.lower()}",
                     "run from a folder you can write to, or point hydra.run.dir / paths.cache elsewhere")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as err:
        raise unwritable(path, err) from None
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.errno in _NO_ROOM | _NOT_ALLOWED:
            raise unwritable(path, err) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files that writers killed mid-write left in `folder` (only while nobody else
    writes there: the caller holds the run directory's lock)."""
    removed = [p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for p in removed:
        p.unlink(missing_ok=True)
    return removed


def write_json(path: str | Path, obj: Any) -> Path:
    data = (json.dumps(obj, indent=2, default=str) + "\n").encode()
    return atomic_write(path, lambda f: f.write(data))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
