"""Choosing the M inducing inputs Z: uniform subsample, k-means, greedy conditional variance, k-DPP.

Burt, Rasmussen & van der Wilk 2019, Sec. 3-4: the a-priori bound holds for Z drawn from a k-DPP
over the training inputs, P(Z) proportional to det K_ZZ, with E[t] <= (M + 1) sum_{m > M}
lambda_m(K_ff) (Belabbas & Wolfe 2009, Thm. 1; see theory.kdpp_trace_bound). The greedy
conditional-variance method is the partial pivoted Cholesky of K_ff (Fine & Scheinberg 2001): it
adds the input whose variance given the chosen ones is largest, and the sum of those conditional
variances is exactly t = tr(K_ff - Q_ff), so it can stop once t falls below a threshold. It is
the selection the journal version of the paper (Burt et al. 2020, JMLR) recommends in practice.

k-DPP sampler: our own Metropolis basis-exchange MCMC (Anari, Oveis Gharan & Rezaei 2016, COLT),
not `dppy` (0.3.x, installed), because of the regime the paper needs, M up to the numerical rank
of an SE kernel matrix: dppy's spectral k-DPP sampler eigendecomposes the N x N matrix (O(N^3)
time, O(N^2) memory: 44 s at N = 2,000 on this machine); its sublinear `alpha`/`vfx` samplers
refuse a k above the expected size of DPP(K) ("expected sample size is smaller than the desired
sample size"), which here already happens at M = 30 for N = 2,000 in 1-d; its basis-exchange
chain needs the N x N matrix and plain determinants, which underflow to 0 for a near-singular
K_ZZ (its random initialisation then gives up). The chain here evaluates kernel rows on the fly (O(N D) memory), compares log
determinants through an M x M Cholesky, and starts from the greedy selection (a set of high
det K_ZZ), so it needs far fewer steps than from a uniform start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import Tensor

from paperlab.engine.threads import single_threaded
from paperlab.errors import UserError
from paperlab.papers.sgpr.checks import as_inputs, check_num_inducing
from paperlab.papers.sgpr.kernels import Stationary


@dataclass
class Selection:
    inducing: Tensor  # (M, D) inducing inputs Z
    indices: Tensor | None  # rows of x that were chosen; None for k-means centroids
    residual_trace: float | None = None  # t = tr(K_ff - Q_ff), greedy only


def uniform(x: Tensor, m: int, kernel: Stationary, seed: int = 0) -> Selection:
    """M training inputs drawn uniformly without replacement."""
    x = as_inputs(x)
    m = check_num_inducing(m, x.shape[0])
    idx = torch.from_numpy(np.random.default_rng(seed).choice(x.shape[0], m, replace=False))
    return Selection(x[idx], idx)


def kmeans(x: Tensor, m: int, kernel: Stationary, seed: int = 0) -> Selection:
    """The M k-means centroids (scikit-learn), clustered after dividing by the lengthscales so
    that the clustering uses the kernel's notion of distance."""
    x = as_inputs(x)
    m = check_num_inducing(m, x.shape[0])
    with torch.no_grad():
        ls = kernel.lengthscales.expand(x.shape[1])
    km = KMeans(n_clusters=m, n_init=1, random_state=seed).fit((x / ls).numpy())
    return Selection(torch.from_numpy(km.cluster_centers_) * ls, None)


