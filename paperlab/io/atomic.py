"""Atomic file writes: a temp file in the same directory, fsync, then rename over the target.

A reader (or a crash) never sees a half-written checkpoint or JSON file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    data = (json.dumps(obj, indent=2, default=str) + "\n").encode()
    return atomic_write(path, lambda f: f.write(data))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
