"""Graves 2013's handwriting networks: prediction (Sec. 4) and synthesis (Sec. 5).

Prediction network (Sec. 4, Fig. 1): a deep LSTM with skip connections reads pen offsets
x_1..x_T and its mixture density output layer predicts x_{t+1} (Eq. 15-26).

Synthesis network (Sec. 5.1, Fig. 12): the same, conditioned on the text through a soft window
(paperlab/papers/graves/handwriting/soft_window.py). Layer 1 reads x_t and the previous window w_{t-1} (Eq. 52);
the window w_t is computed from h^1_t; layers n > 1 read x_t, h^{n-1}_t and w_t (Eq. 53); the
output layer reads every layer's h^n_t (Eq. 3). Only layer 1 and the window need a step loop
(w_t depends on h^1_t, which depends on w_{t-1}; paperlab/papers/graves/handwriting/window_recurrence.py, with a
hand-written backward pass); layers 2..N are the shared `DeepLSTM` run over the whole sequence at
once with input [h^1_t, w_t, x_t] and skip input [x_t, w_t].

Derivative clipping (Sec. 4.2): "the output derivatives were clipped in the range [-100, 100],
and the LSTM derivatives in the range [-10, 10]". Output: the derivatives with respect to the
mixture layer's pre-activations y_hat. LSTM: the derivatives with respect to each layer's hidden
outputs h^n_t (DeepLSTM's `grad_clip`; layer 1 in the step loop gets the same clamp). The clips
act on the derivatives of one sequence's loss (the learner backpropagates the batch's sum).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from paperlab.models import register_model
from paperlab.papers.graves.deep_lstm import DeepLSTM, DeepLSTMConfig, LSTMState, detach_state
from paperlab.papers.graves.handwriting.mixture_density import MixtureDensity, MixtureDensityConfig
from paperlab.papers.graves.handwriting.soft_window import SoftWindow, SoftWindowConfig, positions
from paperlab.papers.graves.handwriting.step_graphs import StepGraphs
from paperlab.papers.graves.handwriting.window_recurrence import Layer1Weights, layer1_and_window


def _clamp_grad(t: torch.Tensor, clip: float | None) -> torch.Tensor:
    if clip is not None and t.requires_grad:
        t.register_hook(lambda g: g.clamp(-clip, clip))
    return t


@register_model("graves_prediction")
class HandwritingPrediction(nn.Module):
    """Handwriting prediction network (Graves 2013 Sec. 4): deep LSTM + mixture density outputs."""

    @dataclass
    class Config:
        hidden_size: int = 400  # Sec. 4.2: "three hidden layers ... 400 LSTM cells"
        num_layers: int = 3
        num_components: int = 20  # M, Sec. 4.2
        lstm_clip: float | None = 10.0  # Sec. 4.2: LSTM derivatives clipped to [-10, 10]
        output_clip: float | None = 100.0  # Sec. 4.2: output derivatives clipped to [-100, 100]

    kind = "prediction"

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.lstm = DeepLSTM(DeepLSTMConfig(3, cfg.hidden_size, cfg.num_layers, grad_clip=cfg.lstm_clip))
        self.mdn = MixtureDensity(MixtureDensityConfig(self.lstm.output_size, cfg.num_components))

    def forward(self, x: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        """x (B, T, 3) -> (y_hat (B, T, 1+6M), state after x_T)."""
        h, state = self.lstm(x, state)
        return _clamp_grad(self.mdn(h), self.cfg.output_clip), state


class SynthesisState(NamedTuple):
    """What the synthesis network carries from one step to the next."""

    h1: torch.Tensor  # layer 1 (B, H)
    c1: torch.Tensor
    kappa: torch.Tensor  # window positions (B, K)
    w: torch.Tensor  # last window vector (B, V)
    deep: LSTMState | None  # layers 2..N

    def detach(self) -> SynthesisState:
        return SynthesisState(self.h1.detach(), self.c1.detach(), self.kappa.detach(), self.w.detach(),
                              None if self.deep is None else detach_state(self.deep))


class SynthesisOutput(NamedTuple):
    y_hat: torch.Tensor  # (B, T, 1+6M)
    phi: torch.Tensor  # (B, T, U+1): window weights, phi(t, U+1) last
    kappa: torch.Tensor  # (B, T, K)
    state: SynthesisState


@register_model("graves_synthesis")
class HandwritingSynthesis(nn.Module):
    """Handwriting synthesis network (Graves 2013 Sec. 5): text-conditioned via a soft window."""

    @dataclass
    class Config:
        alphabet_size: int = 0  # V: set from the data's alphabet
        hidden_size: int = 400  # Sec. 5.2: "three hidden layers of 400 LSTM cells"
        num_layers: int = 3
        num_components: int = 20  # M, Sec. 5.2
        window_components: int = 10  # K, Sec. 5.2
        window_initial_step: float = 0.08  # exp(kappa_hat) at init (~ characters per pen point)
        lstm_clip: float | None = 10.0  # Sec. 4.2
        output_clip: float | None = 100.0  # Sec. 4.2
        # on CUDA, training steps run layer 1 + window's step loops as CUDA graphs (step_graphs.py)
        cuda_graphs: bool = False

    kind = "synthesis"

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        if cfg.alphabet_size < 1:
            raise ValueError("graves_synthesis needs alphabet_size >= 1 (the data's alphabet)")
        if cfg.num_layers < 1:
            raise ValueError("graves_synthesis needs num_layers >= 1")
        self.cfg = cfg
        v, h = cfg.alphabet_size, cfg.hidden_size
        self.cell = nn.LSTMCell(3 + v, h)
        self.window = SoftWindow(SoftWindowConfig(h, cfg.window_components, cfg.window_initial_step))
        self.deep = None
        if cfg.num_layers > 1:
            self.deep = DeepLSTM(DeepLSTMConfig(h + v + 3, h, cfg.num_layers - 1, skip_size=3 + v,
                                                grad_clip=cfg.lstm_clip))
        self.mdn = MixtureDensity(MixtureDensityConfig(h * cfg.num_layers, cfg.num_components))
        self.step_graphs = StepGraphs() if cfg.cuda_graphs else None  # not a module: no weights, not saved

    def initial_state(self, like: torch.Tensor) -> SynthesisState:
        """Zeros for a batch like `like` (B, ...): same batch size, device and dtype."""
        cfg, b = self.cfg, like.shape[0]
        zeros = lambda *s: like.new_zeros(*s)  # noqa: E731
        return SynthesisState(zeros(b, cfg.hidden_size), zeros(b, cfg.hidden_size),
                              zeros(b, cfg.window_components), zeros(b, cfg.alphabet_size), None)

    def one_hot(self, text: torch.Tensor) -> torch.Tensor:
        """Character ids (B, U), -1 for padding -> c (B, U, V), padding rows all zero."""
        v = self.cfg.alphabet_size
        return F.one_hot(text.clamp(-1, v - 1) + 1, v + 1)[..., 1:].float()

    def forward(self, x: torch.Tensor, text: torch.Tensor, state: SynthesisState | None = None) -> SynthesisOutput:
        """x (B, T, 3) pen offsets, text (B, U) character ids (-1 = padding)."""
        c = self.one_hot(text).to(x.dtype)
        st = state or self.initial_state(x)
        u = positions(c.shape[1], x.device).to(x.dtype)
        cell, window = self.cell, self.window.linear
        rec = layer1_and_window(x, c, u, st.h1, st.c1, st.kappa, st.w,
                                Layer1Weights(cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh,
                                              window.weight, window.bias), self.cfg.lstm_clip,
                                self.step_graphs if x.is_cuda else None)
        h1, w_seq = rec.h, rec.w
        deep_state = None
        if self.deep is not None:  # layers 2..N over the whole sequence at once
            above, deep_state = self.deep(torch.cat([h1, w_seq, x], dim=-1), st.deep, skip=torch.cat([x, w_seq], dim=-1))
            h1 = torch.cat([h1, above], dim=-1)
        y_hat = _clamp_grad(self.mdn(h1), self.cfg.output_clip)
        return SynthesisOutput(y_hat, rec.phi, rec.kappa,
                               SynthesisState(rec.h[:, -1], rec.c, rec.kappa[:, -1], rec.w[:, -1], deep_state))
