"""How structured a layer's filters are: Zeiler & Fergus 2013 read their layer-1 filters by eye
(Fig. 5, Fig. 6: clean edges and colour blobs versus "dead" or noisy ones); this puts a number
beside the figure.

A filter made of edges and blobs varies smoothly: neighbouring weights are alike. White noise has
no such correlation. The smoothness of a filter is the correlation of each weight with its right
and lower neighbours (the filter's mean removed first): about 0 for noise, near 1 for a smooth
ramp, negative for a checkerboard.
"""

from __future__ import annotations

from pathlib import Path

import torch

from paperlab.io.figures import conv_filters_figure


def filter_smoothness(weight: torch.Tensor) -> torch.Tensor:
    """Neighbour correlation of each filter of a conv weight (out, in, kh, kw) -> (out,)."""
    w = weight.detach().float()
    w = w - w.mean(dim=(1, 2, 3), keepdim=True)
    pairs = [(w[..., 1:, :], w[..., :-1, :]), (w[..., :, 1:], w[..., :, :-1])]
    products = sum((a * b).sum(dim=(1, 2, 3)) for a, b in pairs)
    squares = sum(0.5 * (a.pow(2) + b.pow(2)).sum(dim=(1, 2, 3)) for a, b in pairs)
    return products / squares.clamp_min(1e-12)


def layer1_filters(weight: torch.Tensor, path: str | Path) -> float:
    """Draw the first layer's filters (Fig. 6's mosaic) to `path`; their mean smoothness."""
    conv_filters_figure(weight, path, title=f"Layer-1 filters ({weight.shape[0]})")
    return round(float(filter_smoothness(weight).mean()), 3)
