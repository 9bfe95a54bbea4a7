"""Data: prior draws against K_ff, loaders against files written in their real formats, the bundled
CO2 and diabetes sets, and the analytic SE spectrum against a kernel matrix's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paperlab.errors import UserError
from paperlab.papers.sgpr.data import (
    BUNDLED_SIZES,
    SyntheticConfig,
    co2,
    diabetes,
    load_table,
    sample_prior,
    subsample,
    synthetic,
)
from paperlab.papers.sgpr.kernels import build_kernel
from paperlab.papers.sgpr.theory import kdpp_m_needed, kdpp_trace_bound, se_gaussian_eigenvalues


def empirical_covariance_error(f: torch.Tensor, k: torch.Tensor) -> float:
    return float((f @ f.mT / f.shape[1] - k).abs().max())


@pytest.mark.parametrize("kernel", ["se", "matern32"])
def test_exact_and_nystrom_prior_draws_have_the_kernel_covariance(kernel):
    x = torch.randn(25, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    k = build_kernel(kernel, 1.0, 0.8)
    with torch.no_grad():
        kff = k(x)
    exact = sample_prior(x, k, seed=1, num_samples=20000)
    nystrom = sample_prior(x, k, seed=2, num_samples=20000, exact_max=0, rank=25)
    # Monte Carlo error of a covariance entry with 20,000 draws: about sqrt(2 / 20000) = 0.01
    assert empirical_covariance_error(exact, kff) < 0.05
    assert empirical_covariance_error(nystrom, kff) < 0.05
    # a low-rank draw without enough landmarks is visibly wrong off the diagonal, right on it
    crude = sample_prior(x, k, seed=3, num_samples=20000, exact_max=0, rank=2)
    assert empirical_covariance_error(crude, kff) > 0.2
    np.testing.assert_allclose((crude * crude).mean(1).numpy(), kff.diagonal().numpy(), atol=0.06)


def test_synthetic_data_shapes_and_noise():
    gp = SyntheticConfig(lengthscale=0.7, noise_variance=0.04)
    d = synthetic(300, 2, "se", gp, seed=5)
    assert d.x.shape == (300, 2) and d.y.shape == (300,) and d.x.dtype == torch.float64
    assert 0.5 < float(d.x.std()) < 1.5
    # y = f + noise with var f = 1: the total variance is about 1.04
    assert 0.6 < float(d.y.var()) < 1.6
    again = synthetic(300, 2, "se", gp, seed=5)
    torch.testing.assert_close(d.y, again.y)


def test_csv_loader_reads_columns_and_standardises(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("a,b,target\n1,10,3\n2,20,5\n3,30,4\n4,45,10\n")
    d = load_table(path, ["a", "b"], "target")
    raw_x = np.array([[1, 10], [2, 20], [3, 30], [4, 45]], dtype=float)
    raw_y = np.array([3, 5, 4, 10], dtype=float)
    np.testing.assert_allclose(d.x.numpy(), (raw_x - raw_x.mean(0)) / raw_x.std(0, ddof=1))
    np.testing.assert_allclose(d.y.numpy(), (raw_y - raw_y.mean()) / raw_y.std(ddof=1))
    np.testing.assert_allclose(d.y.numpy() * d.y_std + d.y_mean, raw_y)


def test_npz_loader_takes_1d_and_2d_arrays(tmp_path):
    path = tmp_path / "points.npz"
    rng = np.random.default_rng(0)
    np.savez(path, inputs=rng.normal(size=(20, 3)), extra=rng.normal(size=20), y=rng.normal(size=20))
    d = load_table(path, ["inputs", "extra"], "y")
    assert d.x.shape == (20, 4) and d.y.shape == (20,)


def test_loader_errors_are_one_line(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("a,b,target\n1,2,3\n4,,6\n")
    with pytest.raises(UserError, match="no column.* c; choose from: a, b, target") as err:
        load_table(path, ["a", "c"], "target")
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="1 missing or non-finite"):
        load_table(path, ["a", "b"], "target")
    path.write_text("a,target\n1,x\n")
    with pytest.raises(UserError, match="'x' is not a number"):
        load_table(path, ["a"], "target")
    with pytest.raises(UserError, match="does not exist"):
        load_table(tmp_path / "absent.csv", ["a"], "target")


def test_bundled_real_data():
    c = co2()
    assert c.x.shape == (2225, 1) and c.y.shape == (2225,)
    assert float(c.x.mean().abs()) < 1e-10 and abs(float(c.y.std()) - 1.0) < 1e-10
    assert 1958 < c.x_mean.item() < 2002 and 300 < c.y_mean < 380  # years, ppm
    d = diabetes()
    assert d.x.shape == (442, 10) and d.y.shape == (442,)
    # the sizes a config is checked against before anything is loaded
    assert {"co2": c.x.shape[0], "diabetes": d.x.shape[0]} == BUNDLED_SIZES
    few = subsample(c, 100, seed=1)
    assert few.x.shape == (100, 1) and few.y_mean == c.y_mean
    rows = {float(v) for v in c.x[:, 0]}
    assert all(float(v) in rows for v in few.x[:, 0])


def test_se_spectrum_matches_kernel_matrix_eigenvalues():
    n = 1500
    x = torch.randn(n, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    k = build_kernel("se", 1.0, 0.5)
    with torch.no_grad():
        eig = np.sort(torch.linalg.eigvalsh(k(x)).numpy())[::-1]
    lam = se_gaussian_eigenvalues(1.0, 0.5, dim=1, count=6)
    # eigenvalues of K_ff / N estimate the operator's (GPML eq. 4.42); sampling error ~ 1/sqrt(N)
    np.testing.assert_allclose(eig[:6] / n, lam, rtol=0.1)
    assert lam.sum() < 1.0 and se_gaussian_eigenvalues(1.0, 0.5, 1, 200).sum() == pytest.approx(1.0)
    # 2-d: products of the 1-d ones, the largest first
    lam2 = se_gaussian_eigenvalues(2.0, 0.5, dim=2, count=3)
    np.testing.assert_allclose(lam2, 2.0 * np.array([lam[0] ** 2, lam[0] * lam[1], lam[0] * lam[1]]))
    assert kdpp_trace_bound(eig, 3) == pytest.approx(4 * eig[3:].sum())
    lam40 = se_gaussian_eigenvalues(1.0, 0.5, dim=1, count=40)
    target = 1e-3
    m = kdpp_m_needed(lam40, n, target)
    assert kdpp_trace_bound(n * lam40, m) <= target
    assert all(kdpp_trace_bound(n * lam40, j) > target for j in range(m))
