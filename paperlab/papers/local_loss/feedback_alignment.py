"""A linear layer trained by feedback alignment (Lillicrap et al. 2016), used by the backprop-free
prediction loss L_pred-bpf (Nøkland & Eidnes 2019, Sec. 3, "backprop free version"; reference code
anokland/local-loss, train.py, `LinearFAFunction` and `LinearFA`, lines 401-470).

The forward pass is an ordinary affine map x W^T + b. The backward pass sends the error to the
input through a fixed random matrix B instead of W, so no hidden layer ever receives the
transposed forward weights (the "weight transport" that makes backprop biologically implausible).
W and b themselves get their usual gradients, which only need local quantities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn


class _FeedbackAlignment(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, feedback: Tensor
    ) -> Tensor:
        ctx.save_for_backward(x, feedback)
        out = x @ weight.t()
        return out if bias is None else out + bias

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x, feedback = ctx.saved_tensors
        grad_x = grad_out @ feedback if ctx.needs_input_grad[0] else None
        grad_w = grad_out.t() @ x if ctx.needs_input_grad[1] else None
        grad_b = grad_out.sum(0) if ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b, None


@dataclass
class LinearFAConfig:
    in_features: int
    out_features: int
    bias: bool = True  # train.py:435, LinearFA(..., bias=True)


class LinearFA(nn.Module):
    """x W^T + b forward; the input's gradient is grad_out @ B with B fixed and random."""

    Config = LinearFAConfig

    def __init__(self, cfg: LinearFAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        bound = 1.0 / math.sqrt(cfg.in_features)  # train.py:456, the same range for W and B
        self.weight = nn.Parameter(
            torch.empty(cfg.out_features, cfg.in_features).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.zeros(cfg.out_features)) if cfg.bias else None
        # A buffer, not a parameter: it is saved with the model but no optimiser can move it.
        self.register_buffer(
            "feedback", torch.empty(cfg.out_features, cfg.in_features).uniform_(-bound, bound)
        )

    def forward(self, x: Tensor) -> Tensor:
        return _FeedbackAlignment.apply(x, self.weight, self.bias, self.feedback)
