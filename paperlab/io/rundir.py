"""The run directory (docs/design.md, "A run"): everything one run writes, in one place.

    outputs/<task>/<name>/<YYYY-mm-dd_HH-MM-SS>/
      .hydra/{config,hydra,overrides}.yaml  <task>.log  run.json
      metrics.jsonl  metrics.csv  results.json
      checkpoints/{last,best}.pt  figures/*.png|svg  arrays/*.h5

Only the main process writes (`writer=False` on other DDP ranks turns every write into a no-op).
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import paperlab
from paperlab.errors import UserError
from paperlab.io.atomic import atomic_write, read_json, remove_temp_files, unwritable, write_json

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"
ARGV_ENV = "PAPERLAB_ARGV"  # the command line as the user typed it (set by paperlab.launch)


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def git_state() -> dict[str, Any]:
    """The commit of the paperlab source tree that ran (None outside a git checkout)."""
    src = Path(paperlab.__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return {"sha": None, "dirty": None}
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return {"sha": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {"sha": None, "dirty": None}


def command_line() -> list[str]:
    """The command that started this process, as typed (not Hydra's rewritten argv)."""
    return json.loads(os.environ[ARGV_ENV]) if ARGV_ENV in os.environ else list(sys.argv)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import torch  # here: `paperlab runs` reads run directories without loading torch

    try:  # the installed version, without importing torchvision (a second of start-up)
        torchvision = version("torchvision")
    except PackageNotFoundError:
        torchvision = "not installed"
    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torchvision": torchvision,
        "paperlab": paperlab.__version__,
    }


LOCK_FILE = ".lock"
_HELD: dict[Path, IO[str]] = {}  # run directories this process has locked (released at its exit)


def lock_run_dir(path: str | Path) -> bool:
    """Take the run directory's exclusive lock (as git's index.lock keeps two commands from writing
    one repository); False when this process holds it already. A second command on the same
    directory gets a one-line error naming the holder; the kernel releases the lock when its
    process dies, however it dies, so a killed run never blocks its own --resume."""
    path = Path(path).resolve()
    if path in _HELD:
        return False
    lock = path / LOCK_FILE
    try:
        path.mkdir(parents=True, exist_ok=True)
        f = open(lock, "a+")  # noqa: SIM115 (held open, for the lock, until the run ends)
    except OSError as err:
        raise unwritable(lock, err) from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise UserError(f"run directory {path} is in use by {holder}",
                        "wait for that command to finish, or give another hydra.run.dir") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()} ({' '.join(command_line())}), since {_now()}\n")
    f.flush()
    _HELD[path] = f
    return True


def unlock_run_dir(path: str | Path) -> None:
    """Release a lock `lock_run_dir` took (closing the file releases it)."""
    f = _HELD.pop(Path(path).resolve(), None)
    if f is not None:
        f.close()


def lock_is_held(path: str | Path) -> bool:
    """Whether some live process holds the run directory's lock (a 'running' run without one died)."""
    lock = Path(path) / LOCK_FILE
    if Path(path).resolve() in _HELD:
        return True
    if not lock.is_file():
        return False
    with open(lock) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


