"""Finding the weights an analysis command should use: a run directory, a checkpoint file, or the
name of a checkpoint shipped with paperlab (paperlab/assets/<name>/model.pt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paperlab.assets import shipped, shipped_checkpoint
from paperlab.engine.checkpoint import load_checkpoint
from paperlab.errors import UserError


def resolve_checkpoint(where: str | Path, prefer: str = "best") -> Path:
    """RUN_DIR -> RUN_DIR/checkpoints/{best,last}.pt; FILE -> FILE; NAME -> a shipped checkpoint."""
    path = Path(where).expanduser()
    if path.is_dir():
        ckpts = path / "checkpoints"
        order = ("best.pt", "last.pt") if prefer == "best" else ("last.pt", "best.pt")
        for name in order:
            if (ckpts / name).is_file():
                return ckpts / name
        raise UserError(f"run {path} has no checkpoint (checkpoints/best.pt or last.pt)",
                        "train it first, or give another run / checkpoint file")
    if path.is_file():
        return path
    builtin = shipped_checkpoint(str(where))
    if builtin is not None:
        return builtin
    names = ", ".join(shipped()) or "none"
    raise UserError(f"no run directory, checkpoint file or shipped model called '{where}'",
                    f"give a run directory (paperlab runs), a .pt file, or a shipped model ({names})")


def load_for_analysis(where: str | Path, kind: str, prefer: str = "best") -> tuple[dict[str, Any], Path]:
    """Load a checkpoint and check it was written by the expected learner (`kind`)."""
    path = resolve_checkpoint(where, prefer)
    ckpt = load_checkpoint(path)
    learner = ckpt.get("learner") or (ckpt.get("config") or {}).get("learner")
    if learner != kind:
        raise UserError(f"{path} holds a '{learner}' model, not a '{kind}' one",
                        f"give a checkpoint trained with learner={kind}")
    return ckpt, path
