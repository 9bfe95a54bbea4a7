"""ImageNet 2012 in the standard folder layout, with Zeiler & Fergus 2013 preprocessing (Sec. 3):
short side 256, centre 256x256, per-pixel mean subtracted, 10 sub-crops of 224x224.

Training draws one of the ten crops per image (seeded by (seed, epoch, index), so resumed epochs
match); evaluation returns all ten (10, 3, 224, 224) and the classifier averages their softmax.
The work is split between the loader workers and the device (paperlab/data/image_pipeline.py;
`data.decode=auto|cpu|gpu`). Layout: <root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG
(validation images sorted into class folders, as torchvision's ImageFolder expects).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.data.image_pipeline import CROP, FolderImages, mean_image
from paperlab.data.images import ImageData, ImageInfo, split_train_val
from paperlab.errors import UserError
from paperlab.paths import cache_dir

LAYOUT = "<root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG"


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
    # ImageFolder lists the files and classes; FolderImages reads the images
    from torchvision.datasets import ImageFolder

    train = ImageFolder(str(root / "train"))
    test = ImageFolder(str(root / "val"))
    if train.classes != test.classes:
        raise UserError("train/ and val/ have different class folders", f"expected {LAYOUT} with the same wnids")
    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    mean = mean_image(train.samples, int(cfg.mean_images), cache_dir("imagenet") / f"mean_{key}_{cfg.mean_images}.pt")
    seed = int(cfg.get("split_seed", 0))
    tr, va = split_train_val(len(train), int(cfg.val_size), seed)
    decode = str(cfg.get("decode", "auto"))
    splits = {
        "train": FolderImages([train.samples[i] for i in tr], mean, train=True, decode=decode, seed=seed),
        "val": FolderImages([train.samples[i] for i in va], mean, train=False, decode=decode),
        # the paper reports ImageNet 2012 validation numbers: that set is our test split
        "test": FolderImages(test.samples, mean, train=False, decode=decode),
    }
    info = ImageInfo(num_classes=len(train.classes), in_channels=3, image_size=CROP,
                     class_names=list(train.classes), mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0])
    return ImageData(splits, info)
