"""Image folders at the speed of the device: Zeiler & Fergus 2013's preprocessing (Sec. 3) split
between the loader workers and the device the model trains on.

  "resizing the smallest dimension to 256, cropping the center 256x256 region, subtracting the
   per-pixel mean (across all images) and then using 10 different sub-crops of size 224x224
   (corners + center with(out) horizontal flips)."

The crops and the mean commute: crop_k(x - m) = crop_k(x) - crop_k(m), flips included. So the
work per image that must stay per image (decoding, the resize of images of different sizes) is
done on whole uint8 images, and what is the same for every image (float conversion, the mean,
the ten test crops) is done once per batch on the device:

* `data.decode=cpu`: each loader worker decodes with torchvision's decoder (libjpeg-turbo, the
  same library Pillow wraps), resizes the short side to 256 (antialiased bilinear, as
  Pillow's), takes the centre 256x256 and, for training, the one 224x224 crop drawn for this
  image and epoch (of the ten, flips included); it ships uint8.
* `data.decode=gpu`: the workers only read the files; the main process decodes the batch on the
  GPU with nvJPEG (`torchvision.io.decode_jpeg(list, device="cuda")`) and does the resize and
  crops there as batched tensor ops (images of one size resized together).
* `data.decode=auto`: gpu when the model is on a CUDA device, else cpu.

Both hand the device uint8 pixels and the crop index; `FolderImages.finish_batch` converts to
float, subtracts the matching crop of the mean image and, at test time, cuts the ten crops. For a
model on the CPU the workers finish each batch themselves, in parallel with the training step:
in the main process that work would wait for the step, and torch's intra-op threads, on CPUs that
the step and the workers already fill, spend more time waiting for each other than converting
(measured: 3x the CPU time per image on a busy 2-core machine). The training crop is drawn from
(seed, epoch, index), so a resumed epoch sees the same crops.

Against the classic pipeline (Pillow decode and resize, float 256x256 per image, all ten crops
computed to keep one; the torchvision reference scripts' way): the decoders give identical
pixels, the resize differs by at most 1/255 on a small fraction of pixels (torch's antialiased
bilinear rounds differently from Pillow's): a few in a thousand where torchvision resizes uint8
in torch's own uint8 kernel (x86 CPUs with AVX2; with AVX-512 from torchvision 0.24 on), about a
fifth where it resizes in float and rounds; tests/core/test_image_pipeline.py measures both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, default_collate

from paperlab.engine.seed import derive_seed
from paperlab.errors import UserError

SHORT_SIDE = 256
CROP = 224
DECODE_MODES = ("auto", "cpu", "gpu")
_JPEG_MAGIC = b"\xff\xd8\xff"


def crop_offsets(size: int = SHORT_SIDE, crop: int = CROP) -> list[tuple[int, int]]:
    """(top, left) of the five crops in torchvision's five_crop order: the four corners, then the
    centre; crops 5-9 are the same windows mirrored."""
    far, mid = size - crop, int(round((size - crop) / 2.0))
    return [(0, 0), (0, far), (far, 0), (far, far), (mid, mid)]


def take_crops(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Crop k[b] (0-9) of each image: x (B, C, S, S) -> (B, C, 224, 224), one gather for the batch."""
    offsets = torch.tensor(crop_offsets(x.shape[-1]), device=x.device)
    top, left = offsets[k % 5].unbind(-1)
    steps = torch.arange(CROP, device=x.device)
    rows = top[:, None] + steps
    cols = left[:, None] + torch.where(k[:, None] >= 5, CROP - 1 - steps, steps)  # crops 5-9: mirrored
    b = torch.arange(len(x), device=x.device)
    c = torch.arange(x.shape[1], device=x.device)
    return x[b[:, None, None, None], c[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]


def crop(x: torch.Tensor, k: int) -> torch.Tensor:
    """Crop k (0-9) of one image (C, S, S) -> (C, 224, 224), a copy (not a view of the whole image)."""
    top, left = crop_offsets(x.shape[-1])[k % 5]
    window = x[..., top : top + CROP, left : left + CROP]
    return window.flip(-1) if k >= 5 else window.clone()


def ten_crops(x: torch.Tensor) -> torch.Tensor:
    """(..., C, S, S) -> (..., 10, C, 224, 224): four corners and centre, then their mirror images."""
    return torch.stack([crop(x, k) for k in range(10)], dim=-4)


def decode(data: torch.Tensor) -> torch.Tensor:
    """Encoded bytes (uint8, 1-D) -> RGB uint8 (3, H, W), on the CPU (JPEG, PNG, ...; grey and CMYK to RGB)."""
    from torchvision.io import ImageReadMode, decode_image

    return decode_image(data, mode=ImageReadMode.RGB)


def centre_square(img: torch.Tensor, size: int = SHORT_SIDE) -> torch.Tensor:
    """Short side resized to `size` (antialiased bilinear), then the centre size x size: (..., 3, H, W) uint8."""
    import torchvision.transforms.v2.functional as F  # imported when used: a second at start-up for every command

    return F.center_crop(F.resize(img, [size], antialias=True), [size, size])


def decode_on_gpu(encoded: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Encoded images -> RGB uint8 (3, H, W) each on `device`: the JPEGs in one nvJPEG batch, the
    rest (PNG, or a JPEG nvJPEG refuses, e.g. CMYK) decoded on the CPU and moved."""
    from torchvision.io import ImageReadMode, decode_jpeg

    out: list[torch.Tensor | None] = [None] * len(encoded)
    jpegs = [i for i, e in enumerate(encoded) if bytes(e[:3].tolist()) == _JPEG_MAGIC]
    try:
        decoded = decode_jpeg([encoded[i] for i in jpegs], mode=ImageReadMode.RGB, device=device)
        for i, img in zip(jpegs, decoded, strict=True):
            out[i] = img
    except RuntimeError:  # one file nvJPEG cannot read fails the batch: one by one, the CPU for those
        for i in jpegs:
            with contextlib.suppress(RuntimeError):
                out[i] = decode_jpeg(encoded[i], mode=ImageReadMode.RGB, device=device)
    return [img if img is not None else decode(e).to(device) for img, e in zip(out, encoded, strict=True)]


def centre_squares(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """Images of any sizes on one device -> (B, 3, 256, 256) uint8; images of one size share one resize."""
    out = torch.empty(len(images), 3, SHORT_SIDE, SHORT_SIDE, dtype=torch.uint8, device=images[0].device)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, img in enumerate(images):
        by_size.setdefault(tuple(img.shape), []).append(i)
    for idx in by_size.values():
        out[idx] = centre_square(torch.stack([images[i] for i in idx]))
    return out


@dataclass
class Encoded:
    """A batch's files as read (uint8 bytes each). Not a tensor, so `to_device` leaves it on the CPU,
    where nvJPEG wants its input."""

    data: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.data)


class FolderImages(Dataset):
    """Image files with labels -> the paper's crops, mean subtracted: one crop per image for
    training, the ten crops (B, 10, 3, 224, 224) for evaluation.

    Items are uint8 (or bytes for `decode=gpu`); the trainer calls `set_device` before it builds
    a loader and `finish_batch` on each batch once it is on the device (float, mean, crops; for a
    model on the CPU the workers' `collate_fn` has done it already)."""

    def __init__(self, samples: Sequence[tuple[str, int]], mean_image: torch.Tensor, train: bool,
                 decode: str = "auto", seed: int = 0) -> None:
        if decode not in DECODE_MODES:
            raise UserError(f"unknown data.decode '{decode}'", f"use data.decode={', '.join(DECODE_MODES)}")
        self.samples = list(samples)
        self.mean_image = mean_image  # (3, 256, 256) in [0, 1] units
        self.train = train
        self.decode = decode
        self.mode = "cpu" if decode == "auto" else decode  # auto: settled by set_device
        self.finish_in_workers = True  # a model on the CPU (the default until set_device says otherwise)
        self.seed = seed
        self.epoch = 0
        self._means: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_device(self, device: torch.device) -> None:
        """Where the model computes: `decode=auto` decodes there if it is a GPU."""
        if self.decode == "gpu" and device.type != "cuda":
            raise UserError(f"data.decode=gpu but the model is on {device}", "use data.decode=auto or cpu")
        self.mode = "gpu" if self.decode == "gpu" or (self.decode == "auto" and device.type == "cuda") else "cpu"
        self.finish_in_workers = device.type == "cpu"

    def crop_index(self, index: int) -> int:
        """The training crop (0-9) of item `index` this epoch."""
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, index))
        return int(torch.randint(10, (1,), generator=g))

    def read(self, index: int) -> torch.Tensor:
        from torchvision.io import read_file

        return read_file(self.samples[index][0])

    def square(self, index: int) -> torch.Tensor:
        """Item `index` decoded on the CPU: its centre 256x256, uint8 (3, 256, 256)."""
        return centre_square(decode(self.read(index)))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        item: dict[str, torch.Tensor | int] = {"label": self.samples[index][1]}
        k = self.crop_index(index) if self.train else -1
        if self.train:
            item["crop"] = k
        if self.mode == "gpu":
            item["encoded"] = self.read(index)
        else:  # ship only what the model sees: the one training crop, or the centre for the ten
            square = self.square(index)
            item["pixels"] = crop(square, k) if self.train else square
        return item

    def collate_fn(self, items: list[dict]) -> dict | tuple[torch.Tensor, torch.Tensor]:
        if "encoded" not in items[0]:
            batch = default_collate(items)
            return self.finish_batch(batch) if self.finish_in_workers else batch
        rest = default_collate([{k: v for k, v in it.items() if k != "encoded"} for it in items])
        return {**rest, "encoded": Encoded([it["encoded"] for it in items])}

    def _mean(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean image and its ten crops on `device` (made once per device)."""
        if device not in self._means:
            mean = self.mean_image.to(device)
            self._means[device] = (mean, ten_crops(mean))
        return self._means[device]

    def finish_batch(self, batch: dict | tuple) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch on the device -> (float images, labels): decoded and cropped there if the workers
        shipped bytes, scaled to [0, 1], mean subtracted; ten crops each for evaluation. A batch
        the workers finished (a tuple) is returned as it is."""
        import torchvision.transforms.v2.functional as F

        if isinstance(batch, tuple):
            return batch
        y = batch["label"]
        if "encoded" in batch:
            squares = centre_squares(decode_on_gpu(batch["encoded"].data, y.device))
            pixels = take_crops(squares, batch["crop"]) if self.train else squares
        else:
            pixels = batch["pixels"]
        mean, mean_crops = self._mean(pixels.device)
        x = F.to_dtype(pixels, torch.float32, scale=True)
        if self.train:
            return x.sub_(mean_crops.index_select(0, batch["crop"])), y
        return ten_crops(x.sub_(mean)), y


def mean_image(samples: Sequence[tuple[str, int]], n: int, cache: Path) -> torch.Tensor:
    """The per-pixel mean (3, 256, 256) of the centre squares of `n` images spread over `samples`,
    in [0, 1] units (cached in `cache`)."""
    if cache.is_file():
        return torch.load(cache, weights_only=True)
    import torchvision.transforms.v2.functional as F

    reader = FolderImages(samples, torch.zeros(3, SHORT_SIDE, SHORT_SIDE), train=False, decode="cpu")
    picks = range(0, len(samples), max(1, len(samples) // n))
    total = torch.zeros(3, SHORT_SIDE, SHORT_SIDE, dtype=torch.float64)
    for i in picks:
        total += F.to_dtype(reader.square(i), torch.float32, scale=True)
    mean = (total / len(picks)).float()
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(mean, cache)
    return mean
