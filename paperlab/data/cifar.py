"""CIFAR-10 (Krizhevsky 2009) from its python pickles: <root>/cifar-10-batches-py/
{data_batch_1..5, test_batch, batches.meta}. `data.download=true` asks torchvision to fetch them."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.data.images import ImageData, in_memory_image_data
from paperlab.errors import UserError

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
LAYOUT = f"<root>/{FOLDER}/ with data_batch_1..5, test_batch and batches.meta (the python version)"


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError) as err:
        raise UserError(f"cannot read {path} ({err})", "download CIFAR-10 again (python version)") from None


def _batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    y = np.asarray(d[b"labels"], dtype=np.int64)
    return x, y


@register_data("cifar10")
def cifar10(cfg: DictConfig) -> ImageData:
    """CIFAR-10: 50k/10k 32x32 colour images, 10 classes (data.root, or data.download=true)."""
    if not cfg.get("root"):
        raise UserError("data=cifar10 needs data.root", f"give data.root=DIR holding {LAYOUT}, or add data.download=true")
    root = Path(os.path.expanduser(str(cfg.root)))
    if cfg.get("download"):
        import torchvision

        torchvision.datasets.CIFAR10(str(root), download=True)
    folder = root / FOLDER
    if not root.exists():
        raise UserError(f"data.root '{root}' does not exist", f"expected {LAYOUT}, or add data.download=true")
    missing = [n for n in [*TRAIN_BATCHES, "test_batch", "batches.meta"] if not (folder / n).is_file()]
    if missing:
        raise UserError(f"{folder} lacks {', '.join(missing)}", f"expected {LAYOUT}")
    train = [_batch(folder / n) for n in TRAIN_BATCHES]
    test_x, test_y = _batch(folder / "test_batch")
    names = [n.decode() for n in _unpickle(folder / "batches.meta")[b"label_names"]]
    return in_memory_image_data(
        torch.from_numpy(np.concatenate([x for x, _ in train])), torch.from_numpy(np.concatenate([y for _, y in train])),
        torch.from_numpy(test_x), torch.from_numpy(test_y), names, cfg,
    )
