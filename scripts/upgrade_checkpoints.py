"""Upgrade checkpoints written before paperlab stored each model's spec (`model_name`, `model_args`)
and a typed `extras` record, so that `paperlab.engine.restore.load_model` can rebuild them.

    python scripts/upgrade_checkpoints.py paperlab/assets          # the shipped models, in place
    python scripts/upgrade_checkpoints.py outputs/train/...         # a run's checkpoints and snapshots

Every *.pt under the given files and folders is read; one that already has a spec is left as it
is. A run's checkpoint also gets its optimiser state under the new name (`optimizers`, by name). The constructor arguments are rebuilt as each learner used to rebuild them (its config's
`model` node completed from the data facts in its extras); the rebuilt model must accept the
stored weights before anything is written, and the file is replaced atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

from paperlab.config import to_dataclass
from paperlab.engine.checkpoint import load_checkpoint, save_checkpoint
from paperlab.models import MODELS, create_model


def _without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


def _fields(name: str, facts: dict[str, Any]) -> dict[str, Any]:
    """The facts the model's Config has fields for (the VQA and matching learners' rule)."""
    names = {f.name for f in dataclasses.fields(MODELS.get(name).Config)}
    return {k: v for k, v in facts.items() if k in names}


def legacy_spec(ckpt: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model kwargs, new extras) from a checkpoint of the old layout, per learner."""
    learner = ckpt.get("learner") or ckpt["config"]["learner"]
    extras = dict(ckpt.get("extras") or {})
    kw = dict(ckpt["config"]["model"])
    if learner == "classifier":
        info = extras["data_info"]
        kw.update(num_classes=info["num_classes"], in_channels=info["in_channels"], image_size=info["image_size"])
        return kw, info
    if learner == "char_lm":
        return {**kw, "vocab_size": len(extras["vocab"]["symbols"])}, extras
    if learner in ("handwriting", "handwriting_recognition"):
        return {"name": kw["name"], **extras["model_kw"]}, _without(extras, "model_kw")
    if learner == "vqa":
        info = extras["data_info"]
        facts = {"vocab_size": len(info["question_vocab"]), "num_answers": len(info["answer_vocab"]), **extras["image"]}
        return {**kw, **_fields(kw["name"], facts)}, _without(extras, "image")
    if learner == "matching":
        return {**kw, **_fields(kw["name"], {"vocab_size": len(extras["vocab"]), **extras["image"]})}, \
            _without(extras, "image")
    if learner == "scene_encoder":
        kw.update(num_colors=len(extras["colors"]), num_shapes=len(extras["shapes"]),
                  image_size=extras["image_size"], in_channels=extras["in_channels"])
        return kw, _without(extras, "image_size", "in_channels")
    raise ValueError(f"no upgrade rule for learner '{learner}'")


def upgrade(path: Path) -> str:
    """Upgrade one checkpoint file in place; returns what was done."""
    ckpt = load_checkpoint(path)
    if "model_name" in ckpt:
        return "already upgraded"
    kw, extras = legacy_spec(ckpt)
    if ckpt.get("kind") == "paperlab/zsl":  # NIWT's extended classifier: its own facts apart from extras
        ckpt["niwt"] = _without(ckpt["extras"], "data_info")
    name = kw.pop("name")
    args = dataclasses.asdict(to_dataclass(MODELS.get(name).Config, kw, where=f"model '{name}' of {path}"))
    create_model(name, **args).load_state_dict(ckpt["model"])  # the spec must fit the weights
    learner = ckpt.get("learner") or ckpt["config"]["learner"]
    if "optimizer" in ckpt:  # a run's checkpoint: its one optimiser is "main" now (engine/optim.py)
        scheduler = ckpt.pop("scheduler", None)
        ckpt["optimizers"] = {"main": ckpt.pop("optimizer")}
        ckpt["schedulers"] = {"main": scheduler} if scheduler is not None else {}
    save_checkpoint(path, {**ckpt, "learner": learner, "model_name": name, "model_args": args, "extras": extras})
    return f"upgraded ({learner}, model {name})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="checkpoint files, or folders to search for *.pt")
    args = parser.parse_args(argv)
    files = sorted({f for p in args.paths for f in ([p] if p.is_file() else p.rglob("*.pt"))})
    if not files:
        print("no .pt files found", file=sys.stderr)
        return 2
    torch.set_grad_enabled(False)
    for f in files:
        print(f"{f}: {upgrade(f)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
