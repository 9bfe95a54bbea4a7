"""Separated Attribute Predictability (Kumar et al., 2018, Sec. 3): per factor, the gap between the
two code dimensions that best predict it on their own. As disentanglement_lib
`evaluation/metrics/sap_score.py` computes it for discrete factors (the study's
continuous_factors = False): the score of (code i, factor j) is the test accuracy of a
LinearSVC(C=0.01, class_weight="balanced") trained on code i alone. The D x F fits are
independent: they can run in threads (n_jobs; liblinear fits without holding the GIL)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.svm import LinearSVC


@dataclass
class SAPConfig:
    num_train: int = 10_000  # sap_score.gin: sap_score.num_train = 10000
    num_test: int = 5_000  # sap_score.gin: sap_score.num_test = 5000
    batch_size: int = 16  # sap_score.py: compute_sap batch_size=16
    continuous_factors: bool = False  # sap_score.gin: sap_score.continuous_factors = False
    n_jobs: int = 1  # classifier fits in threads (ours; does not change the score)
    chunk: int = 4096  # observations per representation call (ours; does not change the score)


def _svm_accuracy(code: np.ndarray, factor: np.ndarray, code_test: np.ndarray,
                  factor_test: np.ndarray) -> float:
    classifier = LinearSVC(C=0.01, class_weight="balanced")
    classifier.fit(code[:, None], factor)
    return float(np.mean(classifier.predict(code_test[:, None]) == factor_test))


def _correlation_score(code: np.ndarray, factor: np.ndarray) -> float:
    cov = np.cov(code, factor, ddof=1)
    return float(cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])) if cov[0, 0] > 1e-12 else 0.0


def sap_score_matrix(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray,
                     factors_test: np.ndarray, continuous_factors: bool = False,
                     n_jobs: int = 1) -> np.ndarray:
    """(D, F) predictability of each factor from each code dimension (compute_score_matrix)."""
    pairs = [(i, j) for i in range(len(codes)) for j in range(len(factors))]
    if continuous_factors:
        scores = [_correlation_score(codes[i], factors[j]) for i, j in pairs]
    else:
        scores = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_svm_accuracy)(codes[i], factors[j], codes_test[i], factors_test[j])
            for i, j in pairs)
    return np.array(scores).reshape(len(codes), len(factors))


def sap_from_codes(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray,
                   factors_test: np.ndarray, continuous_factors: bool = False,
                   n_jobs: int = 1) -> dict[str, float]:
    """SAP of train/test codes (D, N) and factors (F, N) (sap_score.py _compute_sap)."""
    matrix = np.sort(sap_score_matrix(codes, factors, codes_test, factors_test,
                                      continuous_factors, n_jobs), axis=0)
    return {"SAP_score": float(np.mean(matrix[-1] - matrix[-2]))}

