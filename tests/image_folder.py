"""A tiny ImageNet-layout folder of real JPEG files (root/{train,val}/<wnid>/*.JPEG), shared by the
image pipeline's tests on CPU (tests/core) and on GPU (tests/gpu)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

WNIDS = ("n01440764", "n01443537")


def photo_like(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour waves plus sensor-like noise: what JPEG compresses as it does photographs
    (pure noise would make every decoder difference the size of the noise)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = rng.uniform(4, 30, size=(3, 2))
    phase = rng.uniform(0, 6.3, size=3)
    img = np.stack([128 + 90 * np.sin(xx / f[c, 0] + phase[c]) * np.cos(yy / f[c, 1]) for c in range(3)], -1)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_jpeg_folder(root: Path, per_class: int = 3, seed: int = 0) -> Path:
    """Images of 300-500 px a side (landscape and portrait, as ImageNet's), one greyscale JPEG and
    one PNG saved under a .JPEG name (ImageNet's training set has both kinds)."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for c, wnid in enumerate(WNIDS):
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i in range(per_class):
                h, w = (int(v) for v in rng.integers(300, 501, size=2))
                img = Image.fromarray(photo_like(rng, h, w))
                path = folder / f"{wnid}_{i}.JPEG"
                if split == "train" and c == 0 and i == 1:
                    img.convert("L").save(path, format="JPEG", quality=90)
                elif split == "train" and c == 1 and i == 2:
                    img.save(path, format="PNG")
                else:
                    img.save(path, format="JPEG", quality=90)
    return root
