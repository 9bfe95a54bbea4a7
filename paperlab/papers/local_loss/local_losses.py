"""The local loss of one hidden block (Nøkland & Eidnes 2019, Sec. 3): the similarity matching
loss L_sim, the prediction loss L_pred, their mix L_predsim = (1 - beta) L_pred + beta L_sim, and
the backprop-free versions L_sim-bpf, L_pred-bpf (reference code anokland/local-loss, train.py,
the `forward` of LocalLossBlockLinear and LocalLossBlockConv, lines 552-646 and 761-882).

Each loss is a single-layer sub-network on the block's activation h:
- sim: MSE between S(f(h)) and S(y one-hot), f a learned 3x3 conv C->C (linear n->n for fully
  connected blocks) without bias; sim-bpf drops f for the average pooling below and compares with
  S(P y), P a fixed random projection of the labels, so no error is backpropagated at all.
- pred: cross-entropy of a zero-initialised linear decoder on the average-pooled, flattened h;
  pred-bpf decodes 128 outputs with a feedback-alignment layer and is trained by binary
  cross-entropy against the binary code 1[P y > 0].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paperlab.papers.local_loss.feedback_alignment import LinearFA, LinearFAConfig
from paperlab.papers.local_loss.lean_ops import avg_pool, same_size_conv
from paperlab.papers.local_loss.similarity import similarity_matrix


def decoder_pooling(channels: int, size: int, max_features: int) -> tuple[nn.Module | None, int]:
    """Average pooling that shrinks a C x size x size map to at most `max_features` values, and
    the flattened size it gives.

    The kernel's height and width are doubled in turn until C * H' * W' <= max_features (or the
    kernel covers the map), padding so that H' = ceil(size / kernel) (train.py:683-700). A
    bounded decoder input keeps the pred decoder small on the large early maps.
    """
    kh = kw = 1
    oh = ow = size
    while channels * oh * ow > max_features and kh < size:
        kh *= 2
        oh = math.ceil(size / kh)
        if channels * oh * ow > max_features:
            kw *= 2
            ow = math.ceil(size / kw)
    if kh == kw == 1:
        return None, channels * size * size
    padding = (kh * (oh - size // kh) // 2, kw * (ow - size // kw) // 2)
    return nn.AvgPool2d((kh, kw), padding=padding), channels * oh * ow


@dataclass
class LocalLossConfig:
    channels: int  # channels (conv) or units (fully connected) of the block's activation h
    size: int  # spatial size of h (H = W); 0 for a fully connected block
    num_classes: int
    pred: bool  # L_pred (train.py --loss-sup pred / predsim)
    sim: bool  # L_sim (train.py --loss-sup sim / predsim)
    bpf: bool  # backprop-free versions (train.py --bio)
    beta: float  # L = (1 - beta) L_pred + beta L_sim (train.py:617-622); 0 for pred, 1 for sim
    # train.py:25; run_experiments.sh: 1024 MNIST family, 2048 CIFAR/SVHN/STL
    dim_in_decoder: int = 4096
    target_proj_size: int = 128  # train.py:83, outputs of P and of the pred-bpf decoder
    use_std: bool = True  # train.py:59, per-channel std in S(x) (off: --no-similarity-std)
    lean: bool = False  # not in the reference: the memory-lean ops of lean_ops.py (NetConfig.lean)


@dataclass
class LocalLossOutput:
    loss: Tensor  # what the block minimises: (1 - beta) pred + beta sim
    pred: Tensor | None  # L_pred (or L_pred-bpf), unweighted
    sim: Tensor | None  # L_sim (or L_sim-bpf), unweighted
    scores: Tensor | None  # B x classes, the local decoder's class scores (for local accuracy)


class LocalLoss(nn.Module):
    """The local loss head of one block: L(h, y) for the rule's choice of pred/sim/bpf."""

    Config = LocalLossConfig

    def __init__(self, cfg: LocalLossConfig) -> None:
        super().__init__()
        self.cfg = cfg
        conv = cfg.size > 0
        self.pool, flat = (
            decoder_pooling(cfg.channels, cfg.size, cfg.dim_in_decoder)
            if conv
            else (None, cfg.channels)
        )
        if cfg.bpf:
            # P as nn.Linear(classes, 128, bias=False) would initialise it (train.py:708); a
            # buffer because nothing may learn it. Row c is class c's projection P e_c.
            bound = 1.0 / math.sqrt(cfg.num_classes)
            self.register_buffer(
                "target_proj",
                torch.empty(cfg.num_classes, cfg.target_proj_size).uniform_(-bound, bound),
            )
        self.sim_net: nn.Module | None = None
        if cfg.sim and not cfg.bpf:  # train.py:503, 710
            self.sim_net = (
                nn.Conv2d(cfg.channels, cfg.channels, 3, padding=1, bias=False)
                if conv
                else nn.Linear(cfg.channels, cfg.channels, bias=False)
            )
        self.decoder: nn.Module | None = None
        if cfg.pred:
            self.decoder = (
                LinearFA(LinearFAConfig(flat, cfg.target_proj_size))
                if cfg.bpf
                else nn.Linear(flat, cfg.num_classes)
            )
            # zeroed as in the reference (train.py:499, 706): the decoder then passes no error
            # to h until it has learned something itself
            nn.init.zeros_(self.decoder.weight)

    def pooled(self, h: Tensor, lean: bool = False) -> Tensor:
        if self.pool is None:
            return h
        # lean: torch's pooling, without keeping h alive for the backward pass
        return avg_pool(self.pool, h) if lean else self.pool(h)

    def forward(self, h: Tensor, y: Tensor) -> LocalLossOutput:
        cfg = self.cfg
        pred = sim = scores = None
        # lean: the decoder and sim-bpf read one pooled h, so one gradient map flows back to h;
        # otherwise each pools its own, as the reference does
        shared = self.pooled(h, lean=True) if cfg.lean and (cfg.pred or cfg.bpf) else None
        if cfg.pred:
            logits = self.decoder((self.pooled(h) if shared is None else shared).flatten(1))
            if cfg.bpf:
                codes = (self.target_proj > 0).to(h.dtype)  # class c's binary target 1[P e_c > 0]
                pred = F.binary_cross_entropy_with_logits(logits, codes[y])
                # log p(code_c | logits) = sum_j logsigmoid(-z_j) + code_c . z: the first term is
                # the same for every class, so codes . z ranks classes by likelihood
                scores = logits @ codes.t()
            else:
                pred = F.cross_entropy(logits, y)
                scores = logits
        # the sim head comes after the pred head, so that autograd (latest first) runs its
        # backward first: its map-sized buffers are freed before the pred head's gradient is
        # spread back to h's size
        if cfg.sim:
            if cfg.bpf:  # the pooled h may be the decoder's input too: kept
                feats = self.pooled(h) if shared is None else shared
                target, own = self.target_proj[y], False
            else:  # the conv output is the sim head's alone: its backward may overwrite it
                lean_conv = cfg.lean and h.dim() == 4
                feats = same_size_conv(self.sim_net, h) if lean_conv else self.sim_net(h)
                target, own = F.one_hot(y, cfg.num_classes).to(h.dtype), True
            sim = F.mse_loss(
                similarity_matrix(feats, cfg.use_std, consume=own),
                similarity_matrix(target, cfg.use_std),
            )
        if pred is None:
            loss = sim
        elif sim is None:
            loss = pred
        else:
            loss = (1 - cfg.beta) * pred + cfg.beta * sim
        return LocalLossOutput(loss, pred, sim, scores)
