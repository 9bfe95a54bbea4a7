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
        logdet = n * torch.log(s) + 2.0 * torch.log(chol_b.diagonal()).sum()
        quad = yy / s - c @ c
        return cls(logdet, quad, chol_b, c)

    def log_density(self, n: int) -> Tensor:
        return -0.5 * (n * math.log(2.0 * math.pi) + self.logdet + self.quad)
