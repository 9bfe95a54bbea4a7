"""Gradients against finite differences (torch.autograd.gradcheck, float64): the hand-written
backward passes of the kernel matrix and of the projection, and L, U and log Z end to end."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from paperlab.papers.sgpr.exact import GPR, GPRConfig
from paperlab.papers.sgpr.kernels import build_kernel
from paperlab.papers.sgpr.linalg import _LogDetQuad
from paperlab.papers.sgpr.sgpr import SGPR, SGPRConfig, _Projection


def data(n: int = 9, m: int = 4, dim: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    y = torch.sin(x.sum(1)) + 0.2 * torch.randn(n, generator=gen, dtype=torch.float64)
    z = torch.randn(m, dim, generator=gen, dtype=torch.float64)
    return x, y, z


class UpperBound(nn.Module):
    def __init__(self, model: SGPR) -> None:
        super().__init__()
        self.model = model

    def forward(self, x, y):
        return self.model.upper_bound(x, y)


def check_through_parameters(module: nn.Module, x, y) -> None:
    """gradcheck of module(x, y) in all its raw parameters (inducing inputs included) and x, y."""
    names = list(dict(module.named_parameters()))
    values = [p.detach().clone().requires_grad_() for p in module.parameters()]
    xg, yg = x.clone().requires_grad_(), y.clone().requires_grad_()

    def f(xv, yv, *params):
        return functional_call(module, dict(zip(names, params, strict=True)), (xv, yv))

    assert torch.autograd.gradcheck(f, (xg, yg, *values))


@pytest.mark.parametrize("kernel", ["se", "matern32", "matern52"])
def test_kernel_matrix_gradients(kernel):
    k = build_kernel(kernel, 1.3, (0.7, 1.1))
    x1, _, x2 = data(5, 4)
    names = list(dict(k.named_parameters()))

    def cross(a, b, *params):
        return functional_call(k, dict(zip(names, params, strict=True)), (a, b))

    def square(a, *params):  # includes r = 0 on the diagonal, where the Matern slope is special
        return functional_call(k, dict(zip(names, params, strict=True)), (a,))

    params = [p.detach().clone().requires_grad_() for p in k.parameters()]
    a, b = x1.requires_grad_(), x2.requires_grad_()
    assert torch.autograd.gradcheck(cross, (a, b, *params))
    assert torch.autograd.gradcheck(square, (a, *params))


def test_projection_gradients():
    gen = torch.Generator().manual_seed(1)
    m, n = 4, 7
    w = torch.randn(m, m, generator=gen, dtype=torch.float64)
    kuu = (w @ w.mT + m * torch.eye(m, dtype=torch.float64)).requires_grad_()
    kfu = torch.randn(n, m, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randn(n, generator=gen, dtype=torch.float64, requires_grad=True)

    def project(kuu, kfu, y):
        # K_uu kept symmetric (the Cholesky reads one triangle) and refactorised at each
        # perturbation, as SGPR does
        kuu = 0.5 * (kuu + kuu.mT)
        return _Projection.apply(kuu, kfu, y, torch.linalg.cholesky(kuu.detach()))

    assert torch.autograd.gradcheck(project, (kuu, kfu, y))


@pytest.mark.parametrize("kernel", ["se", "matern52"])
def test_elbo_and_upper_bound_gradients(kernel):
    x, y, z = data()
    cfg = SGPRConfig(noise_variance=0.3, train_inducing=True)
    model = SGPR(cfg, build_kernel(kernel, 1.2, (0.9, 1.3)), z)
    check_through_parameters(model, x, y)
    check_through_parameters(UpperBound(model), x, y)


def test_chunked_elbo_gradients():
    x, y, z = data(n=11)
    model = SGPR(SGPRConfig(noise_variance=0.3, chunk_size=4, train_inducing=True),
                 build_kernel("se", 1.0, 0.8), z)
    check_through_parameters(model, x, y)


def test_exact_log_evidence_gradients():
    x, y, _ = data(n=8)
    check_through_parameters(GPR(GPRConfig(noise_variance=0.2), build_kernel("matern32", 0.9, (1.0, 0.6))), x, y)


def test_logdet_quad_gradients():
    gen = torch.Generator().manual_seed(2)
    m = 5
    w = torch.randn(m, m, generator=gen, dtype=torch.float64)
    p = (w @ w.mT).requires_grad_()
    v = torch.randn(m, generator=gen, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)

    def terms(p, v, s):
        # P kept symmetric (the Cholesky reads one triangle); chol_b and c refactorised at each
        # perturbation, as LowRankGaussian.from_projection does
        p = 0.5 * (p + p.mT)
        chol_b = torch.linalg.cholesky(torch.eye(m, dtype=p.dtype) + p.detach() / s.detach())
        c = torch.linalg.solve_triangular(chol_b, v.detach()[:, None], upper=False)[:, 0] / s.detach()
        return _LogDetQuad.apply(p, v, s, chol_b, c)

    assert torch.autograd.gradcheck(terms, (p, v, s))
