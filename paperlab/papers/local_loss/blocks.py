"""A hidden block of the networks of Nøkland & Eidnes 2019 (Sec. 3, Fig. 1): conv (or linear)
-> BatchNorm -> ReLU/LeakyReLU, with dropout (and max-pooling) on the output passed on only, and,
under a local rule, its own local loss head (reference code anokland/local-loss, train.py,
LocalLossBlockLinear and LocalLossBlockConv, lines 471-882).

The local loss sees the activation h before dropout; the next block sees the dropped-out,
pooled output. Under a local rule the training step makes that output from the detached h
(training.py). The reference drops out, then max-pools; `pass_on` pools first, which gives the
same tensor (Dropout2d zeroes or scales whole channels, and a max commutes with both) from the
same random draws (one per sample and channel), on a map a quarter the size.

The pass-on max-pool of the detached h skips torch's argmax map (lean_ops.py; the same maxima).
With `model.lean=true`, under a local rule in training, BatchNorm -> activation runs as one op
that keeps only the conv output and a bool mask for its backward pass and backpropagates in place
(lean_ops.py): the same values, a local step holding less of its one block. Global backprop runs
torch's own modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from paperlab.config import fraction
from paperlab.errors import UserError
from paperlab.papers.local_loss.lean_ops import batch_norm_act, conv_batch_norm_act, max_pool_2x2
from paperlab.papers.local_loss.local_losses import LocalLoss, LocalLossConfig

NONLINEARITIES = {
    "relu": partial(nn.ReLU, inplace=True),  # train.py:509
    "leakyrelu": partial(nn.LeakyReLU, negative_slope=0.01, inplace=True),  # train.py:511
}


def nonlinearity(name: str) -> nn.Module:
    if name not in NONLINEARITIES:
        raise UserError(
            f"unknown nonlinearity '{name}'", f"choose one of: {', '.join(NONLINEARITIES)}"
        )
    return NONLINEARITIES[name]()


@dataclass
class BlockConfig:
    in_features: int  # input channels (conv) or input features (fully connected)
    out_features: int
    size: int  # spatial size (H = W) of the block's activation h; 0: a fully connected block
    # train.py:1388, 3x3 convs; 7 x 7 stride 2 first for inputs over 64 px (1383)
    kernel_size: int = 3
    stride: int = 1
    dropout: float = fraction(default=0.0)  # train.py:51 --dropout; Dropout2d on conv maps (723), Dropout on fc (513)
    nonlin: str = "relu"  # train.py:57 --nonlin relu | leakyrelu
    max_pool: bool = False  # a 2x2 max-pool after the block ('M' in the VGG specs, train.py:1362)
    loss: LocalLossConfig | None = None  # the local loss head; None under global backprop


class Block(nn.Module):
    """forward(x) -> h, the activation the local loss sees; pass_on(h) -> what the next block
    gets (max-pooling, then dropout)."""

    Config = BlockConfig

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        self.cfg = cfg
        conv = cfg.size > 0
        if conv:
            self.layer: nn.Module = nn.Conv2d(
                cfg.in_features,
                cfg.out_features,
                cfg.kernel_size,
                stride=cfg.stride,
                padding=cfg.kernel_size // 2,
            )
            self.norm: nn.Module = nn.BatchNorm2d(cfg.out_features)
        else:
            self.layer = nn.Linear(cfg.in_features, cfg.out_features)
            self.norm = nn.BatchNorm1d(cfg.out_features)
        self.act = nonlinearity(cfg.nonlin)
        if not 0.0 <= cfg.dropout < 1.0:
            raise UserError(
                f"dropout={cfg.dropout} is outside [0, 1)", "set dropout to a rate in [0, 1)"
            )
        dropout = nn.Dropout2d if conv else nn.Dropout
        self.drop = dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.pool = nn.MaxPool2d(2, 2) if cfg.max_pool else nn.Identity()
        self.local_loss = None if cfg.loss is None else LocalLoss(cfg.loss)

    def forward(self, x: Tensor) -> Tensor:
        if self.cfg.size == 0:
            x = x.flatten(1)
        head = self.local_loss
        if head is None or not (head.cfg.lean and self.training and torch.is_grad_enabled()):
            return self.act(self.norm(self.layer(x)))
        # the same values, but only z and a bool mask kept for the backward pass, which runs
        # in place (lean_ops.py): a local step's peak is this block's backward
        if head.sim_net is not None and isinstance(self.layer, nn.Conv2d):
            # the sim head's conv keeps h until its own backward pass, which runs first: then
            # z is not kept beside it but computed again from x (one more conv of the block)
            return conv_batch_norm_act(self.layer, self.norm, self.act, x)
        return batch_norm_act(self.norm, self.act, self.layer(x))

    def pass_on(self, h: Tensor) -> Tensor:
        if self.cfg.max_pool and not (torch.is_grad_enabled() and h.requires_grad):
            # nothing to backpropagate (the detached h of a local step, evaluation): the 2x2
            # maxima without the int64 argmax map torch's max_pool2d allocates beside them
            return self.drop(max_pool_2x2(h))
        return self.drop(self.pool(h))
