"""STL-10 (Coates et al. 2011), the labelled 96x96 images, from the binary files torchvision keeps:
<root>/stl10_binary/{train_X.bin, train_y.bin, test_X.bin, test_y.bin[, class_names.txt]}. An
X file is N x 3 x 96 x 96 uint8, each channel stored column-major (MATLAB's order); a y file is
N uint8 labels 1..10. The root is `data.root`, else paths.data's stl10/; `data.download=true` asks
torchvision to fetch the archive (2.6 GB, with the 100k unlabelled images, which are not used)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.data.images import ImageData, in_memory_image_data
from paperlab.errors import UserError
from paperlab.paths import data_dir

FOLDER = "stl10_binary"
FILES = ["train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin"]
LAYOUT = f"<root>/{FOLDER}/ with {', '.join(FILES)} (the binary version)"
CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]  # class_names.txt
SIZE = 96


def read_stl10(images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, 96, 96) uint8 images (rows first) and int64 labels 0..9 of one STL-10 split."""
    x = np.fromfile(images, dtype=np.uint8)
    y = np.fromfile(labels, dtype=np.uint8).astype(np.int64) - 1
    per_image = 3 * SIZE * SIZE
    if x.size != len(y) * per_image or len(y) == 0 or y.min() < 0 or y.max() > 9:
        raise UserError(f"{images} ({x.size} bytes) and {labels} ({len(y)} labels) do not match",
                        f"expected {per_image} bytes per image and labels 1..10; download STL-10 again")
    # column-major channels: the stored (3, 96, 96) is (channel, x, y)
    x = x.reshape(-1, 3, SIZE, SIZE).transpose(0, 1, 3, 2)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)


@register_data("stl10")
def stl10(cfg: DictConfig) -> ImageData:
    """STL-10: 5k/8k 96x96 colour images, 10 classes (data.root, or data.download=true)."""
    root = Path(os.path.expanduser(str(cfg.root))) if cfg.get("root") else data_dir("stl10")
    if cfg.get("download"):
        import torchvision

        torchvision.datasets.STL10(str(root), split="train", download=True)
    if not root.exists():
        raise UserError(f"data.root '{root}' does not exist", f"expected {LAYOUT}, or add data.download=true")
    folder = root / FOLDER
    missing = [n for n in FILES if not (folder / n).is_file()]
    if missing:
        raise UserError(f"{folder} lacks {', '.join(missing)}", f"expected {LAYOUT}, or add data.download=true")
    names_file = folder / "class_names.txt"
    names = names_file.read_text().split() if names_file.is_file() else CLASSES
    train_x, train_y = read_stl10(folder / "train_X.bin", folder / "train_y.bin")
    test_x, test_y = read_stl10(folder / "test_X.bin", folder / "test_y.bin")
    return in_memory_image_data(train_x, train_y, test_x, test_y, names, cfg)
