"""What every image-classification dataset hands the classifier: splits plus a description
(classes, channels, size, normalisation), so models and analyses can be built from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

from paperlab.data.tensor_images import TensorImages


@dataclass
class ImageInfo:
    num_classes: int
    in_channels: int
    image_size: int
    class_names: list[str]
    mean: list[float]
    std: list[float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImageData:
    splits: dict[str, Dataset] = field(default_factory=dict)
    info: ImageInfo | None = None


def split_train_val(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded train/val split of n items (the same for every run with the same split seed)."""
    if not 0 <= val_size < n:
        raise ValueError(f"val_size must be in [0, {n}), got {val_size}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def in_memory_image_data(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    class_names: list[str],
    cfg: DictConfig,
) -> ImageData:
    """Split a held-out validation set off the training images and wrap all splits as TensorImages.

    Normalisation statistics (per channel) come from the training split only."""
    tr, va = split_train_val(len(train_y), int(cfg.val_size), int(cfg.get("split_seed", 0)))
    pixels = train_x[tr].float().div_(255)
    mean = pixels.mean(dim=(0, 2, 3)).tolist()
    std = pixels.std(dim=(0, 2, 3)).tolist()
    resize = cfg.get("resize")
    common = {"mean": mean, "std": std, "resize": resize}
    splits: dict[str, Dataset] = {
        "train": TensorImages(train_x[tr], train_y[tr], flip=bool(cfg.get("flip", False)),
                              pad_crop=int(cfg.get("pad_crop", 0)), seed=int(cfg.get("split_seed", 0)), **common),
        "val": TensorImages(train_x[va], train_y[va], **common),
        "test": TensorImages(test_x, test_y, **common),
    }
    info = ImageInfo(
        num_classes=len(class_names),
        in_channels=train_x.shape[1],
        image_size=int(resize or train_x.shape[-1]),
        class_names=class_names,
        mean=mean,
        std=std,
    )
    return ImageData(splits, info)
