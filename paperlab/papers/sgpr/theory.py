"""The paper's bounds as plain functions: KL from the trace t, and the k-DPP a-priori bound.

Burt, Rasmussen & van der Wilk 2019:
  * Sec. 3 (from Titsias 2014's upper bound): KL(q || p) <= U - L, and bounding the eigenvalues
    of (Q_ff + s2 I)^-1 - (Q_ff + (s2 + t) I)^-1 by t / (s2 (s2 + t)) gives
        U - L <= t / (2 s2) * (1 + ||y||^2 / (s2 + t))                     (kl_bound_from_trace)
    (the derivation is three lines: U - L = t / (2 s2) + 1/2 y^T [(Q + s2 I)^-1 - (Q + (s2+t) I)^-1] y).
  * Sec. 3 (Belabbas & Wolfe 2009, Thm. 1): Z from a k-DPP on the training inputs gives
        E[t] <= (M + 1) sum_{m > M} lambda_m(K_ff)                           (kdpp_trace_bound)
  * Sec. 4.1: for the SE kernel and x ~ N(0, s^2) in 1-d the operator eigenvalues are
        lambda_k = v sqrt(2a / A) B^k, k = 0, 1, ...,  a = 1/(4 s^2), b = 1/(2 l^2),
        c = sqrt(a^2 + 2ab), A = a + b + c, B = b / A
    (Rasmussen & Williams 2006, Sec. 4.3.1, eq. 4.42), products of them in D dimensions; those of
    K_ff are about N lambda_k. Geometric decay makes the bound small once M ~ log^D N.
"""

from __future__ import annotations

import math

import numpy as np


def kl_bound_from_trace(trace: float, noise_variance: float, yy: float) -> float:
    """t / (2 s2) (1 + ||y||^2 / (s2 + t)), an upper bound on U - L and hence on the KL."""
    return trace / (2.0 * noise_variance) * (1.0 + yy / (noise_variance + trace))


def trace_for_kl(kl: float, noise_variance: float, yy: float) -> float:
    """The t at which kl_bound_from_trace equals `kl` (the positive root of
    t^2 + t (s2 + yy - 2 s2 kl) - 2 s2^2 kl = 0): any t below it guarantees KL <= kl."""
    b = noise_variance + yy - 2.0 * noise_variance * kl
    c = 2.0 * noise_variance**2 * kl
    root = math.sqrt(b * b + 4.0 * c)
    # for b > 0, -b + root cancels; the product of the roots (-c) gives the same root stably
    return 2.0 * c / (b + root) if b > 0 else 0.5 * (root - b)


def kdpp_trace_bound(eigenvalues: np.ndarray, m: int) -> float:
    """(M + 1) * sum of the eigenvalues after the M largest."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    return (m + 1) * float(np.clip(lam[m:], 0.0, None).sum())


def se_gaussian_eigenvalues(variance: float, lengthscale: float, dim: int, count: int,
                            input_std: float = 1.0) -> np.ndarray:
    """The `count` largest eigenvalues of the SE kernel operator under x ~ N(0, input_std^2 I_dim)
    (GPML eq. 4.42; in D dims the products over dimensions), in decreasing order."""
    a = 1.0 / (4.0 * input_std**2)
    b = 1.0 / (2.0 * lengthscale**2)
    c = math.sqrt(a * a + 2.0 * a * b)
    big_a = a + b + c
    ratio = b / big_a
    per_dim = math.sqrt(2.0 * a / big_a) * ratio ** np.arange(count)
    lam = np.array([1.0])
    for _ in range(dim):
        lam = np.sort(np.outer(lam, per_dim).ravel())[::-1][:count]
    return variance * lam


def kdpp_m_needed(eigenvalues: np.ndarray, n: int, target_trace: float) -> int:
    """The smallest M with (M + 1) n sum_{m > M} lambda_m <= target_trace, for operator
    eigenvalues lambda (those of K_ff taken as n lambda); len(eigenvalues) if none qualifies."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    tails = np.concatenate([np.cumsum(lam[::-1])[::-1], [0.0]])  # tails[m] = sum_{i >= m} lam_i
    m = np.arange(len(lam) + 1)
    ok = np.nonzero((m + 1) * n * tails <= target_trace)[0]
    return int(ok[0]) if len(ok) else len(lam)
