"""Grad-CAM figures: a heat map blended over the image (Selvaraju et al. 2017, Fig. 1: jet colour
map, half image, half map), one PNG per image or a captioned grid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from paperlab.io.figures import plt, save_figure


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Standardised (B, C, H, W) -> displayable (B, H, W, 3) in [0, 1] (grey images repeated to RGB)."""
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    img = (x.detach().cpu() * s + m).clamp(0, 1)
    if img.shape[1] == 1:
        img = img.repeat(1, 3, 1, 1)
    return img.permute(0, 2, 3, 1).numpy()


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) image and (H, W) map in [0, 1] -> (H, W, 3) blend with the jet colour map."""
    colours = plt.get_cmap("jet")(np.clip(heat, 0, 1))[..., :3]
    return (1 - alpha) * image + alpha * colours


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so small images (28-64 px) stay crisp in PNGs."""
    return image.repeat(factor, 0).repeat(factor, 1)


def save_overlay(image: np.ndarray, heat: np.ndarray, path: str | Path, alpha: float = 0.5, min_side: int = 224) -> Path:
    """One image beside its Grad-CAM overlay, as a PNG without axes."""
    factor = max(1, int(np.ceil(min_side / image.shape[0])))
    pair = np.concatenate([image, np.ones((image.shape[0], 1, 3)), overlay(image, heat, alpha)], axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, np.clip(upscale(pair, factor), 0, 1))
    return path


def cam_grid(images: np.ndarray, heats: np.ndarray, captions: Sequence[str], path: str | Path, title: str = "",
             ncols: int = 4, alpha: float = 0.5) -> Path:
    """Each image beside its overlay, captioned below (class decisions, explanations), in a grid."""
    n = len(images)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    lines = max(c.count("\n") + 1 for c in captions)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, (1.75 + 0.16 * lines) * nrows + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.set_axis_off()
    for i in range(n):
        ax = axes.flat[i]
        gap = np.ones((images[i].shape[0], max(1, images[i].shape[1] // 16), 3))
        ax.imshow(np.concatenate([images[i], gap, overlay(images[i], heats[i], alpha)], axis=1), interpolation="nearest")
        ax.text(0.5, -0.03, captions[i], transform=ax.transAxes, ha="center", va="top", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)