class PivotedCholesky:
    """The partial pivoted Cholesky of K_ff (Fine & Scheinberg 2001), grown on demand: pivot i is
    the input of largest conditional variance given pivots 0..i-1, and row i of the factor R is
    k(x_i, .) conditioned on them, so that for the first m pivots Z, R[:m] = L_ZZ^-1 K_Zf (the
    A of sgpr.py), Q_ff = R[:m]^T R[:m] and the conditional variances left sum to t. Extending
    it from m to m' pivots costs O(N m'^2) time. R is m' x N floats, kept in blocks of rows so
    that growing it never copies it (at N = 10^6 each 128 rows are 1 GB)."""

    block = 128

    def __init__(self, x: Tensor, kernel: Stationary) -> None:
        self.x = as_inputs(x)
        self.kernel = kernel
        with torch.no_grad():
            self.residual = kernel.diag(self.x).clone()  # conditional variances k(x_i, x_i) - Q_ii
        self.floor = 1e-14 * float(kernel.variance.detach())
        self.blocks: list[Tensor] = []  # R's rows, `block` at a time; the last one partly filled
        self.pivots: list[int] = []
        self.exhausted = False  # no input has variance above the floor left: K_ff's numerical rank

    def rows_times(self, w: Tensor) -> Tensor:
        """R w for an (N, k) w: (pivots, k)."""
        return torch.cat([b @ w for b in self.blocks])[:len(self.pivots)]

    def rows(self, start: int, stop: int) -> Tensor:
        """R[start:stop], a copy."""
        parts = []
        for index, b in enumerate(self.blocks):
            first = index * self.block
            if first < stop and first + self.block > start:
                parts.append(b[max(start - first, 0):stop - first])
        return torch.cat(parts)

    @torch.no_grad()
    def extend(self, m: int, threshold: float | None = None) -> int:
        """Pivot until there are m, or t <= threshold, or K_ff is exhausted; the pivot count."""
        n = self.x.shape[0]
        while len(self.pivots) < min(m, n) and not self.exhausted:
            if threshold is not None and float(self.residual.sum()) <= threshold:
                break
            j = int(torch.argmax(self.residual))
            if float(self.residual[j]) <= self.floor:
                self.exhausted = True
                break
            i = len(self.pivots)
            if i == len(self.blocks) * self.block:
                self.blocks.append(torch.empty(self.block, n, dtype=self.x.dtype))
            g = self.kernel(self.x, self.x[j:j + 1])[:, 0]
            for b, start in zip(self.blocks, range(0, i, self.block), strict=False):
                filled = min(self.block, i - start)
                g -= b[:filled, j] @ b[:filled]
            g /= torch.sqrt(self.residual[j])
            self.blocks[i // self.block][i % self.block] = g
            self.residual.sub_(g * g).clamp_min_(0.0)
            self.residual[j] = 0.0  # exactly: x_j is now an inducing input
            self.pivots.append(j)
        return len(self.pivots)


def greedy_variance(x: Tensor, m: int, kernel: Stationary, seed: int = 0,
                    threshold: float | None = None) -> Selection:
    """Greedy conditional variance: up to M pivots of the partial pivoted Cholesky of K_ff,
    stopping early once the residual trace t is <= threshold, or once no input has conditional
    variance left above 1e-14 v (K_ff is then exhausted to rounding). `seed` is unused
    (deterministic)."""
    chol = PivotedCholesky(x, kernel)
    chol.extend(check_num_inducing(m, chol.x.shape[0]), threshold)
    idx = torch.tensor(chol.pivots, dtype=torch.long)
    return Selection(chol.x[idx], idx, float(chol.residual.sum()))


@torch.no_grad()
def kdpp_mcmc(x: Tensor, m: int, kernel: Stationary, seed: int = 0, steps: int | None = None) -> Selection:
    """Approximate k-DPP sample, P(S) proportional to det K_SS, |S| = M, by basis exchange:
    propose swapping a uniform member of S for a uniform input (no move if it is in S already),
    accept with probability min(1, det K_S' / det K_S). The proposal is symmetric, so the chain's
    stationary law is the k-DPP. `steps` defaults to 2 N."""
    x = as_inputs(x)
    n = x.shape[0]
    m = check_num_inducing(m, n)
    rng = np.random.default_rng(seed)
    start = greedy_variance(x, m, kernel).indices
    if len(start) < m:
        raise UserError(f"a {m}-DPP needs det K_ZZ > 0 but K_ff has numerical rank {len(start)}",
                        f"use M <= {len(start)} or a shorter lengthscale")
    s = start.clone()
    member = torch.zeros(n, dtype=torch.bool)
    member[s] = True
    with single_threaded():  # tiny M x M steps: a second thread's wake-up costs more than the work
        k_ss = kernel(x[s])
        logdet = _logdet(k_ss)
        for _ in range(2 * n if steps is None else steps):
            i, j = int(rng.integers(m)), int(rng.integers(n))
            if member[j]:
                continue
            s_new = s.clone()
            s_new[i] = j
            row = kernel(x[j:j + 1], x[s_new])[0]
            proposal = k_ss.clone()
            proposal[i, :] = row
            proposal[:, i] = row
            new_logdet = _logdet(proposal)
            if math.log(rng.random()) < new_logdet - logdet:
                member[s[i]], member[j] = False, True
                s, k_ss, logdet = s_new, proposal, new_logdet
    return Selection(x[s], s)


def _logdet(k: Tensor) -> float:
    """log det of a symmetric matrix, -inf when it is not numerically positive definite."""
    chol, info = torch.linalg.cholesky_ex(k)
    return 2.0 * float(torch.log(chol.diagonal()).sum()) if int(info) == 0 else -math.inf


SELECTORS: dict[str, Callable[..., Selection]] = {
    "greedy": greedy_variance, "kdpp": kdpp_mcmc, "kmeans": kmeans, "uniform": uniform,
}


def select_inducing(name: str, x: Tensor, m: int, kernel: Stationary, seed: int = 0,
                    **options: int | float | None) -> Selection:
    """Z by the method called `name` (greedy, kdpp, kmeans, uniform); options go to it
    (greedy: threshold, kdpp: steps)."""
    if name not in SELECTORS:
        raise UserError(f"unknown inducing-point method {name!r}",
                        f"choose one of: {', '.join(sorted(SELECTORS))}")
    return SELECTORS[name](x, m, kernel, seed, **options)
