"""Cached pipeline stages: each stage writes its output as files in the run directory and records
a fingerprint of the settings it depends on in `stages.json`. Running the pipeline again in the same
run directory (`paperlab zsl --resume RUN_DIR`) skips a stage whose files exist and whose settings
are unchanged; a stage that runs (changed settings, missing files, or asked for with `--redo`)
makes every later stage run too."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from paperlab.errors import UserError
from paperlab.io.atomic import read_json, write_json

log = logging.getLogger(__name__)
MANIFEST = "stages.json"


def fingerprint(settings: Any) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Stages:
    def __init__(self, root: Path, names: Sequence[str], redo: Iterable[str] = ()) -> None:
        self.root = root
        self.names = list(names)
        redo = list(redo)
        unknown = [r for r in redo if r not in self.names]
        if unknown:
            raise UserError(f"unknown stage(s) {', '.join(unknown)} in --redo",
                            f"choose among: {', '.join(self.names)}")
        # redoing a stage redoes everything after it
        self.first_redo = min((self.names.index(r) for r in redo), default=len(self.names))
        path = root / MANIFEST
        self.manifest: dict[str, Any] = read_json(path) if path.is_file() else {}
        self.dirty = False
        self.ran: list[str] = []

    def _save(self) -> None:
        write_json(self.root / MANIFEST, self.manifest)

    def run(self, name: str, settings: Any, outputs: Sequence[Path], fn: Callable[[bool], None]) -> None:
        """Run `fn(resume)` unless its cached outputs are valid; `resume` is True when an earlier
        attempt with the same settings started and did not finish (e.g. an interrupted training)."""
        fp = fingerprint(settings)
        entry = self.manifest.get(name, {})
        same = entry.get("fingerprint") == fp
        forced = self.names.index(name) >= self.first_redo
        if same and entry.get("status") == "done" and all(p.exists() for p in outputs) and not (self.dirty or forced):
            log.info("stage %s: cached (%s)", name, ", ".join(str(p.relative_to(self.root)) for p in outputs))
            return
        resume = same and entry.get("status") == "started" and not (self.dirty or forced)
        log.info("stage %s: %s", name, "resuming" if resume else "running")
        self.manifest[name] = {"fingerprint": fp, "status": "started"}
        self._save()
        t = time.perf_counter()
        fn(resume)
        self.manifest[name] = {"fingerprint": fp, "status": "done", "seconds": round(time.perf_counter() - t, 1),
                               "finished": dt.datetime.now().isoformat(timespec="seconds"),
                               "outputs": [str(p.relative_to(self.root)) for p in outputs]}
        self._save()
        self.dirty = True
        self.ran.append(name)
