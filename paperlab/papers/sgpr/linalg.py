"""Cholesky with adaptive jitter, and the Gaussian log-density terms both SGPR bounds share.

Kernel matrices of nearby inputs are numerically singular. As GPyTorch's `psd_safe_cholesky`
(linear_operator/utils/cholesky.py: plain first, then jitter 1e-8 for float64, x10 per retry) does,
the plain factorisation is tried first, so a well-conditioned matrix is factorised exactly, and
jitter is only added (growing x10) when it fails; here the jitter is relative to the mean
diagonal, so it does not depend on the kernel's scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from paperlab.engine.threads import single_threaded
from paperlab.errors import UserError


def cholesky_with_jitter(k: Tensor, jitter: float = 1e-8, tries: int = 6, what: str = "K_uu") -> Tensor:
    """Lower Cholesky factor of k, adding jitter * mean(diag) * 10^i to the diagonal (i = 0..tries-1)
    only when the plain factorisation fails; UserError when none succeeds."""
    chol, info = torch.linalg.cholesky_ex(k)
    if int(info) == 0:
        return chol
    eye = torch.eye(k.shape[-1], dtype=k.dtype, device=k.device)
    scale = float(k.diagonal().mean().detach())
    added = 0.0
    for i in range(tries):
        added = jitter * 10.0**i * scale
        chol, info = torch.linalg.cholesky_ex(k + added * eye)
        if int(info) == 0:
            return chol
    raise UserError(f"{what} ({k.shape[-1]}x{k.shape[-1]}) is not positive definite even with "
                    f"jitter {added:.1e} on its diagonal",
                    "remove duplicate inducing inputs, use fewer inducing points or a longer lengthscale")


@dataclass
class LowRankGaussian:
    """log N(y | 0, A^T A + s I) from P = A A^T (M x M), v = A y, y^T y and N, without the N x N
    matrix (matrix determinant lemma and Woodbury, as GPflow's SGPR.elbo)."""

    logdet: Tensor  # log |A^T A + s I|
    quad: Tensor  # y^T (A^T A + s I)^-1 y
    chol_b: Tensor  # Cholesky factor of B = I + P / s
    c: Tensor  # chol_b^-1 v / s, which the predictive mean reuses

    @classmethod
    def from_projection(cls, p: Tensor, v: Tensor, yy: Tensor, n: int, s: Tensor) -> LowRankGaussian:
        eye = torch.eye(p.shape[0], dtype=p.dtype, device=p.device)
        # B's eigenvalues are >= 1: no jitter needed
        chol_b = torch.linalg.cholesky(eye + p / s)
        c = torch.linalg.solve_triangular(chol_b, v[:, None], upper=False)[:, 0] / s
        # chol_b and c keep their graphs for the predictions; the bound's terms take the
        # closed-form gradient of _LogDetQuad instead of autograd's Cholesky backward
        logdet_b, cc = _LogDetQuad.apply(p, v, s, chol_b.detach(), c.detach())
        logdet = n * torch.log(s) + logdet_b
        quad = yy / s - cc
        return cls(logdet, quad, chol_b, c)

    def log_density(self, n: int) -> Tensor:
        return -0.5 * (n * math.log(2.0 * math.pi) + self.logdet + self.quad)


class _LogDetQuad(torch.autograd.Function):
    """(log|B|, v^T B^-1 v / s^2) with B = I + P / s, from P, v, s and the caller's
    chol_b = cholesky(B) and c = chol_b^-1 v / s (no gradient flows through these two).

    Closed-form gradients (matrix cookbook: d log|B| = tr(B^-1 dB), d B^-1 = -B^-1 dB B^-1),
    with dB = dP / s - P ds / s^2, w = B^-1 v / s = chol_b^-T c and tr(B^-1 P) = s (M - tr B^-1):
      log|B|:  d/dP = B^-1 / s,       d/ds = (tr B^-1 - M) / s
      c^T c:   d/dP = -w w^T / s,     d/dv = 2 w / s,     d/ds = w^T P w / s^2 - 2 c^T c / s
    One Cholesky inverse in place of autograd's Cholesky and solve backward (some twenty M x M
    operations), run on one thread as SGPR's other M x M steps.
    """

    @staticmethod
    def forward(ctx, p: Tensor, v: Tensor, s: Tensor, chol_b: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        logdet_b = 2.0 * torch.log(chol_b.diagonal()).sum()
        cc = c @ c
        ctx.save_for_backward(p, s, chol_b, c, cc)
        return logdet_b, cc

    @staticmethod
    @once_differentiable
    def backward(ctx, g_logdet: Tensor, g_cc: Tensor) -> tuple[Tensor | None, ...]:
        p, s, chol_b, c, cc = ctx.saved_tensors
        with single_threaded():
            b_inv = torch.cholesky_inverse(chol_b)
            w = torch.linalg.solve_triangular(chol_b.mT, c[:, None], upper=True)[:, 0]
            d_p = (g_logdet / s) * b_inv - (g_cc / s) * torch.outer(w, w)
            d_v = (2.0 * g_cc / s) * w
            d_s = (g_logdet * (b_inv.diagonal().sum() - p.shape[0]) / s
                   + g_cc * (w @ p @ w / s**2 - 2.0 * cc / s))
        return d_p, d_v, d_s.reshape(s.shape), None, None
