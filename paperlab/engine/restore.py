"""Rebuilding a trained model: `load_model(source)` takes a run directory, a checkpoint file, or
the name of a model: one the user exported (`paperlab export --dest`, in paths.models_dir()) or
one shipped with paperlab (paperlab/assets/<name>/model.pt); it returns the model with the typed
record its learner stored beside the weights.

A checkpoint holds the model's registered name and final constructor arguments (`model_name`,
`model_args`: its `ModelSpec`), the learner that trained it and that learner's `Extras` (a
vocabulary, an alphabet, class names...): everything that using the model needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from paperlab.assets import shipped, shipped_checkpoint
from paperlab.engine.checkpoint import load_checkpoint, load_weights
from paperlab.engine.learner import LEARNERS
from paperlab.errors import UserError
from paperlab.models import create_model
from paperlab.paths import models_dir


def named_checkpoint(name: str) -> Path | None:
    """The model called `name`: the user's export (models_dir()), else the one paperlab ships."""
    mine = models_dir() / name / "model.pt"
    if Path(name).name == name and mine.is_file():
        return mine
    return shipped_checkpoint(name)


def model_names() -> list[str]:
    """The models known by name: shipped, and exported to the user's models folder."""
    return sorted(set(shipped()) | {p.parent.name for p in models_dir().glob("*/model.pt")})


def resolve_checkpoint(where: str | Path, prefer: str = "best") -> Path:
    """RUN_DIR -> RUN_DIR/checkpoints/{best,last}.pt; FILE -> FILE; NAME -> a named model's checkpoint."""
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
    named = named_checkpoint(str(where))
    if named is not None:
        return named
    names = ", ".join(model_names()) or "none"
    raise UserError(f"no run directory, checkpoint file or shipped model called '{where}'",
                    f"give a run directory (paperlab runs), a .pt file, or a shipped model ({names})")


def load_trained(where: str | Path, kind: str | None = None, prefer: str = "best") -> tuple[dict[str, Any], Path]:
    """A checkpoint's contents, checked to come from the learner `kind` when one is given."""
    path = resolve_checkpoint(where, prefer)
    ckpt = load_checkpoint(path)
    learner = ckpt.get("learner")
    if kind is not None and learner != kind:
        raise UserError(f"{path} holds a '{learner}' model, not a '{kind}' one",
                        f"give a checkpoint trained with learner={kind}")
    return ckpt, path


@dataclass
class LoadedModel:
    """A trained model (eval mode, on the CPU) and what came with it."""

    model: nn.Module
    extras: Any  # the learner's Extras record (None for a learner without one)
    learner: str
    config: dict[str, Any]  # the training run's resolved config
    path: Path  # the checkpoint file


def load_model(source: str | Path, kind: str | None = None, prefer: str = "best") -> LoadedModel:
    """Rebuild a trained model from `source`: RUN_DIR (its best.pt, or last.pt with
    prefer="last"), a .pt file, or a shipped model's name; `kind` checks which learner trained it."""
    ckpt, path = load_trained(source, kind, prefer)
    if "model_name" not in ckpt:
        raise UserError(f"{path} was written by an older paperlab (no model_name/model_args)",
                        f"convert it once with: python scripts/upgrade_checkpoints.py {path}")
    if ckpt["model_name"] is None:
        raise UserError(f"{path} holds a model that was not built from paperlab's model registry",
                        "rebuild that model in your own code and load the checkpoint's 'model' weights into it")
    model = create_model(ckpt["model_name"], **ckpt["model_args"])
    load_weights(model, ckpt, path, "the checkpoint's weights do not fit its own model_args: it is damaged")
    learner = str(ckpt["learner"])
    extras_type = LEARNERS.get(learner).Extras
    extras = None if extras_type is None else extras_type(**ckpt["extras"])
    return LoadedModel(model.eval(), extras, learner, ckpt.get("config") or {}, path)
