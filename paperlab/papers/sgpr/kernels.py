"""Stationary covariance functions: squared exponential (ARD) and Matern 3/2, 5/2.

Burt, Rasmussen & van der Wilk 2019 state their headline rate for the squared exponential (SE)
kernel with Gaussian inputs (Sec. 4.1) and contrast it with the Matern family, whose eigenvalues
decay only polynomially (Sec. 4.2). The forms are Rasmussen & Williams 2006 (GPML):

    SE          k(r) = v exp(-r^2 / 2)                          GPML eq. 4.9
    Matern 3/2  k(r) = v (1 + sqrt(3) r) exp(-sqrt(3) r)         GPML eq. 4.17
    Matern 5/2  k(r) = v (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)   GPML eq. 4.17

with r the distance after dividing each input dimension by its lengthscale. Variance and
lengthscales are positive parameters (softplus of a raw value, as in GPflow and GPyTorch). One
lengthscale is shared by all dimensions (isotropic); D lengthscales make the kernel ARD, the
convention of GPflow's `lengthscales`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from paperlab.engine.threads import single_threaded
from paperlab.errors import UserError
from paperlab.papers.sgpr.parameters import positive, positive_parameter


@dataclass
class KernelConfig:
    variance: float = 1.0  # signal variance v; 1 for the paper's synthetic data (our choice)
    lengthscales: tuple[float, ...] = (1.0,)  # one value (isotropic) or one per input dimension (ARD)


@dataclass
class SEConfig(KernelConfig):
    """Squared exponential (RBF), GPML eq. 4.9."""


@dataclass
class Matern32Config(KernelConfig):
    """Matern nu = 3/2, GPML eq. 4.17."""


@dataclass
class Matern52Config(KernelConfig):
    """Matern nu = 5/2, GPML eq. 4.17."""


SMALL = 1024 * 1024  # kernel matrices up to this many entries are differentiated on one thread


def _distance_operands(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """[a, |a|^2, 1] and [-2 b, 1, |b|^2], whose product is |a_i - b_j|^2 (GPyTorch's trick):
    one pass over the N1 x N2 output instead of four."""
    ones_a = torch.ones_like(a[:, :1])
    ones_b = torch.ones_like(b[:, :1])
    left = torch.cat([a, (a * a).sum(-1, keepdim=True), ones_a], dim=1)
    right = torch.cat([-2.0 * b, ones_b, (b * b).sum(-1, keepdim=True)], dim=1)
    return left, right


class _KernelMatrix(torch.autograd.Function):
    """K = v * profile(r2), r2 = |a_i - b_j|^2 with a = x1 / l, b = x2 / l, with a hand-written
    backward.

    K_uf is the largest tensor of SGPR (M x N) and autograd through the elementwise chain makes
    some twenty passes over it, each allocating M x N. Here K is built in place and saved, and
    with Gk = G * K: dv = sum(Gk) / v, G_r2 = dL/dr2 from the kernel (for SE, -Gk / 2 in place),
    and da, db with the row and column sums from ONE thin product each:
    da = 2 (a rowsum(G_r2) - G_r2 b), db = 2 (b colsum(G_r2) - G_r2^T a); then dx1 = da / l and
    dl = -(sum_i da_i a_i + sum_j db_j b_j) / l. The N x D steps (the scaling, the operands, da
    and dl) run on one thread: on a busy machine each hand-off to a second thread costs a
    scheduler time slice, more than their work, and autograd through x / l would add a dozen.
    The caller must not modify K in place (autograd checks this).
    """

    @staticmethod
    def forward(ctx, x1: Tensor, x2: Tensor, lengthscales: Tensor, variance: Tensor,
                kernel: Stationary) -> Tensor:
        with single_threaded():
            a, b = x1 / lengthscales, x2 / lengthscales
            left, right = _distance_operands(a, b)
        # rounding can make the product slightly negative, hence the clamp
        r2 = (left @ right.mT).clamp_min_(0.0)
        k = kernel.profile(r2).mul_(variance)
        ctx.kernel = kernel
        ctx.save_for_backward(a, b, lengthscales, variance, r2 if kernel.needs_r2 else None, k)
        return k

    @staticmethod
    @once_differentiable
    def backward(ctx, g: Tensor) -> tuple[Tensor | None, ...]:
        # a small K (K_uu) entirely on one thread, for the same reason as the N x D steps
        with single_threaded() if g.numel() <= SMALL else contextlib.nullcontext():
            return _KernelMatrix._backward(ctx, g)

    @staticmethod
    def _backward(ctx, g: Tensor) -> tuple[Tensor | None, ...]:
        a, b, lengthscales, variance, r2, k = ctx.saved_tensors
        need_x1, need_x2, need_l, need_v = ctx.needs_input_grad[:4]
        gk = g * k
        d_variance = gk.sum() / variance if need_v else None
        g_r2 = ctx.kernel.r2_gradient(g, gk, r2, variance)
        h_a = g_r2 @ torch.cat([b, torch.ones_like(b[:, :1])], dim=1) if need_x1 or need_l else None
        # [a, 1]^T G_r2 rather than G_r2^T [a, 1]: BLAS reduces over N three times faster so
        h_b = (torch.cat([a, torch.ones_like(a[:, :1])], dim=1).mT @ g_r2).mT if need_x2 or need_l else None
        d_x1 = d_x2 = d_l = None
        with single_threaded():
            d_a = None if h_a is None else 2.0 * (a * h_a[:, -1:] - h_a[:, :-1])
            d_b = None if h_b is None else 2.0 * (b * h_b[:, -1:] - h_b[:, :-1])
            if need_x1:
                d_x1 = d_a / lengthscales
            if need_x2:
                d_x2 = d_b / lengthscales
            if need_l:
                d_l = -((d_a * a).sum(0) + (d_b * b).sum(0)) / lengthscales
                if lengthscales.numel() == 1:  # one lengthscale shared by all dimensions
                    d_l = d_l.sum().reshape(lengthscales.shape)
        return d_x1, d_x2, d_l, d_variance, None


class Stationary(nn.Module):
    """k(x, x') = v * profile(r2), r2 = |x - x'|^2 after dividing by the lengthscales; subclasses
    give the profile and dL/dr2 for the backward pass."""

    Config = KernelConfig
    needs_r2 = True  # whether r2_gradient reads r2; if not, profile may overwrite it

    def __init__(self, cfg: KernelConfig) -> None:
        super().__init__()
        lengthscales = cfg.lengthscales
        if not isinstance(lengthscales, Sequence):
            lengthscales = (lengthscales,)
        self.raw_variance = positive_parameter(cfg.variance, "kernel variance")
        self.raw_lengthscales = positive_parameter(tuple(lengthscales), "lengthscale")

    @property
    def variance(self) -> Tensor:
        return positive(self.raw_variance)

    @property
    def lengthscales(self) -> Tensor:
        return positive(self.raw_lengthscales)

    def profile(self, r2: Tensor) -> Tensor:
        raise NotImplementedError

    def r2_gradient(self, g: Tensor, gk: Tensor, r2: Tensor | None, variance: Tensor) -> Tensor:
        """dL/dr2 = g * v * profile'(r2), given g = dL/dK and gk = g * K (which it may overwrite)."""
        raise NotImplementedError

    def _check_dims(self, x: Tensor) -> None:
        ls = self.raw_lengthscales
        if x.ndim != 2 or ls.numel() not in (1, x.shape[1]):
            raise UserError(f"inputs of shape {tuple(x.shape)} do not match {ls.numel()} lengthscales",
                            "pass x as an (N, D) array and one lengthscale or D of them")

    def forward(self, x1: Tensor, x2: Tensor | None = None) -> Tensor:
        """The (N1, N2) covariance matrix k(x1, x2); k(x1, x1) when x2 is None."""
        self._check_dims(x1)
        if x2 is not None:
            self._check_dims(x2)
        return _KernelMatrix.apply(x1, x1 if x2 is None else x2, self.lengthscales, self.variance, self)

    def diag(self, x: Tensor) -> Tensor:
        """The diagonal k(x_i, x_i) = v of a stationary kernel, without the N x N matrix."""
        self._check_dims(x)
        return self.variance.expand(x.shape[0])


class SquaredExponential(Stationary):
    Config = SEConfig
    needs_r2 = False

    def profile(self, r2: Tensor) -> Tensor:
        # in place: K_uf is the largest tensor, and the backward needs only the profile
        return r2.mul_(-0.5).exp_()

    def r2_gradient(self, g: Tensor, gk: Tensor, r2: Tensor | None, variance: Tensor) -> Tensor:
        # v profile'(r2) = -K / 2
        return gk.mul_(-0.5)


class Matern32(Stationary):
    Config = Matern32Config

    def profile(self, r2: Tensor) -> Tensor:
        sr = math.sqrt(3.0) * torch.sqrt(r2)
        return (1.0 + sr) * torch.exp(-sr)

    def r2_gradient(self, g: Tensor, gk: Tensor, r2: Tensor | None, variance: Tensor) -> Tensor:
        # d/dr2 of (1 + s) e^-s with s = sqrt(3 r2) is -3/2 e^-s: finite at r = 0, unlike
        # autograd's route through sqrt
        return torch.exp(-math.sqrt(3.0) * torch.sqrt(r2)).mul_(g).mul_(-1.5 * variance)


class Matern52(Stationary):
    Config = Matern52Config

    def profile(self, r2: Tensor) -> Tensor:
        sr = math.sqrt(5.0) * torch.sqrt(r2)
        return (1.0 + sr + sr * sr / 3.0) * torch.exp(-sr)

    def r2_gradient(self, g: Tensor, gk: Tensor, r2: Tensor | None, variance: Tensor) -> Tensor:
        # d/dr2 of (1 + s + s^2/3) e^-s with s = sqrt(5 r2) is -5/6 (1 + s) e^-s
        sr = math.sqrt(5.0) * torch.sqrt(r2)
        return (1.0 + sr).mul_(torch.exp(-sr)).mul_(g).mul_(-5.0 / 6.0 * variance)


KERNELS: dict[str, type[Stationary]] = {"matern32": Matern32, "matern52": Matern52,
                                        "se": SquaredExponential}


def build_kernel(name: str, variance: float = 1.0,
                 lengthscales: float | Sequence[float] = 1.0) -> Stationary:
    """The kernel called `name` (se, matern32, matern52) with these hyperparameters."""
    if name not in KERNELS:
        raise UserError(f"unknown kernel {name!r}", f"choose one of: {', '.join(sorted(KERNELS))}")
    cls = KERNELS[name]
    ls = tuple(lengthscales) if isinstance(lengthscales, Sequence) else (float(lengthscales),)
    return cls(cls.Config(variance=variance, lengthscales=ls))
