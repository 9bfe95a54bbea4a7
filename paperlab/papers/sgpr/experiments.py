"""The paper's experiments as functions returning plain dicts (lists of floats, JSON-ready).

Burt, Rasmussen & van der Wilk 2019, Sec. 4-5 and Fig. 1-3: with the hyperparameters held fixed,
how fast does KL(q || p) = log Z - L (and its bound U - L) fall as M grows, for each way of
choosing Z; how must M grow with N to keep the KL below a threshold (M = O(log^D N) for the SE
kernel with Gaussian inputs, Sec. 4.1, Corollary 1), against polynomial growth for a Matern kernel
(Sec. 4.2); and the same curves on real data. Every size is a parameter (conf/sgpr.yaml and
conf/experiment/sgpr_*.yaml hold them); m_needed_against_n reaches N = 10^6 through U - L, which
never needs log Z.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from paperlab.console import track
from paperlab.papers.sgpr import data as datasets
from paperlab.papers.sgpr.data import RegressionData, SyntheticConfig
from paperlab.papers.sgpr.exact import GPR, GPRConfig
from paperlab.papers.sgpr.inducing import PivotedCholesky, greedy_variance, select_inducing
from paperlab.papers.sgpr.kernels import Stationary, build_kernel
from paperlab.papers.sgpr.sgpr import SGPR, SGPRBounds, SGPRConfig, collapsed_bounds
from paperlab.papers.sgpr.theory import (
    kdpp_m_needed,
    kdpp_trace_bound,
    se_gaussian_eigenvalues,
    trace_for_kl,
)
from paperlab.papers.sgpr.training import FitConfig, fit, sparse_from_exact

log = logging.getLogger(__name__)

METHODS = ("uniform", "kmeans", "kdpp", "greedy")


def _bounds(kernel: Stationary, noise_variance: float, z: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
            chunk_size: int | None = None) -> dict[str, float]:
    model = SGPR(SGPRConfig(noise_variance=noise_variance, chunk_size=chunk_size), kernel, z)
    with torch.no_grad():
        b = model.bounds(x, y)
    return {"elbo": float(b.elbo), "upper": float(b.upper), "trace": float(b.trace)}


def _numerical_rank(x: torch.Tensor, kernel: Stationary, up_to: int) -> int:
    """K_ff's numerical rank (pivots before no input has variance above 1e-14 v), or up_to."""
    rank = PivotedCholesky(x, kernel).extend(up_to)
    if rank < up_to:
        log.info("K_ff has numerical rank %d: greedy and k-DPP Z stop there (KL is 0 to rounding)", rank)
    return rank


def _curve(method: str, x: torch.Tensor, y: torch.Tensor, kernel: Stationary, noise_variance: float,
           grid: Sequence[int], rank: int, seed: int, **options: int | None) -> list[dict[str, float]]:
    """The bounds at each M of the grid with Z chosen by `method`. Greedy and k-DPP selections
    cannot exceed the numerical rank of K_ff (a k-DPP with M > rank has det K_ZZ = 0): those rows
    are NaN."""
    missing = dict.fromkeys(("elbo", "upper", "trace"), math.nan)
    return [missing if m > rank and method in ("greedy", "kdpp") else
            _bounds(kernel, noise_variance, select_inducing(method, x, m, kernel, seed, **options).inducing, x, y)
            for m in grid]


