"""Where and in what precision a run computes: the device of each rank, and the number format
(`trainer.precision`: fp32, float64 for the methods that need it, or mixed bf16/fp16 on CUDA)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch

from paperlab.engine.distributed import DistInfo, rank_gpu
from paperlab.errors import UserError

# trainer.precision -> (the dtype weights and floating inputs are cast to, None: left as they are;
# the autocast dtype)
PRECISIONS: dict[str, tuple[torch.dtype | None, torch.dtype | None]] = {
    "32": (None, None),
    "64": (torch.float64, None),  # float64 end to end: Gaussian-process bounds, finite-difference checks
    "bf16-mixed": (None, torch.bfloat16),
    "16-mixed": (None, torch.float16),
}


def select_device(name: str, info: DistInfo) -> torch.device:
    """This rank's device: `auto` is its GPU where there is one, else the CPU."""
    if name == "auto":
        return rank_gpu(info) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device '{name}'", "use trainer.device=auto, cpu or cuda") from None
    if device.type == "cuda" and device.index is None and info.enabled:
        return rank_gpu(info)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("trainer.device=cuda but no CUDA GPU is visible", "use trainer.device=auto or cpu")
    return device


class Precision:
    """`trainer.precision` on a device: auto is bf16-mixed on a CUDA GPU that has bf16, else 32."""

    def __init__(self, name: str, device: torch.device) -> None:
        if name == "auto":
            name = "bf16-mixed" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "32"
        if name not in PRECISIONS:
            raise UserError(f"unknown precision '{name}'", f"use trainer.precision=auto, {', '.join(PRECISIONS)}")
        self.name = name
        self.dtype, self.amp_dtype = PRECISIONS[name]
        if self.amp_dtype is not None and device.type != "cuda":
            raise UserError(f"trainer.precision={name} needs a CUDA device", "use trainer.precision=32 on CPU")
        self.device_type = device.type

    def autocast(self) -> Any:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.amp_dtype)


def to_device(batch: Any, device: torch.device, dtype: torch.dtype | None = None) -> Any:
    """A batch (tensors in lists, tuples, dicts) on `device`; floating tensors cast to `dtype`."""
    if isinstance(batch, torch.Tensor):
        cast = dtype if dtype is not None and batch.is_floating_point() and batch.dtype != dtype else None
        return batch.to(device, dtype=cast, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device, dtype) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device, dtype) for k, v in batch.items()}
    return batch
