"""An online handwriting recogniser: pen offsets -> characters, trained with CTC.

Graves et al. 2006, "Connectionist Temporal Classification" (ICML), and Graves et al. 2009, "A
Novel Connectionist System for Unconstrained Handwriting Recognition" (TPAMI): a bidirectional
LSTM reads the pen trajectory and a CTC output layer emits the characters, with no alignment
given. paperlab uses it as a reader of the synthesis network's handwriting (Graves 2013, Sec. 5):
"is every word there, in order?" becomes a character error rate over many samples, the way
handwriting-generation work scores its samples with a recogniser.

Two 1-d convolutions (the second strided) first turn the raw offsets into local stroke features
at half the point rate (shorter sequences for the LSTM). Each direction of each bidirectional
layer is its own fused `nn.LSTM` over the padded batch, the backward one over every line reversed
within its own length: a line reads the same in any batch, without packed sequences (which send
the CPU LSTM to a path ~5x slower).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from paperlab.models import register_model


@register_model("handwriting_recognizer")
class HandwritingRecognizer(nn.Module):
    """BLSTM-CTC reader of pen offsets (dx, dy, end_of_stroke), normalised as in training."""

    @dataclass
    class Config:
        alphabet_size: int = 0  # V: set from the data's alphabet; output V + 1 classes (blank = 0)
        conv_channels: int = 64
        hidden_size: int = 128  # per direction
        num_layers: int = 2
        dropout: float = 0.1

    kind = "recognizer"

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        if cfg.alphabet_size < 1:
            raise ValueError("handwriting_recognizer needs alphabet_size >= 1 (the data's alphabet)")
        self.cfg = cfg
        c = cfg.conv_channels
        self.conv1 = nn.Conv1d(3, c, kernel_size=5, padding=2)
        self.conv2 = nn.Conv1d(c, c, kernel_size=5, stride=2, padding=2)
        h = cfg.hidden_size
        self.forward_layers = nn.ModuleList(nn.LSTM(c if n == 0 else 2 * h, h, batch_first=True)
                                            for n in range(cfg.num_layers))
        self.backward_layers = nn.ModuleList(nn.LSTM(c if n == 0 else 2 * h, h, batch_first=True)
                                             for n in range(cfg.num_layers))
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden_size, cfg.alphabet_size + 1)

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        """Frames emitted for lines of `lengths` pen points (the stride-2 convolution)."""
        return (lengths - 1) // 2 + 1

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, 3), lengths (B,) -> (log-probabilities (B, T', V+1), frames per line (B,))."""
        # zero past each line's end before each convolution: its window sees what a line alone would
        mask = (torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None].to(x.device)).to(x.dtype)[:, None]
        h = torch.relu(self.conv1(x.transpose(1, 2) * mask)) * mask
        h = torch.relu(self.conv2(h)).transpose(1, 2)
        frames = self.output_lengths(lengths.to(x.device))
        reverse = reversal_index(frames, h.shape[1])
        for n, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers, strict=True)):
            if n:
                h = self.dropout(h)
            back = bwd(flip(h, reverse))[0]
            h = torch.cat([fwd(h)[0], flip(back, reverse)], dim=-1)
        return self.out(h).log_softmax(-1), frames


def reversal_index(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """(B, total) time indices that reverse each line's first `lengths` steps (padding stays put)."""
    t = torch.arange(total, device=lengths.device)[None]
    return torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)


def flip(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (B, T, C) with each line's time steps reordered by `index` (B, T)."""
    return x.gather(1, index[..., None].expand_as(x))


def greedy_decode(log_probs: torch.Tensor, frames: torch.Tensor) -> list[list[int]]:
    """Best-path CTC decoding: the most likely class per frame, repeats merged, blanks dropped.
    Returns alphabet indices (class - 1) per line."""
    best = log_probs.argmax(-1).cpu()
    out: list[list[int]] = []
    for row, n in zip(best, frames.tolist(), strict=True):
        seq = torch.unique_consecutive(row[:n])
        out.append([int(k) - 1 for k in seq if k != 0])
    return out
