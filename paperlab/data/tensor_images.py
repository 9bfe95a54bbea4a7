"""Images held in memory as one uint8 tensor, served in whole batches.

Small image sets (Fashion-MNIST, MNIST, CIFAR-10) fit in memory; slicing, normalising and
augmenting a batch as one tensor removes the per-image Python work of a classic Dataset."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from paperlab.engine.seed import derive_seed


class TensorImages(Dataset):
    """(N, C, H, W) uint8 images + int labels -> normalised float batches.

    `__getitems__` returns a whole batch `(x, y)` (the DataLoader then uses `collate_fn`, the
    identity). Augmentation (random horizontal flips, random crops after zero padding) is drawn per
    image from (seed, epoch, index), so a resumed or re-sharded epoch sees the same augmentation.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        mean: Sequence[float],
        std: Sequence[float],
        flip: bool = False,
        pad_crop: int = 0,
        resize: int | None = None,
        seed: int = 0,
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError("images must be a (N, C, H, W) uint8 tensor")
        self.images = images
        self.labels = labels.long()
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.flip = flip
        self.pad_crop = pad_crop
        self.resize = resize
        self.seed = seed
        self._flips: torch.Tensor | None = None
        self._shifts: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        n = len(self)
        g = torch.Generator().manual_seed(derive_seed(self.seed, epoch))
        self._flips = torch.rand(n, generator=g) < 0.5 if self.flip else None
        p = self.pad_crop
        self._shifts = torch.randint(-p, p + 1, (n, 2), generator=g) if p else None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) -> float, resized if asked, standardised per channel."""
        x = x.float().div_(255)
        if self.resize and x.shape[-1] != self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        return (x - self.mean) / self.std

    def _augment(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        if self._flips is not None:
            f = self._flips[idx]
            x[f] = x[f].flip(-1)
        if self._shifts is not None:
            p = self.pad_crop
            padded = F.pad(x, (p, p, p, p))
            h, w = x.shape[-2:]
            out = torch.empty_like(x)
            for k, (dy, dx) in enumerate(self._shifts[idx].tolist()):
                out[k] = padded[k, :, p + dy : p + dy + h, p + dx : p + dx + w]
            x = out
        return x

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        x = self.images[idx]
        x = self._augment(x, idx)
        return self.normalize(x), self.labels[idx]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]

    @staticmethod
    def collate_fn(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return batch
