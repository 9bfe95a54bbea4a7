"""`paperlab runs` shows every run directory: one whose run.json or results.json cannot be read is
a row marked so (never hidden, never hiding the others), a `running` run that no process holds is
`died`, and the overrides tell runs of one name apart."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from conftest import run_cli

from paperlab.io.rundir import LOCK_FILE


def _run(root: Path, name: str, stamp: str, status: str = "completed", overrides: tuple[str, ...] = (),
         results: str | None = '{"val/top1_err": 10.0}', info: str | None = None) -> Path:
    path = root / "train" / name / stamp
    path.mkdir(parents=True)
    (path / "run.json").write_text(info if info is not None else json.dumps(
        {"task": "train", "name": name, "status": status, "started": stamp, "overrides": list(overrides)}))
    if results is not None:
        (path / "results.json").write_text(results)
    return path


def test_runs_shows_unreadable_dead_and_overrides(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    common = "trainer.max_epochs=1"
    _run(out, "zfnet", "2026-01-01_00-00-01", overrides=("optim.lr=0.1", common))
    _run(out, "zfnet", "2026-01-01_00-00-02", overrides=("optim.lr=0.01", common))
    _run(out, "cut", "2026-01-01_00-00-03", info='{"task": "train", "na')  # run.json cut short by a full disk
    _run(out, "halfres", "2026-01-01_00-00-04", results='{"val/top1')
    _run(out, "killed", "2026-01-01_00-00-05", status="running", results=None)
    alive = _run(out, "alive", "2026-01-01_00-00-06", status="running", results=None)
    with open(alive / LOCK_FILE, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a live command holds its run directory
        r = run_cli("runs", "outputs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line.split("│")[2].strip(): line for line in r.stdout.splitlines() if line.startswith("│")}
    assert "" not in rows, r.stdout  # one line a run
    assert set(rows) == {"zfnet", "cut", "halfres", "killed", "alive"} and len(
        [line for line in r.stdout.splitlines() if "│ zfnet" in line]) == 2
    zfnet = [line for line in r.stdout.splitlines() if "│ zfnet" in line]
    assert "optim.lr=0.1 " in zfnet[0] and "optim.lr=0.01" in zfnet[1]
    assert all(common not in line for line in zfnet)  # shared by both: it tells nothing apart
    assert "unreadable" in rows["cut"] and "2026-01-01_00-00-03" in rows["cut"]
    assert "completed (results.json unreadable)" in rows["halfres"]
    assert "died" in rows["killed"] and "running" not in rows["killed"]
    assert "running" in rows["alive"]
