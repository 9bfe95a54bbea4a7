"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from their python pickles, as torchvision keeps them:
<root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta} and
<root>/cifar-100-python/{train, test, meta} (the 100 fine labels). The root is `data.root`, else
paths.data's cifar10/ or cifar100/; `data.download=true` asks torchvision to fetch the archive."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.data.images import ImageData, in_memory_image_data
from paperlab.errors import UserError
from paperlab.paths import data_dir


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR version keeps its pickles, and the keys inside them."""

    name: str  # data=<name>, and paths.data's folder
    title: str
    torchvision: str  # the torchvision.datasets class that downloads it
    folder: str
    train: tuple[str, ...]
    test: str
    meta: str
    label_key: bytes  # the labels in each batch
    names_key: bytes  # the class names in the meta file

    @property
    def files(self) -> list[str]:
        return [*self.train, self.test, self.meta]

    def describe(self) -> str:
        return f"<root>/{self.folder}/ with {', '.join(self.files)} (the python version)"


CIFAR10 = CifarLayout("cifar10", "CIFAR-10", "CIFAR10", "cifar-10-batches-py",
                      tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta",
                      b"labels", b"label_names")
CIFAR100 = CifarLayout("cifar100", "CIFAR-100", "CIFAR100", "cifar-100-python", ("train",), "test", "meta",
                       b"fine_labels", b"fine_label_names")


def _unpickle(path: Path, title: str) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError) as err:
        raise UserError(f"cannot read {path} ({err})", f"download {title} again (python version)") from None


def _batch(path: Path, layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path, layout.title)
    x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    y = np.asarray(d[layout.label_key], dtype=np.int64)
    return x, y


def load_cifar(cfg: DictConfig, layout: CifarLayout) -> ImageData:
    root = Path(os.path.expanduser(str(cfg.root))) if cfg.get("root") else data_dir(layout.name)
    if cfg.get("download"):
        import torchvision

        getattr(torchvision.datasets, layout.torchvision)(str(root), download=True)
    if not root.exists():
        raise UserError(f"data.root '{root}' does not exist", f"expected {layout.describe()}, or add data.download=true")
    folder = root / layout.folder
    missing = [n for n in layout.files if not (folder / n).is_file()]
    if missing:
        raise UserError(f"{folder} lacks {', '.join(missing)}", f"expected {layout.describe()}, or add data.download=true")
    train = [_batch(folder / n, layout) for n in layout.train]
    test_x, test_y = _batch(folder / layout.test, layout)
    names = [n.decode() for n in _unpickle(folder / layout.meta, layout.title)[layout.names_key]]
    return in_memory_image_data(
        torch.from_numpy(np.concatenate([x for x, _ in train])), torch.from_numpy(np.concatenate([y for _, y in train])),
        torch.from_numpy(test_x), torch.from_numpy(test_y), names, cfg,
    )


@register_data("cifar10")
def cifar10(cfg: DictConfig) -> ImageData:
    """CIFAR-10: 50k/10k 32x32 colour images, 10 classes (data.root, or data.download=true)."""
    return load_cifar(cfg, CIFAR10)


@register_data("cifar100")
def cifar100(cfg: DictConfig) -> ImageData:
    """CIFAR-100: 50k/10k 32x32 colour images, 100 classes (data.root, or data.download=true)."""
    return load_cifar(cfg, CIFAR100)
