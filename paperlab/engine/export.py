"""Exporting a trained run as a named model: <dest>/<name>/model.pt + model.json.

The checkpoint keeps what inference and the analyses need (weights, config, extras, versions) and
drops the training state (optimizer, scheduler, RNG, learner state). model.json records how the
weights were made: the exact command, seed, git commit, date and the run's headline metrics.
Snapshots (checkpoints/snapshots/epoch_NNN.pt) come along when asked, for feature evolution.

Where: `dest` is paperlab's own assets folder (the models it ships) when that is writable, or a
folder of the user's (`--dest`; paths.models_dir() is where `load_model` finds models by name).
As git refuses to clobber and rsync renames a finished temp file into place, an export never
touches anything outside `dest/<name>`, builds the new model folder completely beside it before
it swaps it in by renames, and replaces an existing model (or shadows a shipped one) only when
asked to (`force`)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from paperlab.assets import ASSETS, shipped
from paperlab.engine.checkpoint import load_checkpoint, save_checkpoint
from paperlab.engine.restore import resolve_checkpoint
from paperlab.errors import UserError
from paperlab.io.atomic import read_json, unwritable, write_json
from paperlab.paths import models_dir

KEEP = ("kind", "learner", "model", "model_name", "model_args", "config", "extras", "versions", "trainer")
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # a folder name, and a name that reads as one in overrides


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError(f"'{name}' is not a model name (a model is a folder of the assets directory)",
                        "use letters, digits and _ only, starting with a letter (e.g. zfnet_mine)")
    return name


def _writable_dest(dest: Path | None) -> Path:
    """The folder to export into: `dest`, or paperlab's assets folder if this user may write it."""
    if dest is not None:
        return dest.expanduser()
    if os.access(ASSETS, os.W_OK):
        return ASSETS
    raise UserError(f"paperlab's assets folder {ASSETS} is not writable (an installed package)",
                    f"export into your models folder, where models are found by name: --dest {models_dir()}")


def export_run(run_dir: Path, name: str, dest: Path | None = None, snapshots: bool = False,
               note: str | None = None, force: bool = False) -> Path:
    """Write dest/<name>/model.pt (+ model.json, + snapshots/) from a finished run directory."""
    check_name(name)
    if not (run_dir / "run.json").is_file():
        raise UserError(f"{run_dir} is not a paperlab run directory (no run.json)", "give a run directory (paperlab runs)")
    info = read_json(run_dir / "run.json")
    if info.get("status") != "completed":
        raise UserError(f"run {run_dir} is '{info.get('status')}', not completed", "export a run that finished")
    dest = _writable_dest(dest)
    out = dest / name
    if not force:
        if out.exists():
            raise UserError(f"a model called '{name}' exists already ({out})",
                            "choose another name, or replace it with --force")
        if name in shipped():
            raise UserError(f"'{name}' is a model paperlab ships: one exported under that name would stand in for it",
                            "choose another name, or --force to replace it")
    src = resolve_checkpoint(run_dir, prefer="best")
    ckpt = load_checkpoint(src)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=dest))  # dest's file system: renames are atomic
    except OSError as err:
        raise unwritable(dest, err) from None
    try:
        new = staging / name  # one level down: a half-built model is never listed as a model
        new.mkdir()  # as any folder (mkdtemp's own 0700 would hide the model from colleagues)
        _write_model(new, name, run_dir, info, src, ckpt, snapshots, note)
        _swap_in(new, out, staging)
    except OSError as err:
        raise unwritable(out, err) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _swap_in(new: Path, out: Path, staging: Path) -> None:
    """Put the complete `new` folder at `out`; the model it replaces is deleted only afterwards,
    and put back if the swap fails."""
    old = staging / "replaced"
    if out.exists():
        out.rename(old)
    try:
        new.rename(out)
    except OSError:
        if old.exists():
            old.rename(out)
        raise


def _write_model(out: Path, name: str, run_dir: Path, info: dict[str, Any], src: Path, ckpt: dict[str, Any],
                 snapshots: bool, note: str | None) -> None:
    save_checkpoint(out / "model.pt", {k: ckpt[k] for k in KEEP if k in ckpt})
    kept_snapshots: list[str] = []
    if snapshots and (run_dir / "checkpoints" / "snapshots").is_dir():
        for snap in sorted((run_dir / "checkpoints" / "snapshots").glob("epoch_*.pt")):
            (out / "snapshots").mkdir(exist_ok=True)
            shutil.copyfile(snap, out / "snapshots" / snap.name)
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
