"""Sparse variational GP regression (SGPR): Titsias' lower bound L, the upper bound U, predictions.

Burt, Rasmussen & van der Wilk 2019, Sec. 2-3. With Q_ff = K_fu K_uu^-1 K_uf and
t = tr(K_ff - Q_ff):

    L = log N(y | 0, Q_ff + s2 I) - t / (2 s2)                       (Titsias 2009, eq. 9)
    U = -N/2 log 2pi - 1/2 log|Q_ff + s2 I| - 1/2 y^T (Q_ff + (s2 + t) I)^-1 y   (Titsias 2014)

and L <= log p(y) <= U, so KL(q || posterior) = log p(y) - L <= U - L at any N. The formulas and
their O(N M^2) evaluation follow GPflow's `SGPR.elbo`, `SGPR.upper_bound` (the trace form of the
correction, with t floored at 0 as GPflow does) and `SGPR.predict_f` (gpflow/models/sgpr.py):
Cholesky L_uu of K_uu (linalg.cholesky_with_jitter), ONE triangular solve A = L_uu^-1 K_uf, then
only M x M matrices: P = A A^T, v = A y, B = I + P / s2. Nothing is N x N. For N in the millions,
`chunk_size` accumulates P and v over row blocks of x, so memory is O(chunk M + M^2).

Speed: P and v come from `_Projection`, an autograd Function whose backward is one N x M^2 product
(dK_uf = L_uu^-T (S A + g_v y^T) = (L_uu^-T S) A + (L_uu^-T g_v) y^T, S = G_P + G_P^T) and
O(M^3) work that gives dK_uu directly (not through autograd's Cholesky backward); autograd through
solve_triangular and A @ A^T would make three such products. The log-determinant and quadratic
form of B take closed-form gradients too (linalg._LogDetQuad), and every M x M or N x D step runs
on one thread: on a busy machine each hand-off to a second thread costs a scheduler time slice,
and autograd's some sixty small operations per step took about a third of its time there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from paperlab.engine.threads import single_threaded
from paperlab.errors import UserError
from paperlab.papers.sgpr.checks import as_data, as_inputs
from paperlab.papers.sgpr.kernels import Stationary
from paperlab.papers.sgpr.linalg import LowRankGaussian, cholesky_with_jitter
from paperlab.papers.sgpr.parameters import positive, positive_parameter


def _gram(a: Tensor, block: int = 128) -> Tensor:
    """A A^T from its lower block triangle, mirrored: about 5/8 of the products of a @ a.mT for
    M = 500 (torch has no symmetric rank-k update), measured 20% faster. The blocks are written
    in place (out=) and mirrored on one thread: small copies, where a second thread's hand-off
    costs more than the copy on a busy machine."""
    m = a.shape[0]
    p = torch.empty(m, m, dtype=a.dtype, device=a.device)
    for i in range(0, m, block):
        torch.mm(a[i:i + block], a[:i + block].mT, out=p[i:i + block, :i + block])
    with single_threaded():
        for i in range(block, m, block):
            p[:i, i:i + block] = p[i:i + block, :i].mT
    return p


class _Projection(torch.autograd.Function):
    """(P, v) = (A A^T, A y) with A = chol^-1 K_uf, from K_uu (M x M), K_fu (N x M), y and
    chol = cholesky(K_uu + jitter I), which the caller factorises (no gradient flows through chol).

    Taking K_fu row-major makes K_uf = K_fu^T column-major, the layout LAPACK's triangular solve
    works in, so the solve copies K_uf once and transposes nothing.

    The gradient in K_uu is taken directly, not through autograd's Cholesky backward: with
    dchol = chol Phi(chol^-1 dK chol^-T) (Phi: lower triangle, half diagonal; Murray 2016,
    "Differentiation of the Cholesky decomposition") and dA = -chol^-1 dchol A,
    dK_uu = -chol^-T Phi(S P + g_v v^T) chol^-1, symmetrised: two M x M solves and one product
    instead of some fifteen M x M operations.
    """

    @staticmethod
    def forward(ctx, kuu: Tensor, kfu: Tensor, y: Tensor, chol: Tensor) -> tuple[Tensor, Tensor]:
        a = torch.linalg.solve_triangular(chol, kfu.mT, upper=False)
        p, v = _gram(a), a @ y
        ctx.save_for_backward(chol, a, y, p, v)
        return p, v

    @staticmethod
    @once_differentiable
    def backward(ctx, g_p: Tensor, g_v: Tensor) -> tuple[Tensor | None, ...]:
        chol, a, y, p, v = ctx.saved_tensors
        d_kuu = d_kfu = d_y = None
        # the M x M work runs on one thread: on a busy machine every hand-off to a second thread
        # costs a scheduler time slice, more than these products take
        with single_threaded():
            s = g_p + g_p.mT
            # dA = S A + g_v y^T and dK_uf = L^-T dA = (L^-T S) A + (L^-T g_v) y^T: the solve acts
            # on the M x M factor, leaving one N x M^2 product
            u = torch.linalg.solve_triangular(chol.mT, g_v[:, None], upper=True)[:, 0]
            if ctx.needs_input_grad[0]:
                phi = torch.addr(s @ p, g_v, v).tril_()
                phi.diagonal().mul_(0.5)
                r = torch.linalg.solve_triangular(chol.mT, phi, upper=True)
                r = torch.linalg.solve_triangular(chol, r, upper=False, left=False)
                d_kuu = -0.5 * (r + r.mT)
            if ctx.needs_input_grad[1]:
                s_linv = torch.linalg.solve_triangular(chol, s, upper=False, left=False)
        if ctx.needs_input_grad[1]:
            # dK_fu = A^T (S L^-1) + y u^T; the rank-one term in place, no N x M outer product
            d_kfu = (a.mT @ s_linv).addr_(y, u)
        if ctx.needs_input_grad[2]:
            d_y = a.mT @ g_v
        return d_kuu, d_kfu, d_y, None


@dataclass
class GPRConfig:
    noise_variance: float = 0.1  # s2 of the Gaussian likelihood (our default; the paper fits it)
    jitter: float = 1e-8  # first relative jitter tried when Cholesky fails (GPyTorch's float64 default)
    jitter_tries: int = 6  # x10 per try, so at most 1e-3 * mean diagonal


@dataclass
class SGPRConfig(GPRConfig):
    chunk_size: int | None = None  # rows of x per block for P and v (memory); None: one block
    train_inducing: bool = False  # optimise Z with L; the paper keeps Z from a selection method


@dataclass
class _Fit:
    """What L, U and the predictions share: chol(K_uu), P = A A^T, v = A y, y^T y, t, N and
    log N(y | 0, Q_ff + s2 I)'s terms."""

    chol: Tensor
    p: Tensor
    v: Tensor
    yy: Tensor
    trace: Tensor
    n: int
    lower: LowRankGaussian


