"""Regression data: synthetic GP-prior draws, Mauna Loa CO2, diabetes, and a user's CSV/NPZ file.

Synthetic (Burt, Rasmussen & van der Wilk 2019, Sec. 4.1 and the experiments of Sec. 5): inputs
x ~ N(0, I_D), f drawn from the GP prior with the given kernel, y = f + N(0, s2) noise. The prior
draw is exact (Cholesky of K_ff plus a 1e-10 relative jitter, since K_ff of an SE kernel is
numerically singular) up to `exact_max` points. Beyond it, f is drawn from a high-rank Nystrom
approximation with the diagonal made exact:
    f = K_fZ L_ZZ^-T w + sqrt(diag(K_ff - Q_ff)) e,    w ~ N(0, I_R), e ~ N(0, I_N),
with R <= `rank` landmarks Z picked by the greedy conditional-variance method on a random pool of
the inputs. Its covariance is Q_ff + diag(K_ff - Q_ff): every variance is exact and every
covariance is off by at most the landmarks' residual (logged: its mean), which for an SE kernel
is at rounding level long before R = 1,000 and for a 1-d Matern 3/2 kernel with lengthscale 1
some 4e-8 against a noise variance of 0.1. The test suite checks both draws' covariance against
K_ff at small N. The cost is O(N R^2): 12 s at N = 10^6 in 1-d (R = 28 for the SE kernel with
lengthscale 1), 50 s at N = 10^5 in 2-d (R = 1,000), on 2 busy cores.

Real data are standardised as a GP user does before fitting a zero-mean GP with a unit-scale
kernel (GPflow's and GPyTorch's tutorials): each input column and the targets to zero mean and
unit variance. The means and scales are kept to map predictions back.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from paperlab.config import above
from paperlab.errors import UserError
from paperlab.papers.sgpr.checks import as_data, as_inputs
from paperlab.papers.sgpr.inducing import greedy_variance
from paperlab.papers.sgpr.kernels import Stationary, build_kernel
from paperlab.papers.sgpr.linalg import cholesky_with_jitter

log = logging.getLogger(__name__)


@dataclass
class SyntheticConfig:
    """The generating GP of the synthetic data (conf/sgpr.yaml's `sgpr.synthetic`)."""

    variance: float = above(0, default=1.0)  # signal variance v
    lengthscale: float = above(0, default=1.0)  # SE / Matern lengthscale, per input dimension
    noise_variance: float = above(0, default=0.1)  # s2


@dataclass
class RegressionData:
    x: Tensor  # (N, D) float64, standardised for real data
    y: Tensor  # (N,) float64, standardised for real data
    name: str
    x_mean: Tensor  # (D,) what was subtracted from x (zeros for synthetic data)
    x_std: Tensor  # (D,) what x was divided by (ones for synthetic data)
    y_mean: float = 0.0
    y_std: float = 1.0


def standardised(x: np.ndarray | Tensor, y: np.ndarray | Tensor, name: str) -> RegressionData:
    """Inputs and targets scaled to zero mean, unit variance (constant columns are left unscaled)."""
    xt, yt = as_data(x, y)
    x_mean, x_std = xt.mean(0), xt.std(0)
    x_std = torch.where(x_std > 0, x_std, torch.ones_like(x_std))
    y_mean, y_std = float(yt.mean()), float(yt.std())
    y_std = y_std if y_std > 0 else 1.0
    return RegressionData((xt - x_mean) / x_std, (yt - y_mean) / y_std, name, x_mean, x_std, y_mean, y_std)


@torch.no_grad()
def sample_prior(x: Tensor, kernel: Stationary, seed: int = 0, num_samples: int = 1,
                 exact_max: int = 4000, rank: int = 1000, pool: int = 20000,
                 chunk: int = 50000) -> Tensor:
    """(N, num_samples) draws of f ~ GP(0, k) at x: exact up to exact_max points, else the
    diagonal-corrected Nystrom draw of the module docstring."""
    x = as_inputs(x)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    if n <= exact_max:
        chol = cholesky_with_jitter(kernel(x), jitter=1e-10, what="K_ff")
        return chol @ torch.randn(n, num_samples, generator=gen, dtype=x.dtype)
    pool_idx = torch.randperm(n, generator=gen)[:pool]
    landmarks = greedy_variance(x[pool_idx], min(rank, len(pool_idx)), kernel).inducing
    chol = cholesky_with_jitter(kernel(landmarks), jitter=1e-10, what="K_ZZ of the landmarks")
    w = torch.randn(landmarks.shape[0], num_samples, generator=gen, dtype=x.dtype)
    f = torch.empty(n, num_samples, dtype=x.dtype)
    total = 0.0
    for start in range(0, n, chunk):
        xc = x[start:start + chunk]
        a = torch.linalg.solve_triangular(chol, kernel(xc, landmarks).mT, upper=False)
        residual = (kernel.diag(xc) - (a * a).sum(0)).clamp_min(0.0)
        e = torch.randn(xc.shape[0], num_samples, generator=gen, dtype=x.dtype)
        f[start:start + chunk] = a.mT @ w + residual.sqrt()[:, None] * e
        total += float(residual.sum())
    log.info("prior draw at N = %d from %d landmarks: mean residual variance %.2g", n, landmarks.shape[0], total / n)
    return f


def synthetic(n: int, dim: int, kernel: str = "se", gp: SyntheticConfig | None = None, seed: int = 0,
              exact_max: int = 4000) -> RegressionData:
    """x ~ N(0, I_dim), y = f(x) + noise with f from the GP prior `gp` (module docstring)."""
    gp = gp or SyntheticConfig()
    if n < 1 or dim < 1:
        raise UserError(f"synthetic data need n >= 1 and dim >= 1, got n={n}, dim={dim}",
                        "pass positive sizes")
    if not gp.noise_variance > 0:
        raise UserError(f"noise variance must be positive and finite, got {gp.noise_variance}",
                        "pass a noise variance > 0")
    k = build_kernel(kernel, gp.variance, gp.lengthscale)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    f = sample_prior(x, k, seed=seed + 1, exact_max=exact_max)[:, 0]
    y = f + gp.noise_variance**0.5 * torch.randn(n, generator=gen, dtype=torch.float64)
    return RegressionData(x, y, f"synthetic-{kernel}-{dim}d-n{n}", torch.zeros(dim), torch.ones(dim))


def subsample(d: RegressionData, max_n: int | None, seed: int = 0) -> RegressionData:
    """At most max_n points of d, drawn uniformly without replacement (all of them if None)."""
    if max_n is None or d.x.shape[0] <= max_n:
        return d
    keep = torch.from_numpy(np.random.default_rng(seed).choice(d.x.shape[0], max_n, replace=False))
    return replace(d, x=d.x[keep], y=d.y[keep])


def co2() -> RegressionData:
    """Mauna Loa weekly CO2 (ppm) 1958-2001 from statsmodels (bundled), x = decimal year; the
    59 weeks without a reading are dropped."""
    from statsmodels.datasets import co2 as co2_data

    frame = co2_data.load_pandas().data.dropna()
    when = frame.index
    year = when.year + (when.day_of_year - 1) / (365.0 + when.is_leap_year)
    # np.array copies: pandas hands out read-only views, which torch warns about
    return standardised(np.array(year, dtype=np.float64)[:, None],
                        np.array(frame["co2"], dtype=np.float64), "co2")


def diabetes() -> RegressionData:
    """scikit-learn's diabetes data (bundled): 442 patients, 10 inputs, disease progression."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    return standardised(x, y, "diabetes")


# the sets that ship in packages, with their sizes, so that a config can be checked (M <= N)
# before anything is loaded
BUNDLED = {"co2": co2, "diabetes": diabetes}
BUNDLED_SIZES = {"co2": 2225, "diabetes": 442}


def bundled(name: str) -> RegressionData:
    """The bundled data set called `name` (co2, diabetes), standardised."""
    if name not in BUNDLED:
        raise UserError(f"unknown data set {name!r}", f"choose one of: {', '.join(sorted(BUNDLED))}")
    return BUNDLED[name]()


def load_table(path: str | Path, x_columns: list[str], y_column: str) -> RegressionData:
    """A user's .csv (header row, numeric columns) or .npz (one array per column; a 2-d array
    counts as its columns) as standardised (x, y)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data file {path} does not exist", "pass the path of a .csv or .npz file")
    columns = _read_csv(path) if path.suffix.lower() == ".csv" else _read_npz(path)
    missing = [c for c in [*x_columns, y_column] if c not in columns]
    if missing:
        raise UserError(f"{path.name} has no column(s) {', '.join(missing)}",
                        f"choose from: {', '.join(columns)}")
    if not x_columns:
        raise UserError("no input columns given", f"choose x columns from: {', '.join(columns)}")
    lengths = {len(columns[c]) for c in [*x_columns, y_column]}
    if len(lengths) > 1:
        raise UserError(f"{path.name}: the chosen columns have different lengths {sorted(lengths)}",
                        "give columns of one length")
    x = np.column_stack([columns[c] for c in x_columns])
    y = columns[y_column].reshape(-1)
    bad = int((~np.isfinite(x)).any(1).sum() + (~np.isfinite(y)).sum())
    if bad:
        raise UserError(f"{path.name} has {bad} missing or non-finite values in the chosen columns",
                        "drop or impute those rows first")
    return standardised(x, y, path.stem)


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise UserError(f"{path.name} is empty", "write a header row, then one row per point")
        rows = list(reader)
    names = [h.strip() for h in header]
    values = np.full((len(rows), len(names)), np.nan)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row[:len(names)]):
            try:
                values[r, c] = float(cell) if cell.strip() else np.nan
            except ValueError as err:
                raise UserError(f"{path.name} line {r + 2}, column {names[c]}: {cell!r} is not a number",
                                "keep only numeric values below the header") from err
    return {name: values[:, c] for c, name in enumerate(names)}


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if path.suffix.lower() != ".npz":
        raise UserError(f"cannot read {path.name}", "pass a .csv or .npz file")
    with np.load(path) as archive:
        return {name: np.asarray(archive[name], dtype=np.float64) for name in archive.files}
