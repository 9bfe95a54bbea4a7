"""The similarity matrix S(X) of a mini-batch (Nøkland & Eidnes 2019, Sec. 3, the similarity
matching loss L_sim), as the reference code computes it (anokland/local-loss, train.py,
`similarity_matrix`, lines 1409-1420).

S(X) is the adjusted cosine similarity of the rows of X: each row is centred on its own mean and
L2-normalised, and S = X X^T. For a convolutional feature map the rows are not the flattened
maps but each channel's standard deviation over positions, which makes S insensitive to where in
the image a feature fires.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

EPS = 1e-8  # train.py:1418, added to the row norm


class _ChannelStd(torch.autograd.Function):
    """x.std(dim=(2, 3)) (unbiased) with the same gradient as torch's, (x - mean) g / ((n-1) std),
    computed in one map-sized buffer instead of torch's two; with `consume`, in x's own buffer
    (no new one): under a local rule the backward pass of the sim head is the step's memory peak
    (benchmarks/local_loss.py), and x, the sim head's conv output, is read by nothing else. A
    second backward pass through the same graph (retain_graph) then fails loudly: x's version
    has changed."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, consume: bool) -> Tensor:
        std = x.std(dim=(2, 3))
        ctx.consume = consume
        ctx.save_for_backward(x, std)
        return std

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        x, std = ctx.saved_tensors
        n = x.size(2) * x.size(3)
        # a constant channel has std 0: torch's std backward gives it a zero gradient, so does this
        scale = (grad / (std * (n - 1))).masked_fill_(std == 0, 0)[:, :, None, None]
        mean = x.mean(dim=(2, 3), keepdim=True)
        return (x.sub_(mean) if ctx.consume else x - mean).mul_(scale), None


def similarity_matrix(x: Tensor, use_std: bool = True, consume: bool = False) -> Tensor:
    """B x B similarity of a batch of features `x` (B x ... ), values clamped to [-1, 1].

    `consume`: x is read by nothing else, so the backward pass may overwrite it (the sim head's
    conv output).

    `use_std` is the reference's default (its flag --no-similarity-std turns it off): a map with
    more than 3 channels and spatial size above 1 is summarised by per-channel standard
    deviations (unbiased, torch's default, as in train.py:1414). Otherwise the features are
    flattened: small maps and RGB inputs carry their information in the values themselves.
    """
    if x.dim() == 4 and use_std and x.size(1) > 3 and x.size(2) > 1:
        rows = _ChannelStd.apply(x, consume)
    else:
        rows = x.flatten(1)
    centred = rows - rows.mean(dim=1, keepdim=True)
    unit = centred / (EPS + centred.pow(2).sum(dim=1, keepdim=True).sqrt())
    return (unit @ unit.t()).clamp(-1, 1)
