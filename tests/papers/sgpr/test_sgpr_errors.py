"""Bad input is one UserError line naming the problem and the fix."""

from __future__ import annotations

import math

import pytest
import torch

from paperlab.errors import UserError
from paperlab.papers.sgpr.exact import GPR, GPRConfig
from paperlab.papers.sgpr.inducing import select_inducing
from paperlab.papers.sgpr.kernels import build_kernel
from paperlab.papers.sgpr.linalg import cholesky_with_jitter
from paperlab.papers.sgpr.sgpr import SGPR, SGPRConfig


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and "; " in text  # "<problem>; <fix>"
    return text


@pytest.mark.parametrize("noise", [0.0, -1.0, math.nan])
def test_non_positive_noise(noise):
    with pytest.raises(UserError, match="noise variance must be positive") as err:
        SGPR(SGPRConfig(noise_variance=noise), build_kernel("se"), torch.zeros(2, 1))
    one_line(err)
    with pytest.raises(UserError, match="noise variance must be positive"):
        GPR(GPRConfig(noise_variance=noise), build_kernel("se"))


@pytest.mark.parametrize("lengthscales", [0.0, -0.5, (1.0, -2.0)])
def test_non_positive_lengthscale(lengthscales):
    with pytest.raises(UserError, match="lengthscale must be positive") as err:
        build_kernel("matern32", 1.0, lengthscales)
    one_line(err)


def test_unknown_kernel_lists_the_valid_ones():
    with pytest.raises(UserError, match="unknown kernel 'rbff'; choose one of: matern32, matern52, se"):
        build_kernel("rbff")


def test_more_inducing_points_than_data():
    x = torch.randn(5, 1, dtype=torch.float64)
    k = build_kernel("se")
    for method in ("uniform", "kmeans", "greedy", "kdpp"):
        with pytest.raises(UserError, match="6 inducing points requested but the data have only N = 5") as err:
            select_inducing(method, x, 6, k)
        one_line(err)
    with pytest.raises(UserError, match="6 inducing points but the data have only N = 5"):
        SGPR(SGPRConfig(), k, torch.randn(6, 1, dtype=torch.float64)).elbo(x, torch.zeros(5))


def test_nan_in_the_data():
    x = torch.randn(6, 2, dtype=torch.float64)
    y = torch.randn(6, dtype=torch.float64)
    model = SGPR(SGPRConfig(), build_kernel("se"), x[:2])
    bad_x, bad_y = x.clone(), y.clone()
    bad_x[3, 1] = math.nan
    bad_y[0] = math.nan
    with pytest.raises(UserError, match="x has 1 NaN or infinite values") as err:
        model.elbo(bad_x, y)
    one_line(err)
    with pytest.raises(UserError, match="y has 1 NaN or infinite values"):
        model.elbo(x, bad_y)
    with pytest.raises(UserError, match="x has 1 NaN"):
        select_inducing("greedy", bad_x, 2, build_kernel("se"))
    with pytest.raises(UserError, match="y has shape"):
        model.elbo(x, y[:4])


def test_inputs_of_the_wrong_width():
    model = SGPR(SGPRConfig(), build_kernel("se", 1.0, (1.0, 2.0)), torch.zeros(1, 2))
    with pytest.raises(UserError, match=r"inputs of shape \(4, 3\) do not match 2 lengthscales"):
        model.elbo(torch.zeros(4, 3), torch.zeros(4))


def test_cholesky_adds_jitter_only_when_needed_and_fails_clearly():
    ok = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(cholesky_with_jitter(ok), torch.linalg.cholesky(ok))
    singular = torch.ones(3, 3, dtype=torch.float64)  # rank 1: needs jitter, then factorises
    chol = cholesky_with_jitter(singular)
    assert float((chol @ chol.mT - singular).abs().max()) < 1e-6
    indefinite = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)
    with pytest.raises(UserError, match=r"K_uu \(2x2\) is not positive definite even with jitter") as err:
        cholesky_with_jitter(indefinite)
    one_line(err)
