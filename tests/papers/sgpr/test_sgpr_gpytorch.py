"""Same ELBO (and gradient) as GPyTorch's SGPR on the same data, kernel and hyperparameters.

GPyTorch builds SGPR from `InducingPointKernel` (Q_ff as a low-rank root, plus an added loss term
-tr(K_ff - Q_ff) / (2 s2)) inside an ExactGP; `ExactMarginalLogLikelihood` then returns
(log N(y | 0, Q_ff + s2 I) + added terms) / N, i.e. L / N.
"""

from __future__ import annotations

import warnings

import gpytorch
import pytest
import torch
from linear_operator.utils.warnings import NumericalWarning

from paperlab.papers.sgpr.kernels import build_kernel
from paperlab.papers.sgpr.sgpr import SGPR, SGPRConfig


class GPyTorchSGPR(gpytorch.models.ExactGP):
    def __init__(self, x, y, z, likelihood):
        super().__init__(x, y, likelihood)
        self.mean = gpytorch.means.ZeroMean()
        base = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel(ard_num_dims=x.shape[1]))
        self.covar = gpytorch.kernels.InducingPointKernel(base, z.clone(), likelihood)

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean(x), self.covar(x))


@pytest.mark.parametrize("seed", [0, 1])
def test_elbo_and_hyperparameter_gradients_match_gpytorch(seed):
    gen = torch.Generator().manual_seed(seed)
    n, m = 60, 9
    x = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    y = torch.sin(2 * x[:, 0]) * torch.cos(x[:, 1]) + 0.2 * torch.randn(n, generator=gen, dtype=torch.float64)
    z = torch.randn(m, 2, generator=gen, dtype=torch.float64)
    lengthscales, variance, noise = [0.7, 1.3], 1.4, 0.15

    likelihood = gpytorch.likelihoods.GaussianLikelihood().double()
    theirs = GPyTorchSGPR(x, y, z, likelihood).double()
    # float64 tensors, set after .double(): GPyTorch's setters turn a Python float into a float32
    # tensor, which would round the hyperparameters at 1e-8
    likelihood.noise = torch.tensor(noise, dtype=torch.float64)
    theirs.covar.base_kernel.outputscale = torch.tensor(variance, dtype=torch.float64)
    theirs.covar.base_kernel.base_kernel.lengthscale = torch.tensor([lengthscales], dtype=torch.float64)
    theirs.train()
    likelihood.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, theirs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)  # no jitter: both factorise K_uu exactly
        their_elbo = mll(theirs(x), y) * n
    their_elbo.backward()

    ours = SGPR(SGPRConfig(noise_variance=noise), build_kernel("se", variance, lengthscales), z)
    our_elbo = ours.elbo(x, y)
    our_elbo.backward()
    assert float(our_elbo.detach()) == pytest.approx(float(their_elbo.detach()), rel=1e-8)

    # gradients with respect to the hyperparameters' values (both store softplus-raw values)
    def value_grad(raw: torch.Tensor) -> torch.Tensor:
        return raw.grad / torch.sigmoid(raw.detach())

    rbf = theirs.covar.base_kernel
    torch.testing.assert_close(value_grad(ours.kernel.raw_lengthscales),
                               value_grad(rbf.base_kernel.raw_lengthscale).reshape(-1), rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(value_grad(ours.kernel.raw_variance), value_grad(rbf.raw_outputscale),
                               rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(value_grad(ours.raw_noise),
                               value_grad(likelihood.noise_covar.raw_noise).reshape(()), rtol=1e-7, atol=1e-9)
