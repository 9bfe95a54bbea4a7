"""BetaVAE score (Higgins et al., 2017, Sec. 3): how well a linear classifier tells which factor was
held fixed from the mean absolute difference of the codes of two batches sharing that factor.
As disentanglement_lib `evaluation/metrics/beta_vae.py` compute_beta_vae_sklearn computes it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..ground_truth import GroundTruthData
from .classifiers import study_logistic_regression
from .sampling import RepresentationFn, encode_stream


@dataclass
class BetaVAEScoreConfig:
    batch_size: int = 64  # beta_vae_sklearn.gin: beta_vae_sklearn.batch_size = 64
    num_train: int = 10_000  # beta_vae_sklearn.gin: num_train = 10000
    num_eval: int = 5_000  # beta_vae_sklearn.gin: num_eval = 5000
    chunk: int = 4096  # observations per representation call (ours; does not change the score)


def _points(data: GroundTruthData, represent: RepresentationFn, cfg: BetaVAEScoreConfig,
            num_points: int, random_state: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Features mean|r(x1) - r(x2)| (num_points, D) and the fixed factor of each (num_points,)."""
    def pairs() -> Iterator[tuple[int, np.ndarray]]:
        for _ in range(num_points):
            index = random_state.randint(data.num_factors)
            factors1 = data.sample_factors(cfg.batch_size, random_state)
            factors2 = data.sample_factors(cfg.batch_size, random_state)
            factors2[:, index] = factors1[:, index]
            yield index, data.sample_observations_from_factors(factors1, random_state)
            yield index, data.sample_observations_from_factors(factors2, random_state)

    codes = encode_stream(pairs(), represent, cfg.chunk)
    labels, features = [], []
    for (index, first), (_, second) in zip(codes, codes, strict=True):
        labels.append(index)
        features.append(np.mean(np.abs(first - second), axis=0))
    return np.array(features), np.array(labels, np.int64)


def compute_beta_vae_score(data: GroundTruthData, represent: RepresentationFn,
                           random_state: np.random.RandomState,
                           cfg: BetaVAEScoreConfig | None = None) -> dict[str, float]:
    cfg = cfg or BetaVAEScoreConfig()
    train_points, train_labels = _points(data, represent, cfg, cfg.num_train, random_state)
    # LogisticRegression(random_state=random_state) drew one seed for liblinear from it
    model = study_logistic_regression(random_state.randint(np.iinfo("i").max))
    model.fit(train_points, train_labels)
    eval_points, eval_labels = _points(data, represent, cfg, cfg.num_eval, random_state)
    return {"train_accuracy": float(np.mean(model.predict(train_points) == train_labels)),
            "eval_accuracy": float(np.mean(model.predict(eval_points) == eval_labels))}
