"""Checkpoints: plain types only (state dicts, numbers, strings, the resolved config as a dict),
written atomically and loaded with `torch.load(..., weights_only=True)`."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from paperlab.errors import UserError
from paperlab.io.atomic import atomic_write


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """torch.save to a temp file, fsync, rename: a crash never leaves a half-written checkpoint, and
    the one it replaces stays until the new one is complete. The state is serialised in memory
    first: torch's own writer reports a full disk as an opaque RuntimeError, a plain file write as
    the OSError that atomic_write turns into one line."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getbuffer()))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint; a missing or unreadable file is a UserError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist", "give the path of a .pt file written by paperlab")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated/corrupt files
        if "Weights only load failed" in str(err):  # intact, but pickles a class weights_only refuses
            found = next((line.strip() for line in str(err).splitlines() if "Unsupported global" in line), "")
            raise UserError(f"checkpoint {path} holds Python objects, not only tensors and plain types ({found[:120]})",
                            "give a checkpoint written by paperlab, or retrain") from None
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise UserError(
            f"checkpoint {path} is unreadable (corrupt or truncated: {reason})",
            "delete it and use another checkpoint (checkpoints/best.pt, a snapshot, or retrain)",
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise UserError(f"{path} is not a paperlab checkpoint (no 'model' state)", "give a checkpoint written by paperlab")
    return state


def load_weights(model: torch.nn.Module, state: dict[str, Any], path: Path, fix: str) -> None:
    """Load a checkpoint's model weights; weights of another architecture are a UserError (with `fix`)."""
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise UserError(f"{path} does not fit this model ({str(err).splitlines()[0]})", fix) from None


def rng_state() -> dict[str, Any]:
    """Every RNG stream a training step may touch, as plain types."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
