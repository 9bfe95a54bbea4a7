"""Disentanglement, Completeness, Informativeness (Eastwood & Williams, 2018, Sec. 2): from the
feature importances of one gradient-boosted-trees classifier per factor. As disentanglement_lib
`evaluation/metrics/dci.py` computes it: sklearn's GradientBoostingClassifier with its defaults,
importance matrix (D codes x F factors), entropies with 1e-11 added, informativeness as the mean
train/test accuracy. The F fits are independent: they can run in threads (n_jobs; sklearn fits
without holding the GIL).

One difference: disentanglement_lib leaves the classifier's random_state unset; here it is fixed
(random_state=0) so that reruns agree. It only breaks ties between equally good splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats
from joblib import Parallel, delayed
from sklearn.ensemble import GradientBoostingClassifier


@dataclass
class DCIConfig:
    num_train: int = 10_000  # dci.gin: dci.num_train = 10000
    num_test: int = 5_000  # dci.gin: dci.num_test = 5000
    batch_size: int = 16  # dci.py: compute_dci batch_size=16
    random_state: int | None = 0  # ours: dci.py leaves GradientBoostingClassifier's unset
    n_jobs: int = 1  # classifier fits in threads (ours; scores unchanged given random_state)
    chunk: int = 4096  # observations per representation call (ours; does not change the score)


def _fit_factor(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                random_state: int | None) -> tuple[np.ndarray, float, float]:
    model = GradientBoostingClassifier(random_state=random_state).fit(x_train, y_train)
    return (np.abs(model.feature_importances_), float(np.mean(model.predict(x_train) == y_train)),
            float(np.mean(model.predict(x_test) == y_test)))


def importance_gbt(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray,
                   factors_test: np.ndarray, random_state: int | None = 0, n_jobs: int = 1
                   ) -> tuple[np.ndarray, float, float]:
    """Importance matrix (D, F), mean train and test accuracy (dci.py compute_importance_gbt)."""
    fits = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_fit_factor)(codes.T, factors[j], codes_test.T, factors_test[j], random_state)
        for j in range(len(factors)))
    importance = np.stack([f[0] for f in fits], axis=1)
    return importance, float(np.mean([f[1] for f in fits])), float(np.mean([f[2] for f in fits]))


def _weighted_score(importance: np.ndarray) -> float:
    """Importance-weighted mean over rows of 1 - entropy of each row (base: the row length)."""
    per_row = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    return float(np.sum(per_row * importance.sum(axis=1) / importance.sum()))


def disentanglement(importance: np.ndarray) -> float:
    """dci.py disentanglement: per code, over factors."""
    return _weighted_score(importance)


def completeness(importance: np.ndarray) -> float:
    """dci.py completeness: per factor, over codes."""
    return _weighted_score(importance.T)


def dci_from_codes(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray,
                   factors_test: np.ndarray, random_state: int | None = 0, n_jobs: int = 1
                   ) -> dict[str, float]:
    """DCI of train/test codes (D, N) and factors (F, N) (dci.py _compute_dci)."""
    importance, train_accuracy, test_accuracy = importance_gbt(
        codes, factors, codes_test, factors_test, random_state, n_jobs)
    return {"informativeness_train": train_accuracy, "informativeness_test": test_accuracy,
            "disentanglement": disentanglement(importance),
            "completeness": completeness(importance)}

