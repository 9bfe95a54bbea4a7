"""What a zero-shot dataset hands NIWT and ALE (Selvaraju et al. 2018, Sec. 4; Xian et al. 2018's
generalized ZSL protocol): seen-class image splits for the CNN, unseen-class test images, the class
attribute matrix and free-form class descriptions.

Class order is the GZSL order: the S seen classes first (CNN outputs 0..S-1), then the U unseen
ones (S..S+U-1). `splits` holds the seen classes only ("train", "val", "test" = the seen test
images), so a ZSL dataset also trains with `paperlab train data=<name>`; `unseen_test` holds the
unseen-class test images, labelled S..S+U-1.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from paperlab.data.images import ImageData, ImageInfo
from paperlab.errors import UserError

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass
class ZSLData(ImageData):
    classes: list[str] = field(default_factory=list)  # GZSL order: seen, then unseen
    num_seen: int = 0
    attributes: torch.Tensor | None = None  # (S+U, A) class attribute matrix, rows in `classes` order
    attribute_names: list[str] = field(default_factory=list)
    descriptions: list[list[str]] = field(default_factory=list)  # free-form sentences per class
    val_classes: list[int] = field(default_factory=list)  # seen classes held out to early-stop the map, pick lambda
    unseen_test: Dataset | None = None
    unseen_masks: torch.Tensor | None = None  # (N, H, W) object masks of unseen_test, where known

    @property
    def num_unseen(self) -> int:
        return len(self.classes) - self.num_seen

    @property
    def seen_classes(self) -> list[str]:
        return self.classes[: self.num_seen]

    @property
    def unseen_classes(self) -> list[str]:
        return self.classes[self.num_seen :]


def check_attribute_rows(matrix: np.ndarray, classes: Sequence[str], where: str) -> None:
    if matrix.ndim != 2 or matrix.shape[0] != len(classes):
        rows = matrix.shape[0] if matrix.ndim else 0
        raise UserError(f"the attribute matrix {where} has {rows} rows but there are {len(classes)} classes",
                        "give one row per class, in the order of the class list")


def read_matrix(path: Path) -> np.ndarray:
    """A whitespace-separated text matrix (AwA's predicate-matrix-*.txt, CUB's class_attribute_labels_*.txt)."""
    try:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        matrix = np.array([[float(v) for v in row] for row in rows], dtype=np.float32)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read the attribute matrix {path} ({err})", "one row of numbers per class") from None
    if matrix.ndim != 2:
        raise UserError(f"the rows of {path} have different lengths", "one row of numbers per class, same length")
    return matrix


def order_classes(classes: Sequence[str], unseen: Sequence[str], seen: Sequence[str] | None = None,
                  where: str = "") -> tuple[list[int], list[int]]:
    """(seen indices, unseen indices) into `classes`; names checked, overlaps refused."""
    known = {c: i for i, c in enumerate(classes)}
    for name in [*unseen, *(seen or [])]:
        if name not in known:
            raise UserError(f"unknown class '{name}'{where}", f"choose among: {', '.join(classes)}")
    if seen is not None:
        both = sorted(set(seen) & set(unseen))
        if both:
            raise UserError(f"classes {', '.join(both)} are both seen and unseen{where}",
                            "an unseen class must have no training images: remove it from the seen list")
    if not unseen:
        raise UserError(f"no unseen classes{where}", "hold out at least one class as unseen")
    unseen_idx = [known[c] for c in unseen]
    seen_idx = [known[c] for c in seen] if seen is not None else [i for i in range(len(classes)) if i not in unseen_idx]
    if len(seen_idx) < 2:
        raise UserError(f"only {len(seen_idx)} seen class(es){where}", "keep at least two seen classes to train on")
    return seen_idx, unseen_idx


def pick_val_classes(num_seen: int, fraction: float, seed: int) -> list[int]:
    """Seen classes held out of the importance map's training (early stopping, lambda selection)."""
    n = max(1, round(num_seen * fraction))
    if n >= num_seen:
        raise UserError(f"data.val_classes={fraction} leaves no seen class to train the map", "use a fraction below 1")
    return sorted(random.Random(seed).sample(range(num_seen), n))


