"""Exact GP regression: the evidence log Z = log N(y | 0, K_ff + s2 I) and the posterior.

Burt, Rasmussen & van der Wilk 2019 measure the sparse approximation by KL(q || p) = log Z - L
(Sec. 2), so log Z is needed exactly wherever N allows; GPML Algorithm 2.1 (Rasmussen & Williams
2006) via one Cholesky of K_ff + s2 I. It costs O(N^3) time and holds two to three N x N float64
matrices (8 N^2 bytes each: 3.2 GB at N = 20,000; more with gradients), which sets the "tens of
thousands" limit. The hyperparameters fitted on log Z (training.fit) are what the paper holds
fixed while M varies.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from paperlab.papers.sgpr.checks import as_data, as_inputs
from paperlab.papers.sgpr.kernels import Stationary
from paperlab.papers.sgpr.linalg import cholesky_with_jitter
from paperlab.papers.sgpr.parameters import positive, positive_parameter
from paperlab.papers.sgpr.sgpr import GPRConfig


class GPR(nn.Module):
    """Exact GP regression with a zero mean and Gaussian noise (GPflow's GPR)."""

    Config = GPRConfig

    def __init__(self, cfg: GPRConfig, kernel: Stationary) -> None:
        super().__init__()
        self.cfg = cfg
        self.kernel = kernel
        self.raw_noise = positive_parameter(cfg.noise_variance, "noise variance")

    @property
    def noise_variance(self) -> Tensor:
        return positive(self.raw_noise)

    def _chol(self, x: Tensor) -> Tensor:
        # clone, then s2 on the diagonal in place: K + s2 * eye(N) would make two N x N matrices
        # (and the kernel keeps K for its backward, so K itself must stay as it is)
        k = self.kernel(x).clone()
        k.diagonal().add_(self.noise_variance)
        return cholesky_with_jitter(k, self.cfg.jitter, self.cfg.jitter_tries, what="K_ff + s2 I")

    def log_marginal_likelihood(self, x: Tensor, y: Tensor) -> Tensor:
        """log Z = -1/2 y^T (K + s2 I)^-1 y - sum log diag(chol) - N/2 log 2pi (GPML Alg. 2.1)."""
        x, y = as_data(x, y)
        chol = self._chol(x)
        alpha = torch.linalg.solve_triangular(chol, y[:, None], upper=False)[:, 0]
        n = x.shape[0]
        return -0.5 * alpha @ alpha - torch.log(chol.diagonal()).sum() - 0.5 * n * math.log(2 * math.pi)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """The training objective log Z, so that module tools (torch.func.functional_call) apply."""
        return self.log_marginal_likelihood(x, y)

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        """-log Z / N, the objective L-BFGS minimises."""
        return -self.log_marginal_likelihood(x, y) / x.shape[0]

    def predict_f(self, x: Tensor, y: Tensor, xs: Tensor, full_cov: bool = False) -> tuple[Tensor, Tensor]:
        """Posterior mean and variance (or covariance) of f(xs) (GPML eqs. 2.25-2.26)."""
        x, y = as_data(x, y)
        xs = as_inputs(xs, "xs")
        chol = self._chol(x)
        w = torch.linalg.solve_triangular(chol, self.kernel(x, xs), upper=False)
        alpha = torch.linalg.solve_triangular(chol, y[:, None], upper=False)[:, 0]
        mean = w.mT @ alpha
        if full_cov:
            return mean, self.kernel(xs) - w.mT @ w
        return mean, self.kernel.diag(xs) - (w * w).sum(0)
