"""SGPR's L and U, the exact evidence and the predictions, against dense direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from paperlab.papers.sgpr.exact import GPR, GPRConfig
from paperlab.papers.sgpr.kernels import build_kernel
from paperlab.papers.sgpr.sgpr import SGPR, SGPRConfig
from paperlab.papers.sgpr.theory import kl_bound_from_trace, trace_for_kl


def problem(seed: int, n: int = 40, m: int = 7, dim: int = 2, kernel: str = "se"):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    y = torch.sin(2 * x.sum(1)) + 0.3 * torch.randn(n, generator=gen, dtype=torch.float64)
    z = torch.randn(m, dim, generator=gen, dtype=torch.float64)
    k = build_kernel(kernel, 1.3, [0.8, 1.4][:dim])
    return x, y, z, k


def dense_reference(k, noise: float, x, y, z, xs):
    """The formulas of the task, written with N x N matrices and numpy's dense solvers."""
    with torch.no_grad():
        kff, kuf, kuu = k(x).numpy(), k(z, x).numpy(), k(z).numpy()
        ksu, kss = k(xs, z).numpy(), k(xs).numpy()
    yv, n = y.numpy(), x.shape[0]
    q = kuf.T @ np.linalg.solve(kuu, kuf)
    t = np.trace(kff - q)
    c = q + noise * np.eye(n)
    lower = multivariate_normal(np.zeros(n), c).logpdf(yv) - t / (2 * noise)
    inflated = q + (noise + t) * np.eye(n)
    upper = (-0.5 * n * math.log(2 * math.pi) - 0.5 * np.linalg.slogdet(c)[1]
             - 0.5 * yv @ np.linalg.solve(inflated, yv))
    log_z = multivariate_normal(np.zeros(n), kff + noise * np.eye(n)).logpdf(yv)
    qsf = ksu @ np.linalg.solve(kuu, kuf)
    mean = qsf @ np.linalg.solve(c, yv)
    cov = kss - qsf @ np.linalg.solve(c, qsf.T)
    return {"elbo": lower, "upper": upper, "trace": t, "log_z": log_z, "mean": mean, "cov": cov}


@pytest.mark.parametrize("kernel", ["se", "matern32", "matern52"])
@pytest.mark.parametrize("seed", [0, 1])
def test_bounds_and_predictions_match_dense_formulas(kernel, seed):
    x, y, z, k = problem(seed, kernel=kernel)
    xs = torch.randn(5, 2, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    noise = 0.2
    ref = dense_reference(k, noise, x, y, z, xs)
    model = SGPR(SGPRConfig(noise_variance=noise), k, z)
    with torch.no_grad():
        b = model.bounds(x, y)
        mean, var = model.predict_f(x, y, xs)
        _, cov = model.predict_f(x, y, xs, full_cov=True)
        ymean, yvar = model.predict_y(x, y, xs)
    assert float(b.elbo) == pytest.approx(ref["elbo"], rel=1e-10)
    assert float(b.upper) == pytest.approx(ref["upper"], rel=1e-10)
    assert float(b.trace) == pytest.approx(ref["trace"], rel=1e-9)
    np.testing.assert_allclose(mean.numpy(), ref["mean"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(var.numpy(), np.diag(ref["cov"]), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(cov.numpy(), ref["cov"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(yvar.numpy(), var.numpy() + noise, rtol=1e-12)
    np.testing.assert_allclose(ymean.numpy(), mean.numpy(), rtol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_lower_bound_evidence_upper_bound_are_ordered(seed):
    rng = np.random.default_rng(seed)
    x, y, z, k = problem(seed, n=int(rng.integers(20, 60)), m=int(rng.integers(2, 12)),
                         kernel=["se", "matern32", "matern52"][seed % 3])
    noise = float(rng.uniform(0.01, 1.0))
    with torch.no_grad():
        b = SGPR(SGPRConfig(noise_variance=noise), k, z).bounds(x, y)
        log_z = float(GPR(GPRConfig(noise_variance=noise), k).log_marginal_likelihood(x, y))
    assert float(b.elbo) < log_z < float(b.upper)
    # and the paper's closed-form bound on U - L from t alone holds
    assert float(b.upper - b.elbo) <= kl_bound_from_trace(float(b.trace), noise, float(y @ y))


def test_kl_vanishes_when_inducing_inputs_are_the_training_inputs():
    gen = torch.Generator().manual_seed(3)
    x = 3.0 * torch.rand(25, 1, generator=gen, dtype=torch.float64)
    y = torch.cos(2 * x[:, 0]) + 0.1 * torch.randn(25, generator=gen, dtype=torch.float64)
    k = build_kernel("se", 1.0, 0.3)
    with torch.no_grad():
        b = SGPR(SGPRConfig(noise_variance=0.05), k, x).bounds(x, y)
        log_z = float(GPR(GPRConfig(noise_variance=0.05), k).log_marginal_likelihood(x, y))
    assert abs(log_z - float(b.elbo)) < 1e-8
    assert abs(float(b.trace)) < 1e-8
    assert float(b.upper - b.elbo) < 1e-8


def test_exact_evidence_and_posterior_match_dense_computation():
    x, y, _, k = problem(4, n=30)
    xs = torch.randn(6, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    noise = 0.3
    gpr = GPR(GPRConfig(noise_variance=noise), k)
    with torch.no_grad():
        kff, ksf, kss = k(x).numpy(), k(xs, x).numpy(), k(xs).numpy()
        log_z = float(gpr.log_marginal_likelihood(x, y))
        mean, cov = gpr.predict_f(x, y, xs, full_cov=True)
        _, var = gpr.predict_f(x, y, xs)
    c = kff + noise * np.eye(30)
    assert log_z == pytest.approx(multivariate_normal(np.zeros(30), c).logpdf(y.numpy()), rel=1e-12)
    np.testing.assert_allclose(mean.numpy(), ksf @ np.linalg.solve(c, y.numpy()), rtol=1e-9)
    ref_cov = kss - ksf @ np.linalg.solve(c, ksf.T)
    np.testing.assert_allclose(cov.numpy(), ref_cov, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(var.numpy(), np.diag(ref_cov), rtol=1e-8, atol=1e-12)


def test_chunked_accumulation_gives_the_same_bounds_and_gradients():
    x, y, z, k = problem(6, n=53)
    values, grads = [], []
    for chunk in (None, 10):
        model = SGPR(SGPRConfig(noise_variance=0.1, chunk_size=chunk), k, z)
        b = model.bounds(x, y)
        (b.elbo + b.upper).backward()
        values.append(torch.stack([b.elbo, b.upper, b.trace]).detach())
        grads.append(torch.cat([p.grad.reshape(-1).clone() for p in model.parameters() if p.grad is not None]))
        model.zero_grad()
    torch.testing.assert_close(values[0], values[1], rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-10)


def test_trace_for_kl_inverts_the_trace_bound():
    for kl, noise, yy in [(1.0, 0.01, 500.0), (0.1, 0.5, 3.0), (5.0, 1.0, 1e6)]:
        t = trace_for_kl(kl, noise, yy)
        assert t > 0
        assert kl_bound_from_trace(t, noise, yy) == pytest.approx(kl, rel=1e-9)
