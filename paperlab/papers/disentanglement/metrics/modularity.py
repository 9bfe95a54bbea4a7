"""Modularity and explicitness (Ridgeway & Mozer, 2018, Sec. 3): does each code dimension depend on
one factor only (from the discretised mutual information), and how well does a linear classifier
on all codes predict each factor (one-vs-rest ROC-AUC). As disentanglement_lib
`evaluation/metrics/modularity_explicitness.py` computes them.

Two guards where disentanglement_lib would fail: a constant code dimension is left unscaled by the
standardisation (rather than divided by a zero deviation), and the ROC-AUC columns are the
classifier's classes (the same as disentanglement_lib's whenever every class is in both sets)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import MultiLabelBinarizer

from .classifiers import study_logistic_regression
from .mig import discrete_mutual_info, histogram_discretize


@dataclass
class ModularityConfig:
    num_train: int = 10_000  # modularity_explicitness.gin: num_train = 10000
    num_test: int = 5_000  # modularity_explicitness.gin: num_test = 5000
    batch_size: int = 16  # modularity_explicitness.py: batch_size=16
    num_bins: int = 20  # modularity_explicitness.gin: discretizer.num_bins = 20
    chunk: int = 4096  # observations per representation call (ours; does not change the score)


def modularity(mutual_information: np.ndarray) -> float:
    """Mean over codes of 1 - (sum of squared MI but the largest) / (largest * (F - 1)); a code
    sharing no information with any factor scores 0."""
    squared = np.square(mutual_information)
    largest = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 1.0 - (squared.sum(axis=1) - largest) / (largest * (squared.shape[1] - 1.0))
    score[largest == 0.0] = 0.0
    return float(np.mean(score))


def explicitness_per_factor(codes: np.ndarray, factor: np.ndarray, codes_test: np.ndarray,
                            factor_test: np.ndarray) -> tuple[float, float]:
    """Train and test one-vs-rest ROC-AUC of a logistic regression from all codes (D, N)."""
    classifier = study_logistic_regression().fit(codes.T, factor)
    binarizer = MultiLabelBinarizer(classes=classifier.classes_)
    return tuple(float(roc_auc_score(binarizer.fit_transform(y[:, None]),
                                     classifier.predict_proba(x.T)))
                 for x, y in ((codes, factor), (codes_test, factor_test)))


def modularity_explicitness_from_codes(codes: np.ndarray, factors: np.ndarray,
                                       codes_test: np.ndarray, factors_test: np.ndarray,
                                       num_bins: int = 20) -> dict[str, float]:
    """Modularity and explicitness of train/test codes (D, N) and factors (F, N)."""
    info = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
    mean, std = codes.mean(axis=1, keepdims=True), codes.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    explicitness = np.array([explicitness_per_factor((codes - mean) / std, factors[j],
                                                     (codes_test - mean) / std, factors_test[j])
                             for j in range(len(factors))])
    return {"modularity_score": modularity(info),
            "explicitness_score_train": float(explicitness[:, 0].mean()),
            "explicitness_score_test": float(explicitness[:, 1].mean())}

