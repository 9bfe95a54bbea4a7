"""Mutual Information Gap (Chen et al., 2018, Sec. 5): for each factor, the gap between the two
code dimensions that share the most information with it, over the factor's entropy. As
disentanglement_lib `evaluation/metrics/mig.py` computes it: codes discretised into 20
equal-width bins per dimension, discrete mutual information in nats.

The histogram discretiser and the mutual-information matrix (utils.py) also serve modularity.
The mutual information of each (code, factor) pair comes from a contingency table counted at
once with np.bincount and handed to sklearn.metrics.mutual_info_score, instead of one
mutual_info_score call on the raw labels per pair."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import mutual_info_score

from paperlab.errors import UserError


@dataclass
class MIGConfig:
    num_train: int = 10_000  # mig.gin: mig.num_train = 10000
    batch_size: int = 16  # mig.py: compute_mig batch_size=16
    num_bins: int = 20  # mig.gin: discretizer.num_bins = 20 (histogram_discretizer)
    chunk: int = 4096  # observations per representation call (ours; does not change the score)


def histogram_discretize(codes: np.ndarray, num_bins: int) -> np.ndarray:
    """Bin index (1..num_bins) of each value of each row of `codes` (D, N), equal-width bins
    spanning each row's range (utils._histogram_discretize)."""
    return np.stack([np.digitize(row, np.histogram_bin_edges(row, num_bins)[:-1])
                     for row in codes])


def _labels(rows: np.ndarray) -> list[np.ndarray]:
    return [np.unique(row, return_inverse=True)[1] for row in rows]


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(D, F) mutual information in nats between discrete codes (D, N) and factors (F, N)."""
    code_labels, factor_labels = _labels(codes), _labels(factors)
    out = np.zeros((len(code_labels), len(factor_labels)))
    for i, a in enumerate(code_labels):
        for j, b in enumerate(factor_labels):
            na, nb = a.max() + 1, b.max() + 1
            table = np.bincount(b * na + a, minlength=na * nb).reshape(nb, na)
            out[i, j] = mutual_info_score(None, None, contingency=table)
    return out


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """(F,) entropy in nats of each discrete factor (F, N)."""
    return np.array([mutual_info_score(None, None, contingency=np.diag(np.bincount(b)))
                     for b in _labels(factors)])


def mig_from_codes(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> dict[str, float]:
    """MIG of codes (D, N) against discrete factors (F, N) (mig.py _compute_mig)."""
    if codes.shape[0] < 2:
        raise UserError(f"MIG needs at least two code dimensions, got {codes.shape[0]}",
                        "evaluate a representation with two or more dimensions")
    entropy = discrete_entropy(factors)
    if (entropy == 0).any():
        raise UserError(f"factors {np.flatnonzero(entropy == 0).tolist()} are constant in the "
                        "sample, and MIG divides by their entropy",
                        "leave constant factors out of the ground-truth factors")
    info = np.sort(discrete_mutual_info(histogram_discretize(codes, num_bins), factors), axis=0)
    return {"discrete_mig": float(np.mean((info[-1] - info[-2]) / entropy))}