class RunDir:
    """One run's directory. Create it with `RunDir.start(...)`; reopen one with `RunDir(path)`."""

    def __init__(self, path: str | Path, writer: bool = True) -> None:
        self.path = Path(path)
        self.writer = writer
        self.status = "running"  # as this process last set it (run.json holds it for others)
        self.previous_status: str | None = None  # a resumed run's status before this command
        self.previous_ended: str | None = None

    # -- layout ---------------------------------------------------------------------------------
    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    @property
    def arrays(self) -> Path:
        return self.path / "arrays"

    def figure(self, name: str) -> Path:
        """Path for a figure file (figures/<name>), its folder created."""
        self.figures.mkdir(parents=True, exist_ok=True)
        return self.figures / name

    # -- lifecycle ------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        path: str | Path,
        task: str,
        name: str,
        overrides: list[str] | None = None,
        resume: bool = False,
        writer: bool = True,
    ) -> RunDir:
        """Open the run: clear what killed writers left (the caller holds the directory's lock),
        write run.json with status "running" (or record a resume; `previous_status` keeps what
        it was)."""
        run = cls(path, writer=writer)
        if not writer:
            return run
        run.path.mkdir(parents=True, exist_ok=True)
        for folder in (run.path, run.checkpoints, run.checkpoints / "snapshots"):
            if folder.is_dir():
                remove_temp_files(folder)
        if resume and (run.path / RUN_FILE).is_file():
            info = run.info()
            run.previous_status, run.previous_ended = info.get("status"), info.get("ended")
            info.setdefault("resumed", []).append({"at": _now(), "argv": command_line()})
            info.update(status="running", ended=None)
            write_json(run.path / RUN_FILE, info)
            return run
        write_json(
            run.path / RUN_FILE,
            {
                "task": task,
                "name": name,
                "status": "running",
                "started": _now(),
                "ended": None,
                "argv": command_line(),
                "overrides": overrides or [],
                "git": git_state(),
                "versions": versions(),
                "host": socket.gethostname(),
                "device": None,
            },
        )
        return run

    def info(self) -> dict[str, Any]:
        return read_json(self.path / RUN_FILE)

    def update(self, **fields: Any) -> None:
        """Merge fields into run.json (e.g. device=..., status=...)."""
        if not self.writer:
            return
        info = self.info() if (self.path / RUN_FILE).is_file() else {}
        info.update(fields)
        write_json(self.path / RUN_FILE, info)

    def abandon_resume(self, reason: str) -> None:
        """A resume that failed before it changed the run: its status goes back to what it was,
        the attempt's error is kept in its `resumed` record."""
        self.status = self.previous_status or "running"
        info = self.info()
        info["resumed"][-1].update(error=reason, ended=_now())
        info.update(status=self.status, ended=self.previous_ended)
        write_json(self.path / RUN_FILE, info)

    def finish(self, status: str = "completed", **fields: Any) -> None:
        self.status = status
        self.update(status=status, ended=_now(), **fields)

    # -- metrics and results --------------------------------------------------------------------
    def log_metrics(self, record: Mapping[str, Any]) -> None:
        """Append one record (step, epoch, split/metric values...) to metrics.jsonl."""
        if not self.writer:
            return
        with open(self.path / METRICS_FILE, "a") as f:
            f.write(json.dumps(dict(record)) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        p = self.path / METRICS_FILE
        if not p.is_file():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]

    def truncate_metrics(self, last_step: int) -> None:
        """Drop records logged after `last_step` (a resumed run redoes those steps)."""
        if not self.writer:
            return
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= last_step]
        data = "".join(json.dumps(r) + "\n" for r in kept).encode()
        atomic_write(self.path / METRICS_FILE, lambda f: f.write(data))

    def write_metrics_csv(self) -> Path | None:
        """metrics.csv: the same records as metrics.jsonl, one column per key seen."""
        if not self.writer:
            return None
        records = self.read_metrics()
        columns: list[str] = []
        for r in records:
            columns.extend(k for k in r if k not in columns)
        path = self.path / "metrics.csv"
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            w.writerows(records)
        return path

    def save_results(self, results: Mapping[str, Any]) -> None:
        """results.json: the headline numbers only (what goes into the README's tables)."""
        if self.writer:
            write_json(self.path / RESULTS_FILE, dict(results))

    def results(self) -> dict[str, Any]:
        p = self.path / RESULTS_FILE
        return read_json(p) if p.is_file() else {}

    def save_arrays(self, name: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any] | None = None) -> Path:
        # h5py and torch are imported only by a run that saves arrays
        from paperlab.io.arrays import save_arrays

        path = self.arrays / (name if name.endswith(".h5") else f"{name}.h5")
        if self.writer:
            save_arrays(path, arrays, attrs)
        return path
