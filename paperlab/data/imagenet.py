"""ImageNet 2012 in the standard folder layout, with Zeiler & Fergus 2013 preprocessing (Sec. 3):

  "resizing the smallest dimension to 256, cropping the center 256x256 region, subtracting the
   per-pixel mean (across all images) and then using 10 different sub-crops of size 224x224
   (corners + center with(out) horizontal flips)."

Training draws one of the ten crops per image (seeded by (seed, epoch, index), so resumed epochs
match); evaluation returns all ten (10, 3, 224, 224) and the classifier averages their softmax.
Layout: <root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG (validation images sorted into
class folders, as torchvision's ImageFolder expects).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

if TYPE_CHECKING:
    from torchvision.datasets import ImageFolder

from paperlab.data import register_data
from paperlab.data.images import ImageData, ImageInfo, split_train_val
from paperlab.engine.seed import derive_seed
from paperlab.errors import UserError
from paperlab.paths import cache_dir

LAYOUT = "<root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG"
CROP = 224
SHORT_SIDE = 256


def ten_crops(x: torch.Tensor, size: int = CROP) -> torch.Tensor:
    """(C, H, W) -> (10, C, size, size): four corners and centre, then their mirror images."""
    import torchvision.transforms.v2 as T  # imported when used: it costs a second at start-up for every command

    five = torch.stack(T.functional.five_crop(x, [size, size]))
    return torch.cat([five, five.flip(-1)])


class ImageNetFolder(Dataset):
    """An ImageFolder split with the paper's crops and per-pixel mean subtraction."""

    def __init__(self, folder: ImageFolder, indices: torch.Tensor | None, mean_image: torch.Tensor,
                 train: bool, seed: int = 0) -> None:
        self.folder = folder
        self.indices = indices if indices is not None else torch.arange(len(folder))
        self.mean_image = mean_image
        self.train = train
        self.seed = seed
        self.epoch = 0
        import torchvision.transforms.v2 as T

        self.base = T.Compose([T.Resize(SHORT_SIDE, antialias=True), T.CenterCrop(SHORT_SIDE),
                               T.ToImage(), T.ToDtype(torch.float32, scale=True)])

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def image(self, index: int) -> torch.Tensor:
        """The 256x256 centre crop, mean subtracted (3, 256, 256)."""
        path, _ = self.folder.samples[int(self.indices[index])]
        return self.base(self.folder.loader(path)) - self.mean_image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        label = self.folder.samples[int(self.indices[index])][1]
        crops = ten_crops(self.image(index))
        if not self.train:
            return crops, label
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, index))
        return crops[int(torch.randint(10, (1,), generator=g))], label


def mean_image(folder: ImageFolder, n: int, cache: Path) -> torch.Tensor:
    """The per-pixel mean of the 256x256 centre crops over `n` training images (cached)."""
    if cache.is_file():
        return torch.load(cache, weights_only=True)
    base = ImageNetFolder(folder, None, torch.zeros(3, SHORT_SIDE, SHORT_SIDE), train=False)
    step = max(1, len(folder) // n)
    picks = range(0, len(folder), step)
    total = torch.zeros(3, SHORT_SIDE, SHORT_SIDE, dtype=torch.float64)
    for i in picks:
        total += base.image(i)
    mean = (total / len(picks)).float()
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(mean, cache)
    return mean


@register_data("imagenet")
def imagenet(cfg: DictConfig) -> ImageData:
    """ImageNet 2012 (folder layout), Zeiler & Fergus preprocessing: 256 centre crop, per-pixel mean, 10 crops."""
    if not cfg.get("root"):
        raise UserError("data=imagenet needs data.root", f"give data.root=DIR holding {LAYOUT}")
    root = Path(os.path.expanduser(str(cfg.root)))
    if not root.exists():
        raise UserError(f"data.root '{root}' does not exist", f"expected {LAYOUT}")
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise UserError(f"{root} has no '{split}' folder", f"expected {LAYOUT}")
    from torchvision.datasets import ImageFolder

    train = ImageFolder(str(root / "train"))
    test = ImageFolder(str(root / "val"))
    if train.classes != test.classes:
        raise UserError("train/ and val/ have different class folders", f"expected {LAYOUT} with the same wnids")
    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    cache = cache_dir("imagenet") / f"mean_{key}_{cfg.mean_images}.pt"
    mean = mean_image(train, int(cfg.mean_images), cache)
    tr, va = split_train_val(len(train), int(cfg.val_size), int(cfg.get("split_seed", 0)))
    splits = {
        "train": ImageNetFolder(train, tr, mean, train=True, seed=int(cfg.get("split_seed", 0))),
        "val": ImageNetFolder(train, va, mean, train=False),
        # the paper reports ImageNet 2012 validation numbers: that set is our test split
        "test": ImageNetFolder(test, None, mean, train=False),
    }
    info = ImageInfo(num_classes=len(train.classes), in_channels=3, image_size=CROP,
                     class_names=list(train.classes), mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0])
    return ImageData(splits, info)
