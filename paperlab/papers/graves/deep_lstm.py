"""Deep LSTM with skip connections: Graves 2013, "Generating Sequences With Recurrent Neural
Networks", Sec. 2, Fig. 1 and Eq. 1-3.

    h^1_t = H(W_{i h^1} x_t + W_{h^1 h^1} h^1_{t-1} + b^1)
    h^n_t = H(W_{i h^n} x_t + W_{h^{n-1} h^n} h^{n-1}_t + W_{h^n h^n} h^n_{t-1} + b^n)
    y_t   = Y(b_y + sum_n W_{h^n y} h^n_t)

"Skip connections" from the input to every hidden layer and from every hidden layer to the
output ease training deep networks. Each layer is an `nn.LSTM` run over the whole sequence at
once (fused kernels), so the stack costs what a plain `nn.LSTM` stack of the same sizes costs.
The output is the concatenation of all layers' hidden sequences; the caller's output layer
(softmax over characters, mixture density network, ...) maps it to y_t.

Derivative clipping (Graves Sec. 2, Sec. 4: "the LSTM derivatives were clipped in the range
[-10, 10]"): `grad_clip` clamps, element-wise, the derivative of the loss with respect to each
layer's hidden outputs h^n_t on the way back. (rnnlib clipped inside the cell; cuDNN's fused
LSTM exposes no cell internals, and clipping the derivatives arriving at every h^n_t is the
standard reimplementation of the same safeguard.)

Shared by the text (Sec. 3) and handwriting (Sec. 4-5) models: one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

LSTMState = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class DeepLSTMConfig:
    input_size: int
    hidden_size: int = 400
    num_layers: int = 3
    skip_size: int | None = None  # width of what layers 2..N get beside the layer below; None: input_size
    grad_clip: float | None = None  # clamp dL/dh^n_t to [-grad_clip, grad_clip]


class DeepLSTM(nn.Module):
    """A stack of LSTM layers with input->every-layer and every-layer->output skip connections.

    Layer 1 reads x_t; layer n > 1 reads [h^{n-1}_t, s_t], where the skip input s_t is x_t itself
    (Eq. 2) unless the caller passes another one. The synthesis network (Sec. 5.1) builds its
    first layer and window itself and uses this stack for layers 2..N with
    x_t = [h^1_t, w_t, x_t] and s_t = [x_t, w_t]: "the window vectors are fed to all layers"."""

    def __init__(self, cfg: DeepLSTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        skip = cfg.input_size if cfg.skip_size is None else cfg.skip_size
        self.layers = nn.ModuleList(
            nn.LSTM(cfg.input_size if n == 0 else cfg.hidden_size + skip, cfg.hidden_size, batch_first=True)
            for n in range(cfg.num_layers)
        )

    @property
    def output_size(self) -> int:
        """Width of the concatenated hidden sequences fed to the output layer (Eq. 3)."""
        return self.cfg.hidden_size * self.cfg.num_layers

    def forward(
        self, x: torch.Tensor, state: LSTMState | None = None, skip: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, LSTMState]:
        """x: (B, T, input_size) -> (all layers' hidden sequences concatenated (B, T, N*hidden),
        the final per-layer (h, c) state to carry into the next segment (truncated BPTT))."""
        skip = x if skip is None else skip
        outputs: list[torch.Tensor] = []
        new_state: LSTMState = []
        h = x
        for n, lstm in enumerate(self.layers):
            inp, s = x if n == 0 else torch.cat([h, skip], dim=-1), None if state is None else state[n]
            if inp.shape[1] == 1 and not torch.is_grad_enabled():
                h, s = lstm_step(lstm, inp, s)  # sampling one step at a time
            else:
                h, s = lstm(inp, s)
            if self.cfg.grad_clip is not None and h.requires_grad:
                h.register_hook(lambda g, c=self.cfg.grad_clip: g.clamp(-c, c))
            outputs.append(h)
            new_state.append(s)
        return torch.cat(outputs, dim=-1), new_state


def lstm_step(lstm: nn.LSTM, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None,
              ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """`lstm(x, state)` for a single time step x (B, 1, in) of a one-layer batch-first nn.LSTM,
    through the fused cell kernel: the same numbers without nn.LSTM's per-call set-up, which
    costs about 3x the step itself when sampling point by point."""
    if state is None:
        zeros = x.new_zeros(1, x.shape[0], lstm.hidden_size)
        state = (zeros, zeros)
    h, c = torch.lstm_cell(x[:, 0], (state[0][0], state[1][0]), lstm.weight_ih_l0, lstm.weight_hh_l0,
                           lstm.bias_ih_l0, lstm.bias_hh_l0)
    return h[:, None], (h[None], c[None])


def detach_state(state: LSTMState) -> LSTMState:
    """Cut the graph between segments (truncated BPTT) while keeping the values."""
    return [(h.detach(), c.detach()) for h, c in state]