class FileImages(Dataset):
    """Images read from files (AWA2, CUB): resized to `size` x `size`, standardised; random
    horizontal flips for training."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int], size: int, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, flip: bool = False) -> None:
        self.paths = list(paths)
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)
        self.size = size
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)
        self.flip = flip

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int) -> torch.Tensor:
        """The image as (3, size, size) floats in [0, 1]."""
        with Image.open(self.paths[index]) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.load(index)
        if self.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
        return (x - self.mean) / self.std, self.labels[index]


def require_files(root: Path, names: Sequence[str], layout: str) -> None:
    if not root.is_dir():
        raise UserError(f"data.root '{root}' does not exist", f"expected {layout}")
    for name in names:
        if not (root / name).exists():
            raise UserError(f"{root} has no {name}", f"expected {layout}")


def split_items(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per class, a seeded `fraction` of the items for testing: (kept indices, test indices)."""
    g = torch.Generator().manual_seed(seed)
    keep, test = [], []
    for c in labels.unique():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n = int(round(len(idx) * fraction))
        test.append(idx[:n])
        keep.append(idx[n:])
    return torch.cat(keep).sort().values, torch.cat(test).sort().values


def zsl_from_files(paths: Sequence[Path], labels: Sequence[int], classes: Sequence[str], attributes: np.ndarray,
                   attribute_names: Sequence[str], unseen: Sequence[str], cfg: Any, seen: Sequence[str] | None = None,
                   test_seen: Sequence[int] | None = None, val_classes: Sequence[str] | None = None,
                   descriptions: Sequence[Sequence[str]] | None = None, attributes_from: str = "",
                   split_from: str = "") -> ZSLData:
    """A ZSLData from a list of image files labelled by class index into `classes`.

    `test_seen`: indices of the seen-class images held out for testing (a proposed split, or the
    dataset's own train/test file); otherwise a seeded `data.test_fraction` of each seen class."""
    check_attribute_rows(attributes, classes, attributes_from)
    seen_idx, unseen_idx = order_classes(classes, unseen, seen, f" ({split_from})" if split_from else "")
    order = seen_idx + unseen_idx
    to_gzsl = torch.full((len(classes),), -1, dtype=torch.long)
    to_gzsl[torch.tensor(order)] = torch.arange(len(order))
    y = to_gzsl[torch.as_tensor(list(labels), dtype=torch.long)]
    s, paths = len(seen_idx), list(paths)
    is_seen = (y >= 0) & (y < s)
    if test_seen is None:
        seen_items = torch.nonzero(is_seen).flatten()
        _, held = split_items(y[seen_items], float(cfg.test_fraction), int(cfg.split_seed))
        test_mask = torch.zeros(len(y), dtype=torch.bool)
        test_mask[seen_items[held]] = True
    else:
        test_mask = torch.zeros(len(y), dtype=torch.bool)
        test_mask[torch.as_tensor(list(test_seen), dtype=torch.long)] = True
    trainval = torch.nonzero(is_seen & ~test_mask).flatten()
    test = torch.nonzero(is_seen & test_mask).flatten()
    unseen_items = torch.nonzero(y >= s).flatten()
    if len(trainval) == 0 or len(unseen_items) == 0:
        raise UserError(f"no {'training' if len(trainval) == 0 else 'unseen-class'} images",
                        "check the image folders and the class split")
    tr, va = split_items(y[trainval], float(cfg.val_fraction), int(cfg.split_seed))
    size = int(cfg.image_size)

    def files(items: torch.Tensor, flip: bool = False) -> FileImages:
        return FileImages([paths[i] for i in items], y[items].tolist(), size, flip=flip)

    names = [classes[i] for i in order]
    if val_classes:
        held = [names.index(c) for c in val_classes if c in names[:s]]
    else:
        held = pick_val_classes(s, float(cfg.val_classes), int(cfg.split_seed))
    info = ImageInfo(num_classes=s, in_channels=3, image_size=size, class_names=names[:s],
                     mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return ZSLData(
        splits={"train": files(trainval[tr], flip=bool(cfg.flip)), "val": files(trainval[va]), "test": files(test)},
        info=info, classes=names, num_seen=s, attributes=torch.from_numpy(np.asarray(attributes, np.float32)[order]),
        attribute_names=list(attribute_names), descriptions=[list(descriptions[i]) for i in order] if descriptions else [],
        val_classes=sorted(held), unseen_test=files(unseen_items),
    )
