"""SGPR (Burt, Rasmussen & van der Wilk 2019): Titsias' bound L and its gradient, ours against
GPyTorch's, and the bound gap U - L at N = 10^6.

1. N = 20,000 inputs x ~ N(0, I_2), M = 500 inducing inputs (greedy conditional variance, so
   that K_uu factorises without jitter in both libraries), ARD SE kernel, float64. One step is
   L and its gradient in all hyperparameters. GPyTorch: InducingPointKernel in an ExactGP with
   ExactMarginalLogLikelihood (L / N; multiplied back by N). Both sides alternate, `--repeats`
   times; printed: both values, the gradients' largest relative difference, the median wall and
   process-CPU seconds and their ratios (goal: ours >= 3x faster). CPU time is printed too
   because wall time on a shared machine swings with the other jobs' load.
2. N = 10^6, M = 200: U - L without gradients, rows in chunks of 50,000 (memory O(chunk M)),
   timed (goal: under a minute on CPU).

    python benchmarks/sgpr.py [--n 20000] [--m 500] [--repeats 3] [--big-n 1000000] [--big-m 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import gpytorch
import torch
from linear_operator.utils.warnings import NumericalWarning

from paperlab.papers.sgpr.inducing import greedy_variance
from paperlab.papers.sgpr.kernels import build_kernel
from paperlab.papers.sgpr.sgpr import SGPR, SGPRConfig

LENGTHSCALES, VARIANCE, NOISE = (0.25, 0.35), 1.0, 0.05


def make_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    y = torch.sin(3 * x[:, 0]) * torch.cos(2 * x[:, 1]) + NOISE**0.5 * torch.randn(n, generator=gen, dtype=torch.float64)
    return x, y


class GPyTorchSGPR(gpytorch.models.ExactGP):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, likelihood) -> None:
        super().__init__(x, y, likelihood)
        self.mean = gpytorch.means.ZeroMean()
        base = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel(ard_num_dims=2))
        self.covar = gpytorch.kernels.InducingPointKernel(base, z.clone(), likelihood)

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean(x), self.covar(x))


def gpytorch_step(x, y, z):
    likelihood = gpytorch.likelihoods.GaussianLikelihood().double()
    model = GPyTorchSGPR(x, y, z, likelihood).double()
    # float64 tensors: GPyTorch's setters would round Python floats through float32
    likelihood.noise = torch.tensor(NOISE, dtype=torch.float64)
    model.covar.base_kernel.outputscale = torch.tensor(VARIANCE, dtype=torch.float64)
    model.covar.base_kernel.base_kernel.lengthscale = torch.tensor([LENGTHSCALES], dtype=torch.float64)
    model.covar.inducing_points.requires_grad_(False)
    model.train()
    likelihood.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
    rbf = model.covar.base_kernel
    raws = [rbf.base_kernel.raw_lengthscale, rbf.raw_outputscale, likelihood.noise_covar.raw_noise]

    def step() -> tuple[float, torch.Tensor]:
        model.zero_grad()
        value = mll(model(x), y) * x.shape[0]
        value.backward()
        return float(value.detach()), torch.cat([(r.grad / torch.sigmoid(r.detach())).reshape(-1) for r in raws])

    return step


def our_step(x, y, z):
    model = SGPR(SGPRConfig(noise_variance=NOISE), build_kernel("se", VARIANCE, LENGTHSCALES), z)
    raws = [model.kernel.raw_lengthscales, model.kernel.raw_variance, model.raw_noise]

    def step() -> tuple[float, torch.Tensor]:
        model.zero_grad()
        value = model.elbo(x, y)
        value.backward()
        return float(value.detach()), torch.cat([(r.grad / torch.sigmoid(r.detach())).reshape(-1) for r in raws])

    return step


def timed(step) -> tuple[float, float, tuple]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = step()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--m", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-n", type=int, default=1_000_000)
    parser.add_argument("--big-m", type=int, default=200)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, gpytorch {gpytorch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}")

    x, y = make_data(args.n, seed=0)
    kernel = build_kernel("se", VARIANCE, LENGTHSCALES)
    z = greedy_variance(x, args.m, kernel).inducing
    with torch.no_grad():
        assert int(torch.linalg.cholesky_ex(kernel(z)).info) == 0, "K_uu needs jitter: pick other Z"
    steps = {"ours": our_step(x, y, z), "gpytorch": gpytorch_step(x, y, z)}
    runs: dict[str, list] = {name: [] for name in steps}
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)  # a jittered K_uu would change the value
        for _ in range(args.repeats):
            for name, step in steps.items():
                runs[name].append(timed(step))
    (_, _, (ours, g_ours)), (_, _, (theirs, g_theirs)) = runs["ours"][-1], runs["gpytorch"][-1]
    wall = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
    grad_diff = float(((g_ours - g_theirs).abs() / g_theirs.abs()).max())
    print(f"L and dL/dtheta, N = {args.n}, M = {args.m}, D = 2, float64, median of {args.repeats}:")
    print(f"  L ours     = {ours:.10f}   {wall['ours']:7.2f} s wall {cpu['ours']:7.2f} s cpu")
    print(f"  L gpytorch = {theirs:.10f}   {wall['gpytorch']:7.2f} s wall {cpu['gpytorch']:7.2f} s cpu")
    print(f"  relative difference of L {abs(ours - theirs) / abs(theirs):.1e}, "
          f"of the gradient (lengthscales, variance, noise) {grad_diff:.1e}")
    print(f"  speed-up ours vs gpytorch: {wall['gpytorch'] / wall['ours']:.1f}x wall, "
          f"{cpu['gpytorch'] / cpu['ours']:.1f}x cpu (goal >= 3x)")

    bx, by = make_data(args.big_n, seed=1)
    pool = bx[torch.randperm(args.big_n, generator=torch.Generator().manual_seed(2))[:20000]]
    bz = greedy_variance(pool, args.big_m, kernel).inducing
    model = SGPR(SGPRConfig(noise_variance=NOISE, chunk_size=50000), kernel, bz)
    with torch.no_grad():
        seconds, cpu_seconds, b = timed(lambda: model.bounds(bx, by))
    print(f"U - L at N = {args.big_n}, M = {args.big_m}, D = 2 (no gradient, chunks of 50,000): "
          f"{float(b.upper - b.elbo):.4f} nats (L = {float(b.elbo):.1f}, U = {float(b.upper):.1f}) "
          f"in {seconds:.1f} s wall, {cpu_seconds:.1f} s cpu (goal < 60 s)")


if __name__ == "__main__":
    main()
