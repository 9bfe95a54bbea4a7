"""Figures shared by the tasks (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def save_figure(fig: Any, path: str | Path, dpi: int = 150) -> Path:
    """Save (PNG/SVG/PDF by suffix) and close, so long runs don't accumulate open figures."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


def tile(images: np.ndarray, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """(N, H, W[, 3]) images in [0, 1] -> one mosaic with `pad` pixels of `pad_value` between."""
    n, h, w = images.shape[:3]
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    shape = (nrows * (h + pad) + pad, ncols * (w + pad) + pad) + images.shape[3:]
    out = np.full(shape, pad_value, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = images[i]
    return out


def to_display(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W[, 3]) in [0, 1], each image min-max scaled on its own (the way the
    paper shows filters and projections: contrast per image, zero not pinned)."""
    x = x.detach().float().cpu()
    lo = x.flatten(1).min(1).values.view(-1, 1, 1, 1)
    hi = x.flatten(1).max(1).values.view(-1, 1, 1, 1)
    x = (x - lo) / (hi - lo).clamp_min(1e-12)
    x = x.permute(0, 2, 3, 1).numpy()
    return x[..., 0] if x.shape[-1] == 1 else x[..., :3]


def conv_filters_figure(weight: torch.Tensor, path: str | Path, title: str = "", scale: int = 8) -> Path:
    """First-layer filters as a mosaic (Zeiler & Fergus Fig. 6): each filter contrast-normalised."""
    images = to_display(weight)
    mosaic = tile(images, pad=1)
    fig, ax = plt.subplots(figsize=(max(3, mosaic.shape[1] * scale / 100), max(3, mosaic.shape[0] * scale / 100)))
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def training_curves_figure(records: Sequence[dict[str, Any]], path: str | Path,
                           error_keys: Sequence[str] = ()) -> Path:
    """Training loss per logged step and validation loss/metrics per epoch (from metrics.jsonl)."""
    steps = [(r["step"], r["train/loss"]) for r in records if "train/loss" in r]
    val = [r for r in records if "val/loss" in r and not r.get("final")]
    panels = 2 if error_keys else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    if steps:
        ax.plot(*zip(*steps, strict=True), lw=1, alpha=0.8, label="train (per step)")
    if val:
        ax.plot([r["step"] for r in val], [r["val/loss"] for r in val], "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    if error_keys:
        ax = axes[0, 1]
        for key in error_keys:
            pts = [(r["epoch"], r[key]) for r in val if key in r]
            if pts:
                ax.plot(*zip(*pts, strict=True), "o-", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("error (%)")
        ax.legend()
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def to_display_signed(x: torch.Tensor, quantile: float = 1.0) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W[, 3]) in [0, 1] with zero at mid-grey, each image scaled so that the
    `quantile` of its magnitudes (1: the largest) is full white/black, the rest clipped: how deconvnet
    projections are shown (Zeiler & Fergus Fig. 2), "nothing here" grey, positive/negative light/dark."""
    x = x.detach().float().cpu()
    scale = torch.quantile(x.flatten(1).abs(), quantile, dim=1).view(-1, 1, 1, 1).clamp_min(1e-12)
    x = (0.5 + 0.5 * x / scale).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return x[..., 0] if x.shape[-1] == 1 else x[..., :3]


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """(N, H, W[, 3]) -> each pixel a factor x factor block (nearest neighbour): small crops stay
    crisp at readable sizes."""
    return images.repeat(factor, axis=1).repeat(factor, axis=2)
