"""Exporting a trained run as a shipped model: paperlab/assets/<name>/model.pt + model.json.

The checkpoint keeps what inference and the analyses need (weights, config, extras, versions) and
drops the training state (optimizer, scheduler, RNG, learner state). model.json records how the
weights were made: the exact command, seed, git commit, date and the run's headline metrics.
Snapshots (checkpoints/snapshots/epoch_NNN.pt) come along when asked, for feature evolution."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

from paperlab.assets import ASSETS
from paperlab.engine.checkpoint import load_checkpoint, save_checkpoint
from paperlab.engine.restore import resolve_checkpoint
from paperlab.errors import UserError
from paperlab.io.atomic import read_json, write_json

KEEP = ("kind", "learner", "model", "model_name", "model_args", "config", "extras", "versions", "trainer")


def export_run(run_dir: Path, name: str, dest: Path = ASSETS, snapshots: bool = False,
               note: str | None = None) -> Path:
    """Write dest/<name>/model.pt (+ model.json, + snapshots/) from a finished run directory."""
    if not (run_dir / "run.json").is_file():
        raise UserError(f"{run_dir} is not a paperlab run directory (no run.json)", "give a run directory (paperlab runs)")
    info = read_json(run_dir / "run.json")
    if info.get("status") != "completed":
        raise UserError(f"run {run_dir} is '{info.get('status')}', not completed", "export a run that finished")
    src = resolve_checkpoint(run_dir, prefer="best")
    ckpt = load_checkpoint(src)
    out = dest / name
    if out.exists():
        shutil.rmtree(out)  # re-exporting replaces the previous shipped version of this model
    out.mkdir(parents=True)
    save_checkpoint(out / "model.pt", {k: ckpt[k] for k in KEEP if k in ckpt})
    kept_snapshots: list[str] = []
    if snapshots and (run_dir / "checkpoints" / "snapshots").is_dir():
        for snap in sorted((run_dir / "checkpoints" / "snapshots").glob("epoch_*.pt")):
            (out / "snapshots").mkdir(exist_ok=True)
            shutil.copy2(snap, out / "snapshots" / snap.name)
            kept_snapshots.append(snap.name)
    results = read_json(run_dir / "results.json") if (run_dir / "results.json").is_file() else {}
    argv = list(info.get("argv") or [])
    meta: dict[str, Any] = {
        "name": name,
        "command": shlex.join(["paperlab", *argv[1:]]) if argv else None,
        "overrides": info.get("overrides"),
        "seed": (ckpt.get("config") or {}).get("seed"),
        "git": info.get("git"),
        "versions": info.get("versions"),
        "started": info.get("started"),
        "ended": info.get("ended"),
        "device": info.get("device"),
        "checkpoint": f"{src.name} of the run (epoch {ckpt.get('trainer', {}).get('epoch')}, step "
                      f"{ckpt.get('trainer', {}).get('step')}); training state dropped",
        "snapshots": kept_snapshots,
        "metrics": {k: v for k, v in results.items() if isinstance(v, (int, float))},
    }
    if note:
        meta["note"] = note
    write_json(out / "model.json", meta)
    return out