@dataclass
class SGPRBounds:
    elbo: Tensor  # L
    upper: Tensor  # U
    trace: Tensor  # t = tr(K_ff - Q_ff)


def _elbo(lower: LowRankGaussian, trace: Tensor, n: int, noise: Tensor) -> Tensor:
    return lower.log_density(n) - 0.5 * trace / noise


def collapsed_bounds(p: Tensor, v: Tensor, yy: Tensor, trace: Tensor, n: int, noise: Tensor) -> SGPRBounds:
    """L (Titsias 2009, eq. 9) and U (Titsias 2014) from P = A A^T, v = A y, y^T y, t and N: the
    O(M^3) end of SGPR.bounds, also used on the leading blocks of one P for nested inducing sets."""
    lower = LowRankGaussian.from_projection(p, v, yy, n, noise)
    # U: L's log-determinant, the quadratic form with the noise inflated by t (floored at 0
    # against rounding, as GPflow's upper_bound)
    inflated = LowRankGaussian.from_projection(p, v, yy, n, noise + trace.clamp_min(0.0))
    upper = -0.5 * (n * math.log(2.0 * math.pi) + lower.logdet + inflated.quad)
    return SGPRBounds(_elbo(lower, trace, n, noise), upper, trace)


class SGPR(nn.Module):
    """Titsias' collapsed SGPR with a zero mean, as GPflow's SGPR; data are passed to each call
    (elbo(x, y), upper_bound(x, y), predict_f(x, y, xs)) so one model serves a training loop."""

    Config = SGPRConfig

    def __init__(self, cfg: SGPRConfig, kernel: Stationary, inducing: Tensor) -> None:
        super().__init__()
        self.cfg = cfg
        self.kernel = kernel
        self.raw_noise = positive_parameter(cfg.noise_variance, "noise variance")
        z = as_inputs(inducing, "inducing inputs").clone()
        self.inducing = nn.Parameter(z, requires_grad=cfg.train_inducing)
        if cfg.chunk_size is not None and cfg.chunk_size < 1:
            raise UserError(f"chunk_size must be >= 1, got {cfg.chunk_size}", "pass chunk_size >= 1 or None")

    @property
    def noise_variance(self) -> Tensor:
        return positive(self.raw_noise)

    @property
    def num_inducing(self) -> int:
        return self.inducing.shape[0]

    def _project(self, kuu: Tensor, chol: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """P = A A^T and v = A y, summed over row blocks of x."""
        if self.num_inducing > x.shape[0]:
            raise UserError(f"{self.num_inducing} inducing points but the data have only "
                            f"N = {x.shape[0]} points", "use M <= N")
        step = x.shape[0] if self.cfg.chunk_size is None else self.cfg.chunk_size
        p = v = None
        for start in range(0, x.shape[0], step):
            kfu = self.kernel(x[start:start + step], self.inducing)
            # the gradient reaches K_uu through _Projection's own backward, not through chol
            pc, vc = _Projection.apply(kuu, kfu, y[start:start + step], chol.detach())
            p, v = (pc, vc) if p is None else (p + pc, v + vc)
        return p, v

    def _fit(self, x: Tensor, y: Tensor) -> _Fit:
        # the checks and the M x M steps on one thread (see _Projection.backward); the N x M ones
        # use them all
        with single_threaded():
            x, y = as_data(x, y)
            kuu = self.kernel(self.inducing)
            chol = cholesky_with_jitter(kuu, self.cfg.jitter, self.cfg.jitter_tries)
        p, v = self._project(kuu, chol, x, y)
        with single_threaded():
            yy = y @ y
            trace = self.kernel.diag(x).sum() - p.diagonal().sum()
            lower = LowRankGaussian.from_projection(p, v, yy, x.shape[0], self.noise_variance)
        return _Fit(chol, p, v, yy, trace, x.shape[0], lower)

    def elbo(self, x: Tensor, y: Tensor) -> Tensor:
        """Titsias' lower bound L."""
        fit = self._fit(x, y)
        return _elbo(fit.lower, fit.trace, fit.n, self.noise_variance)

    def bounds(self, x: Tensor, y: Tensor) -> SGPRBounds:
        """L, U and t from one O(N M^2) pass."""
        fit = self._fit(x, y)
        return collapsed_bounds(fit.p, fit.v, fit.yy, fit.trace, fit.n, self.noise_variance)

    def upper_bound(self, x: Tensor, y: Tensor) -> Tensor:
        return self.bounds(x, y).upper

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """The training objective L, so that module tools (torch.func.functional_call) apply."""
        return self.elbo(x, y)

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        """-L / N, the objective L-BFGS minimises (per point, so tolerances do not scale with N)."""
        return -self.elbo(x, y) / x.shape[0]

    def predict_f(self, x: Tensor, y: Tensor, xs: Tensor, full_cov: bool = False) -> tuple[Tensor, Tensor]:
        """Mean and variance (or covariance) of q(f(xs)), GPflow's SGPR.predict_f."""
        fit = self._fit(x, y)
        xs = as_inputs(xs, "xs")
        tmp1 = torch.linalg.solve_triangular(fit.chol, self.kernel(self.inducing, xs), upper=False)
        tmp2 = torch.linalg.solve_triangular(fit.lower.chol_b, tmp1, upper=False)
        mean = tmp2.mT @ fit.lower.c
        if full_cov:
            return mean, self.kernel(xs) + tmp2.mT @ tmp2 - tmp1.mT @ tmp1
        return mean, self.kernel.diag(xs) + (tmp2 * tmp2).sum(0) - (tmp1 * tmp1).sum(0)

    def predict_y(self, x: Tensor, y: Tensor, xs: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and variance of a new noisy observation at xs."""
        mean, var = self.predict_f(x, y, xs)
        return mean, var + self.noise_variance
