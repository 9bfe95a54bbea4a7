"""MNIST (LeCun et al. 1998), Fashion-MNIST (Xiao et al. 2017) and Kuzushiji-MNIST (Clanuwat et
al. 2018) from their IDX files.

Fashion-MNIST is the embedded image default: Debian's `dataset-fashion-mnist` (installed by
`make install`) puts the four .gz IDX files in /usr/share/datasets/fashion-mnist. All three are
also read from `data.root`, in the original layout (the four files, gzipped or not) or
torchvision's (<root>/MNIST/raw/..., <root>/KMNIST/raw/...). `data.download=true` asks
torchvision to fetch them.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.data.images import ImageData, in_memory_image_data
from paperlab.errors import UserError
from paperlab.paths import data_dir

FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGITS = [str(d) for d in range(10)]
# kmnist_classmap.csv: the ten hiragana お き す つ な は ま や れ を, romanised
KUZUSHIJI_CLASSES = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (LeCun's format: magic 0 0 <dtype> <ndim>, big-endian int32 dims, data);
    gzipped when the name ends in .gz."""
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path) as f:
            raw = f.read()
    else:
        raw = path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number)", "point data.root at the original IDX files")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) != expected:
        raise UserError(f"{path} is truncated or corrupt ({len(body)} data bytes, header says {expected})",
                        "download the file again")
    return np.frombuffer(body, dtype).reshape(dims)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_idx_folder(root: Path, torchvision_name: str) -> Path | None:
    """The folder holding the four IDX files: root itself, or torchvision's <root>/<Name>/raw."""
    for folder in (root, root / torchvision_name / "raw"):
        if all(_find(folder, stem) for stem in FILES.values()):
            return folder
    return None


def load_idx_dataset(cfg: DictConfig, torchvision_name: str, defaults: list[Path]) -> tuple[torch.Tensor, ...]:
    layout = (f"a folder with {', '.join(s + '[.gz]' for s in FILES.values())} "
              f"(or torchvision's <root>/{torchvision_name}/raw/)")
    if cfg.get("download"):
        if not cfg.get("root"):
            raise UserError("data.download=true needs data.root", "add data.root=DIR (where to put the files)")
        import torchvision

        getattr(torchvision.datasets, torchvision_name)(str(cfg.root), download=True)
    if cfg.get("root"):
        root = Path(os.path.expanduser(str(cfg.root)))
        if not root.exists():
            raise UserError(f"data.root '{root}' does not exist", f"give {layout}, or add data.download=true")
        candidates = [root]
    else:
        candidates = defaults
    for root in candidates:
        folder = find_idx_folder(root, torchvision_name)
        if folder is not None:
            break
    else:
        where = str(candidates[0]) if cfg.get("root") else " or ".join(str(c) for c in candidates)
        debian = not cfg.get("root") and torchvision_name == "FashionMNIST"
        hint = " (Fashion-MNIST: sudo apt-get install dataset-fashion-mnist, or make data)" if debian else ""
        raise UserError(f"no {torchvision_name} IDX files in {where}", f"data.root must be {layout}{hint}")
    arrays = [read_idx(_find(folder, FILES[k])) for k in ("train_x", "train_y", "test_x", "test_y")]
    train_x, train_y, test_x, test_y = (torch.from_numpy(a.copy()) for a in arrays)
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise UserError(f"image and label counts differ in {folder}", "the IDX files are from different sets")
    return train_x.unsqueeze(1), train_y, test_x.unsqueeze(1), test_y


def fashion_mnist_arrays(cfg: DictConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fashion-MNIST's (train images, labels, test images, labels): data.root, else paths.data's
    fashion-mnist/, else Debian's package."""
    return load_idx_dataset(cfg, "FashionMNIST", [data_dir("fashion-mnist"), DEBIAN_FASHION])


@register_data("fashion_mnist")
def fashion_mnist(cfg: DictConfig) -> ImageData:
    """Fashion-MNIST: 60k/10k 28x28 grey clothing images, 10 classes (embedded default)."""
    return in_memory_image_data(*fashion_mnist_arrays(cfg), FASHION_CLASSES, cfg)


@register_data("mnist")
def mnist(cfg: DictConfig) -> ImageData:
    """MNIST: 60k/10k 28x28 handwritten digits (data.root, or data.download=true)."""
    tx, ty, vx, vy = load_idx_dataset(cfg, "MNIST", [data_dir("mnist")])
    return in_memory_image_data(tx, ty, vx, vy, DIGITS, cfg)


@register_data("kmnist")
def kmnist(cfg: DictConfig) -> ImageData:
    """Kuzushiji-MNIST: 60k/10k 28x28 cursive hiragana, 10 classes (data.root, or data.download=true)."""
    tx, ty, vx, vy = load_idx_dataset(cfg, "KMNIST", [data_dir("kmnist")])
    return in_memory_image_data(tx, ty, vx, vy, KUZUSHIJI_CLASSES, cfg)
