"""Where and in what precision a run computes: the device of each rank, the number format
(`trainer.precision`: fp32, float64 for the methods that need it, or mixed bf16/fp16 on CUDA), and
the device's speed settings (cuDNN autotuning, channels-last weights)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

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


# trainer.precision=auto: fp32 on CUDA too, where it was bf16-mixed. The papers trained in fp32
# and the numbers in the docs come from fp32 runs on CPU; they should hold on a GPU. They did not
# under bf16-mixed: the default ZFNet recipe reached 9.27% test error on an H200 against 8.70% on
# CPU (one run each, so part of the gap may be run-to-run noise, but bf16 rounds every product's
# inputs to 8 significant bits, and nothing in those recipes was tuned for it). What bf16 buys is
# arithmetic speed, and the default recipes are bound by kernel launches and data loading, not by
# arithmetic (ZFNet's 7 epochs took 22 s). fp32 on CUDA is PyTorch's default: cuDNN convolutions
# on TF32 tensor cores (fp32 storage and sums, 10-bit products), matrix products in full fp32.
# Where arithmetic is the bottleneck (ImageNet-sized models), trainer.precision=bf16-mixed asks
# for it; the CPU was fp32 before and is unchanged.
AUTO_PRECISION = "32"


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
    """`trainer.precision` on a device: auto is 32 on every device (see AUTO_PRECISION)."""

    def __init__(self, name: str, device: torch.device) -> None:
        if name == "auto":
            name = AUTO_PRECISION
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


def tune_device(device: torch.device, deterministic: bool) -> None:
    """cuDNN picks the fastest convolution algorithms for the shapes it sees (timed on first use;
    the shapes of a training run repeat). Not with `deterministic`: the fastest may not be."""
    if device.type == "cuda" and not deterministic:
        torch.backends.cudnn.benchmark = True


def channels_last(model: nn.Module) -> nn.Module:
    """4-D weights in channels-last layout (NHWC), which the GPU's tensor-core convolutions read
    natively; a convolution's NCHW input then comes out in the weights' layout."""
    return model.to(memory_format=torch.channels_last)
