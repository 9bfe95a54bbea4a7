"""Looking at one trained model (Locatello et al., ICML 2019, Sec. 5 and appendix figures;
disentanglement_lib `visualize/visualize_model.py`): reconstructions, and latent traversals that
move one code dimension at a time through the prior's range while the others stay at an image's
encoding. Rows are labelled with each dimension's mean KL to the prior, so collapsed dimensions
(KL near 0, flat rows) are told apart from used ones. Each figure is one mosaic image (a grid of
100 small axes takes seconds to lay out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from paperlab.io.figures import plt, tile

from .architectures import VAE
from .methods import gaussian_kl_per_code


def _display(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (N, H, W) grey or (N, H, W, 3) colour."""
    x = x.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return x[..., 0] if x.shape[-1] == 1 else x


def _mosaic(images: np.ndarray, columns: int, size: float) -> tuple[Any, Any, int]:
    """A figure showing `images` (N, H, W[, 3]) in a grid of `columns`, 1 px grey between them."""
    mosaic = tile(images, ncols=columns, pad=1, pad_value=0.5)
    rows = -(-len(images) // columns)
    fig, ax = plt.subplots(figsize=(size * columns + 1.4, size * rows + 0.6))
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.tick_params(length=0, labelsize=8)
    for side in ax.spines.values():
        side.set_visible(False)
    return fig, ax, images.shape[1] + 1  # the cell pitch in pixels


@torch.no_grad()
def plot_reconstructions(vae: VAE, images: torch.Tensor, title: str = "") -> Any:
    """Inputs (top row) and decoded encoder means (bottom row) of a few images (N, C, 64, 64)."""
    vae.eval()
    param = next(vae.parameters())
    x = images.to(param.device, param.dtype)
    mean, _ = vae.encoder(x)
    shown = np.concatenate([_display(x), _display(torch.sigmoid(vae.decoder(mean)))])
    fig, ax, pitch = _mosaic(shown, len(x), 0.9)
    ax.set_xticks([])
    ax.set_yticks([pitch / 2, 1.5 * pitch], ["input", "reconstruction"])
    if title:
        ax.set_title(title, fontsize=9)
    return fig


@torch.no_grad()
def plot_latent_traversal(vae: VAE, image: torch.Tensor, span: float = 2.0, steps: int = 9,
                          kl_of: torch.Tensor | None = None, title: str = "") -> Any:
    """One row per code dimension: that dimension swept over [-span, span] (the prior's +-2 sd by
    default), the others at the encoding of `image` (C, 64, 64), which the first column shows. The
    dimensions' KL (row labels) is averaged over `kl_of` (N, C, 64, 64), default the image itself.
    """
    vae.eval()
    param = next(vae.parameters())
    x = image[None].to(param.device, param.dtype)
    mean, _ = vae.encoder(x)
    batch = x if kl_of is None else kl_of.to(param.device, param.dtype)
    kl = gaussian_kl_per_code(*vae.encoder(batch)).mean(0)
    dims, values = mean.shape[1], torch.linspace(-span, span, steps, dtype=param.dtype)
    codes = mean.repeat(dims * steps, 1).view(dims, steps, dims)
    codes[torch.arange(dims), :, torch.arange(dims)] = values.to(param.device)
    frames = _display(torch.sigmoid(vae.decoder(codes.view(-1, dims)))).reshape(
        dims, steps, *_display(x).shape[1:])
    rows = np.concatenate([np.repeat(_display(x)[None], dims, axis=0), frames], axis=1)
    fig, ax, pitch = _mosaic(rows.reshape(-1, *rows.shape[2:]), steps + 1, 0.75)
    ax.set_yticks(pitch * (np.arange(dims) + 0.5), [f"z{d}  KL {kl[d]:.2f}" for d in range(dims)])
    ax.set_xticks(pitch * (np.arange(steps + 1) + 0.5),
                  ["input", *(f"{v:+.1f}" for v in values.tolist())])
    ax.xaxis.tick_top()
    if title:
        ax.set_title(title, fontsize=9, pad=18)
    return fig