def _log_evidence(kernel: Stationary, noise_variance: float, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(GPR(GPRConfig(noise_variance=noise_variance), kernel).log_marginal_likelihood(x, y))


def kl_against_m(gp: SyntheticConfig, dims: Sequence[int], sizes: Sequence[int],
                 m_grids: Sequence[Sequence[int]], methods: Sequence[str] = METHODS,
                 kdpp_steps: int | None = None, seed: int = 0) -> dict:
    """(a) KL = log Z - L, U - L and t against M (grid m_grids[i] for dims[i]), synthetic SE data,
    for each N, D and method.

    The hyperparameters are the generating ones, held fixed (the paper's way of isolating M).
    Also the k-DPP a-priori bound (M + 1) sum_{m > M} lambda_m(K_ff) on E[t] (Sec. 3, Lemma 3),
    from the eigenvalues of K_ff."""
    curves, apriori = [], []
    cases = [(dim, list(grid), n) for dim, grid in zip(dims, m_grids, strict=True) for n in sizes]
    for dim, grid, n in track(cases, "(a) KL against M"):
        d = datasets.synthetic(n, dim, "se", gp, seed)
        kernel = build_kernel("se", gp.variance, gp.lengthscale)
        log_z = _log_evidence(kernel, gp.noise_variance, d.x, d.y)
        with torch.no_grad():
            eig = torch.linalg.eigvalsh(kernel(d.x)).numpy()
        apriori.append({"dim": dim, "n": n, "m": grid, "trace_bound": [kdpp_trace_bound(eig, m) for m in grid]})
        rank = _numerical_rank(d.x, kernel, max(grid))
        for method in methods:
            options = {"steps": kdpp_steps} if method == "kdpp" else {}
            start = time.perf_counter()
            rows = _curve(method, d.x, d.y, kernel, gp.noise_variance, grid, rank, seed, **options)
            curves.append({"dim": dim, "n": n, "method": method, "m": grid, "log_z": log_z,
                           "kl": [log_z - r["elbo"] for r in rows],
                           "gap": [r["upper"] - r["elbo"] for r in rows],
                           "trace": [r["trace"] for r in rows],
                           "seconds": time.perf_counter() - start})
            log.info("(a) D=%d N=%d %s: KL %.3g -> %.3g nats over M = %d..%d", dim, n, method,
                     curves[-1]["kl"][0], curves[-1]["kl"][-1], grid[0], grid[-1])
    return {"curves": curves, "apriori": apriori,
            "settings": {"lengthscale": gp.lengthscale, "variance": gp.variance,
                         "noise_variance": gp.noise_variance, "seed": seed}}


class _NestedBounds:
    """L, U and t for every prefix Z[:m] of the greedy pivots, from one pivoted Cholesky factor R:
    R[:m] is the A = L_ZZ^-1 K_Zf of sgpr.py for that prefix, so P = A A^T and v = A y are the
    leading blocks of R R^T and R y, and each bound costs O(m^3) once R is there (the O(N M^2)
    work is done once, not once per M tried)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, kernel: Stationary, noise_variance: float) -> None:
        self.factor = PivotedCholesky(x, kernel)
        self.y, self.n = y, x.shape[0]
        self.yy = y @ y
        with torch.no_grad():
            self.kdiag = kernel.diag(x).sum()
        self.noise = torch.tensor(noise_variance, dtype=torch.float64)
        self.p = torch.empty(0, 0, dtype=torch.float64)
        self.v = torch.empty(0, dtype=torch.float64)

    def grow(self, m: int) -> int:
        """Extend R (and P, v) to m pivots, fewer if K_ff is exhausted; the pivot count."""
        old, new = len(self.factor.pivots), self.factor.extend(m)
        added = self.factor.rows(old, new)
        cross = self.factor.rows_times(added.mT).mT  # R[old:new] R^T
        p = torch.empty(new, new, dtype=torch.float64)
        p[:old, :old] = self.p
        p[old:] = cross
        p[:old, old:] = cross[:, :old].mT
        self.p, self.v = p, torch.cat([self.v, added @ self.y])
        return new

    def bounds(self, m: int) -> SGPRBounds:
        p = self.p[:m, :m]
        return collapsed_bounds(p, self.v[:m], self.yy, self.kdiag - p.diagonal().sum(), self.n, self.noise)


def _smallest(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest m in (lo, hi] with ok(m), given ok(hi) and not ok(lo), for ok monotone in m."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def _m_needed(x: torch.Tensor, y: torch.Tensor, kernel: Stationary, noise_variance: float,
              threshold: float, m_max: int, chunk_size: int, log_z: float | None = None) -> dict:
    """Smallest M (greedy Z) with U - L <= threshold, and with KL = log Z - L <= threshold when
    log Z is given. The greedy pivots are extended by a quarter at a time until U - L meets the
    threshold, then the smallest M is found by bisection on nested prefixes (L grows with M for
    nested Z, Titsias 2009; U - L falls with it in practice). The U - L reported is recomputed
    by SGPR.bounds from the chosen inducing inputs."""
    nested = _NestedBounds(x, y, kernel, noise_variance)

    def gap(m: int) -> float:
        b = nested.bounds(m)
        return float(b.upper - b.elbo)

    lo, m = 0, 8
    while True:
        got = nested.grow(min(m, m_max))
        if gap(got) <= threshold:
            break
        if got < min(m, m_max) or got >= m_max:  # K_ff exhausted, or m_max was not enough
            return {"m_needed": math.nan, "m_needed_kl": math.nan, "m_searched": got, "gap": gap(got)}
        lo, m = got, max(m + 1, int(1.25 * m))
    m_needed = _smallest(lambda k: gap(k) <= threshold, lo, got)
    m_kl = math.nan
    if log_z is not None:  # KL <= U - L: the KL threshold is met at M = m_needed already
        m_kl = _smallest(lambda k: log_z - float(nested.bounds(k).elbo) <= threshold, 0, m_needed)
    z = x[torch.tensor(nested.factor.pivots[:m_needed])]
    b = _bounds(kernel, noise_variance, z, x, y, chunk_size)
    return {"m_needed": m_needed, "m_needed_kl": m_kl, "m_searched": got, "gap": b["upper"] - b["elbo"]}


def _fit_curves(n: np.ndarray, m: np.ndarray, dim: int) -> dict[str, float]:
    """Least squares M = a + b (log N)^D and log M = log c + p log N over the finite points, and
    the root-mean-square error of each in M."""
    ok = np.isfinite(m)
    if ok.sum() < 2:
        return dict.fromkeys(("a", "b", "rms_log", "c", "p", "rms_power"), math.nan)
    n, m = n[ok], m[ok]
    design = np.column_stack([np.ones(len(n)), np.log(n) ** dim])
    (a, b), *_ = np.linalg.lstsq(design, m, rcond=None)
    p, log_c = np.polyfit(np.log(n), np.log(m), 1)
    return {"a": float(a), "b": float(b), "rms_log": _rms(a + b * np.log(n) ** dim, m),
            "c": float(np.exp(log_c)), "p": float(p), "rms_power": _rms(np.exp(log_c) * n**p, m)}


def _rms(fitted: np.ndarray, m: np.ndarray) -> float:
    return float(np.sqrt(np.mean((fitted - m) ** 2)))


def m_needed_against_n(gp: SyntheticConfig, dims: Sequence[int], sizes: Sequence[Sequence[int]], kernel: str = "se",
                       threshold: float = 1.0, m_max: int = 3000, chunk_size: int = 50000, kl_max_n: int = 0,
                       seed: int = 0) -> dict:
    """(b, c) The M needed for U - L <= threshold (hence KL <= threshold) against N (sizes[i] for
    dims[i]), greedy Z, generating hyperparameters; fits of M = a + b log^D N and M = c N^p per D
    (and, prefixed kl_, of the M needed for KL itself).
    Up to kl_max_n points also the M needed for KL itself (log Z exactly, O(N^3)). For the SE
    kernel also the M at which the k-DPP bound on E[t] (Sec. 3; analytic spectrum, GPML eq. 4.42)
    reaches a t that guarantees U - L <= threshold (theory.trace_for_kl): the a-priori answer."""
    points, fits = [], []
    for dim, dim_sizes in zip(dims, sizes, strict=True):
        rows = []
        for n in track(dim_sizes, f"({'b' if kernel == 'se' else 'c'}) M needed, {kernel}, D={dim}"):
            start = time.perf_counter()
            d = datasets.synthetic(n, dim, kernel, gp, seed)
            k = build_kernel(kernel, gp.variance, gp.lengthscale)
            log_z = _log_evidence(k, gp.noise_variance, d.x, d.y) if n <= kl_max_n else None
            row = {"dim": dim, "n": n,
                   **_m_needed(d.x, d.y, k, gp.noise_variance, threshold, m_max, chunk_size, log_z)}
            if kernel == "se":
                target = trace_for_kl(threshold, gp.noise_variance, float(d.y @ d.y))
                lam = se_gaussian_eigenvalues(gp.variance, gp.lengthscale, dim, count=m_max)
                row["m_kdpp_bound"] = kdpp_m_needed(lam, n, target)
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            log.info("%s, D=%d, N=%d: M = %s for U - L <= %g (%s for KL), %.0f s", kernel, dim, n,
                     row["m_needed"], threshold, row["m_needed_kl"], row["seconds"])
        points += rows
        n_arr = np.array([r["n"] for r in rows], dtype=float)
        fit_kl = _fit_curves(n_arr, np.array([r["m_needed_kl"] for r in rows], dtype=float), dim)
        fits.append({"dim": dim, **_fit_curves(n_arr, np.array([r["m_needed"] for r in rows], dtype=float), dim),
                     **{f"kl_{k}": v for k, v in fit_kl.items()}})
    return {"points": points, "fits": fits,
            "settings": {"kernel": kernel, "threshold": threshold, "lengthscale": gp.lengthscale,
                         "variance": gp.variance, "noise_variance": gp.noise_variance, "seed": seed}}


def matern_growth(gp: SyntheticConfig, kernels: Sequence[str], sizes: Sequence[int], threshold: float = 1.0,
                  m_max: int = 4000, kl_max_n: int = 0, seed: int = 0) -> dict:
    """(c) The M needed against N in 1-d for the SE kernel and Matern kernels (data drawn from
    and modelled with each kernel): the fitted exponent p of M ~ N^p, near 0 for logarithmic
    growth, bounded away from 0 for polynomial growth."""
    return {name: m_needed_against_n(gp, (1,), (sizes,), name, threshold, m_max, kl_max_n=kl_max_n, seed=seed)
            for name in kernels}


def _hyperparameters(model: GPR | SGPR) -> dict[str, float | list[float]]:
    with torch.no_grad():
        return {"noise_variance": float(model.noise_variance), "variance": float(model.kernel.variance),
                "lengthscales": model.kernel.lengthscales.tolist()}


def real_data_kl(sets: Sequence[RegressionData], fits_dir: str | Path, m_grid: Sequence[int],
                 methods: Sequence[str] = METHODS, fit_cfg: FitConfig | None = None, joint: bool = True,
                 exact_max_n: int = 20000, inits: Sequence[Sequence[float]] = ((1.0, 0.1),), seed: int = 0) -> dict:
    """(d) Real data: the hyperparameters of an exact GP (ARD SE kernel, L-BFGS on log Z, from each
    (lengthscale, noise variance) of `inits`, the best log Z kept), then, with those fixed, KL and
    U - L against M per method; with `joint`, also L when the hyperparameters are optimised on L
    itself (greedy Z, started from the exact GP's), against log Z. Above exact_max_n points log Z
    is out of reach: the hyperparameters are fitted on L with the largest M (greedy Z) and only
    U - L is reported (KL is NaN). Each fit is a run directory under fits_dir."""
    fits_dir = Path(fits_dir)
    results = []
    for d in sets:
        x, y, n = d.x, d.y, d.x.shape[0]
        grid = list(m_grid)
        gpr, score = _fit_hyperparameters(d, inits, n <= exact_max_n, max(grid), fits_dir, fit_cfg, seed)
        log_z = score if n <= exact_max_n else math.nan
        entry = {"name": d.name, "n": n, "dim": x.shape[1], "log_z": log_z, "m": grid, **_hyperparameters(gpr),
                 "methods": {}}
        noise = float(gpr.noise_variance.detach())
        rank = _numerical_rank(x, gpr.kernel, max(grid))
        for method in track(methods, f"(d) {d.name}: KL against M per method"):
            rows = _curve(method, x, y, gpr.kernel, noise, grid, rank, seed)
            entry["methods"][method] = {"kl": [log_z - r["elbo"] for r in rows],
                                        "gap": [r["upper"] - r["elbo"] for r in rows],
                                        "elbo": [r["elbo"] for r in rows]}
        if joint:
            elbos = []
            for m in track(grid, f"(d) {d.name}: hyperparameters fitted on L"):
                if m > rank:
                    elbos.append(math.nan)
                    continue
                model = sparse_from_exact(gpr, greedy_variance(x, m, gpr.kernel).inducing, train_hyperparameters=True)
                fit(model, x, y, fits_dir / f"{d.name}_joint_m{m}", fit_cfg, seed)
                with torch.no_grad():
                    elbos.append(float(model.elbo(x, y)))
            entry["joint_elbo"] = elbos
        log.info("(d) %s (N=%d, D=%d): log Z %.2f; greedy KL %s over M = %s", d.name, n, x.shape[1], log_z,
                 ", ".join(f"{v:.3g}" for v in entry["methods"].get("greedy", {}).get("kl", [])), grid)
        results.append(entry)
    return {"datasets": results, "settings": {"seed": seed, "exact_max_n": exact_max_n}}


def _fit_hyperparameters(d: RegressionData, inits: Sequence[Sequence[float]], exact: bool, m: int,
                         fits_dir: Path, fit_cfg: FitConfig | None, seed: int) -> tuple[GPR, float]:
    """The exact GP (or, if not `exact`, an SGPR with M greedy inducing inputs) fitted from each
    start of `inits`, the one with the best log Z (or L) kept; as a GPR either way."""
    best: tuple[GPR, float] | None = None
    for lengthscale, noise in inits:
        kernel = build_kernel("se", 1.0, [lengthscale] * d.x.shape[1])  # the data are standardised
        where = fits_dir / f"{d.name}_{'exact' if exact else f'sparse_m{m}'}_from_ls{lengthscale:g}"
        if exact:
            model: GPR | SGPR = GPR(GPRConfig(noise_variance=noise), kernel)
        else:
            model = SGPR(SGPRConfig(noise_variance=noise), kernel, greedy_variance(d.x, m, kernel).inducing)
        fit(model, d.x, d.y, where, fit_cfg, seed)
        with torch.no_grad():
            score = float(model(d.x, d.y))
        log.info("(d) %s from lengthscale %g: %s %.2f", d.name, lengthscale, "log Z" if exact else "L", score)
        if best is None or score > best[1]:
            noise_now = float(model.noise_variance.detach())
            best = (GPR(GPRConfig(noise_variance=noise_now), model.kernel), score)
    return best
