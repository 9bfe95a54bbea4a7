"""The soft window of the handwriting synthesis network: Graves 2013, Sec. 5.1, Eq. 46-51.

A mixture of K Gaussian "window" functions over the character positions u = 1..U of the text c:

    (alpha_hat, beta_hat, kappa_hat) = W_{h^1 p} h^1_t + b_p                          (Eq. 50)
    alpha = exp(alpha_hat)   beta = exp(beta_hat)   kappa_t = kappa_{t-1} + exp(kappa_hat)   (Eq. 49-51)
    phi(t, u) = sum_k alpha_k exp(-beta_k (kappa_k - u)^2)                             (Eq. 46)
    w_t = sum_u phi(t, u) c_u                                                          (Eq. 47)

kappa only moves forward, so the window slides along the text as the pen writes. phi is also
evaluated at u = U + 1 (one past the last character): Sec. 5.3's stopping rule samples until
phi(t, U + 1) exceeds phi(t, u) for every u <= U.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class SoftWindowConfig:
    input_size: int  # width of h^1_t
    num_components: int = 10  # K, Sec. 5.2: "K = 10" mixture components in the window
    # exp(kappa_hat) at initialisation (the bias of kappa_hat = log of this): about the characters
    # written per pen point, so the window starts out moving at the pace of the text instead of
    # one character per point (an initialisation; the paper does not give one).
    initial_step: float = 0.08


class SoftWindow(nn.Module):
    """phi and w_t for one time step, from h^1_t and kappa_{t-1}."""

    def __init__(self, cfg: SoftWindowConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.linear = nn.Linear(cfg.input_size, 3 * cfg.num_components)
        with torch.no_grad():
            self.linear.bias[2 * cfg.num_components:].fill_(math.log(cfg.initial_step))

    def forward(self, h1: torch.Tensor, kappa: torch.Tensor, text: torch.Tensor, u: torch.Tensor,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """h1 (B, H), kappa_{t-1} (B, K), text one-hot c (B, U, V) with zero rows past each line's end,
        u = [1, ..., U+1] -> (w_t (B, V), kappa_t (B, K), phi(t, u) for u = 1..U+1 (B, U+1))."""
        return window_step(self.linear(h1), kappa, text, u)[:3]


def window_step(p: torch.Tensor, kappa: torch.Tensor, text: torch.Tensor, u: torch.Tensor,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 46-51 from the window layer's output p = (alpha_hat, beta_hat, kappa_hat) (B, 3K):
    (w_t, kappa_t, phi, exp(p) (B, 3K), the Gaussians exp(-beta (kappa - u)^2) (B, K, U+1)).
    The last two are what a backward pass needs (paperlab/papers/graves/handwriting/window_recurrence.py)."""
    e = torch.exp(p)
    alpha, beta, step = e.chunk(3, dim=-1)
    kappa = kappa + step
    gauss = torch.exp(-beta[..., None] * (kappa[..., None] - u) ** 2)
    phi = (alpha[..., None] * gauss).sum(-2)
    w = torch.bmm(phi[:, None, :-1], text).squeeze(1)
    return w, kappa, phi, e, gauss


def positions(text_len: int, device: torch.device | None = None) -> torch.Tensor:
    """u = 1, ..., U+1 (float): the characters and the position one past the end."""
    return torch.arange(1, text_len + 2, dtype=torch.float32, device=device)
