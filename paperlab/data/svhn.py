"""SVHN (Netzer et al. 2011), the cropped 32x32 digits, from the .mat files torchvision keeps:
<root>/{train_32x32.mat, test_32x32.mat[, extra_32x32.mat]}, each with `X` (32, 32, 3, N) uint8
and `y` (N, 1) in 1..10, 10 standing for the digit 0. The root is `data.root`, else paths.data's
svhn/; `data.extra=true` adds the 531k "extra" images to the training split; `data.download=true`
asks torchvision to fetch the files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.data.images import ImageData, in_memory_image_data
from paperlab.data.mnist import DIGITS
from paperlab.errors import UserError
from paperlab.paths import data_dir

LAYOUT = "<root>/ with train_32x32.mat and test_32x32.mat (and extra_32x32.mat with data.extra=true)"


def read_svhn_mat(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, 32, 32) uint8 images and int64 labels 0..9 of one SVHN .mat file."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
        x, y = np.asarray(mat["X"], dtype=np.uint8), np.asarray(mat["y"], dtype=np.int64).reshape(-1)
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"cannot read {path} ({err})", "download SVHN's cropped digits (format 2) again") from None
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise UserError(f"{path} holds X of shape {x.shape} and {len(y)} labels", "expected X (32, 32, 3, N), y (N, 1)")
    y[y == 10] = 0  # the digit 0 is class 10 in the files
    return torch.from_numpy(np.ascontiguousarray(x.transpose(3, 2, 0, 1))), torch.from_numpy(y)


@register_data("svhn")
def svhn(cfg: DictConfig) -> ImageData:
    """SVHN: 73k (+531k extra) / 26k 32x32 colour house-number digits, 10 classes (data.root, or data.download=true)."""
    root = Path(os.path.expanduser(str(cfg.root))) if cfg.get("root") else data_dir("svhn")
    train_splits = ["train", "extra"] if cfg.get("extra") else ["train"]
    if cfg.get("download"):
        import torchvision

        for split in [*train_splits, "test"]:
            torchvision.datasets.SVHN(str(root), split=split, download=True)
    if not root.exists():
        raise UserError(f"data.root '{root}' does not exist", f"expected {LAYOUT}, or add data.download=true")
    missing = [f"{s}_32x32.mat" for s in [*train_splits, "test"] if not (root / f"{s}_32x32.mat").is_file()]
    if missing:
        raise UserError(f"{root} lacks {', '.join(missing)}", f"expected {LAYOUT}, or add data.download=true")
    train = [read_svhn_mat(root / f"{s}_32x32.mat") for s in train_splits]
    test_x, test_y = read_svhn_mat(root / "test_32x32.mat")
    return in_memory_image_data(torch.cat([x for x, _ in train]), torch.cat([y for _, y in train]),
                                test_x, test_y, DIGITS, cfg)
