"""The character-level language model of Graves 2013, "Generating Sequences With Recurrent Neural
Networks", Sec. 3 (text prediction).

One-hot inputs x_t (one unit per symbol), the deep LSTM with skip connections of Sec. 2
(`DeepLSTM`: input to every layer, every layer to the output) and a softmax output layer over the
same symbols (Eq. 3 and Sec. 3: a softmax over the K symbols):

    Pr(x_{t+1} = k | y_t) = y_t^k = exp(ŷ_t^k) / sum_k' exp(ŷ_t^k')

Sampling (Sec. 3, Sec. 3.2 "generated text"): feed a sampled symbol back as the next input. A
temperature T divides the logits (T < 1 sharpens, T > 1 flattens; T = 1 samples the model's own
distribution).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from paperlab.models import register_model
from paperlab.papers.graves.deep_lstm import DeepLSTM, DeepLSTMConfig, LSTMState


@dataclass
class CharLSTMConfig:
    hidden_size: int = 256  # LSTM cells per layer (Sec. 3.1 PTB: 1000; Sec. 3.2 Wikipedia: 700)
    num_layers: int = 2  # hidden layers (Sec. 3.1: 1, Sec. 3.2: 7)
    grad_clip: float | None = None  # clamp the LSTM derivatives dL/dh to [-c, c] (Sec. 3.1: 1)
    vocab_size: int = 0  # filled in from the corpus by the learner


@register_model("char_lstm")
class CharLSTM(nn.Module):
    """Graves 2013 Sec. 3: one-hot symbols -> deep LSTM with skip connections -> softmax."""

    Config = CharLSTMConfig

    def __init__(self, cfg: CharLSTMConfig) -> None:
        super().__init__()
        if cfg.vocab_size < 1:
            raise ValueError("CharLSTMConfig.vocab_size must be set from the corpus")
        self.cfg = cfg
        self.lstm = DeepLSTM(DeepLSTMConfig(input_size=cfg.vocab_size, hidden_size=cfg.hidden_size,
                                            num_layers=cfg.num_layers, grad_clip=cfg.grad_clip))
        self.head = nn.Linear(self.lstm.output_size, cfg.vocab_size)  # W_{h^n y} of every layer, b_y

    def forward(self, ids: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        """ids (B, T) -> logits (B, T, vocab) for the next symbol at each step, and the final state."""
        x = F.one_hot(ids, self.cfg.vocab_size).to(self.head.weight.dtype)
        h, state = self.lstm(x, state)
        return self.head(h), state


@torch.no_grad()
def generate(model: CharLSTM, prime: torch.Tensor, length: int, temperature: float = 1.0,
             generator: torch.Generator | None = None) -> Iterator[int]:
    """Yield `length` symbol ids sampled one at a time after reading `prime` (1-D ids, at least one)."""
    model.eval()
    logits, state = model(prime.view(1, -1))
    last = logits[0, -1]
    for _ in range(length):
        probs = F.softmax(last.float() / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=generator)
        yield int(nxt)
        logits, state = model(nxt.view(1, 1), state)
        last = logits[0, -1]
