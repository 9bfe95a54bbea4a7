"""FactorVAE score (Kim & Mnih, 2018, Sec. 4): hold one factor fixed over a batch, normalise each
code dimension by its global standard deviation, and let a majority-vote classifier map the
dimension of least variance to the factor. As disentanglement_lib
`evaluation/metrics/factor_vae.py` compute_factor_vae computes it, with the study's pruning of
dimensions whose global standard deviation is below 0.05.

One reporting difference: disentanglement_lib's "num_active_dims" is len(mask), i.e. always the
code size; here it is the number of dimensions kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..ground_truth import GroundTruthData
from .sampling import RepresentationFn, encode_stream


@dataclass
class FactorVAEScoreConfig:
    batch_size: int = 64  # factor_vae_metric.gin: factor_vae_score.batch_size = 64
    num_train: int = 10_000  # factor_vae_metric.gin: num_train = 10000
    num_eval: int = 5_000  # factor_vae_metric.gin: num_eval = 5000
    num_variance_estimate: int = 10_000  # factor_vae_metric.gin: num_variance_estimate = 10000
    prune_threshold: float = 0.05  # factor_vae_metric.gin: prune_dims.threshold = 0.05
    chunk: int = 4096  # observations per representation call (ours; does not change the score)


def global_variances(data: GroundTruthData, represent: RepresentationFn, num: int,
                     random_state: np.random.RandomState, chunk: int) -> np.ndarray:
    """Variance (ddof 1) of each code dimension over `num` random observations."""
    codes = np.concatenate([c for _, c in encode_stream(
        data.observation_chunks(num, random_state, chunk), represent, chunk)])
    return np.var(codes, axis=0, ddof=1)


def votes(data: GroundTruthData, represent: RepresentationFn, cfg: FactorVAEScoreConfig,
          num_points: int, random_state: np.random.RandomState, variances: np.ndarray,
          active: np.ndarray) -> np.ndarray:
    """(num_factors, D) counts of (fixed factor, argmin over active dims of normalised variance);
    the column is the position among the active dimensions, as in disentanglement_lib."""
    def batches() -> Iterator[tuple[int, np.ndarray]]:
        for _ in range(num_points):
            index = random_state.randint(data.num_factors)
            factors = data.sample_factors(cfg.batch_size, random_state)
            factors[:, index] = factors[0, index]
            yield index, data.sample_observations_from_factors(factors, random_state)

    counts = np.zeros((data.num_factors, len(variances)), np.int64)
    for index, codes in encode_stream(batches(), represent, cfg.chunk):
        local = np.var(codes, axis=0, ddof=1)
        counts[index, np.argmin(local[active] / variances[active])] += 1
    return counts


def majority_vote_accuracies(train_votes: np.ndarray, eval_votes: np.ndarray
                             ) -> tuple[float, float]:
    """Accuracy of the classifier mapping each dimension to its most voted factor."""
    classifier = np.argmax(train_votes, axis=0)
    columns = np.arange(train_votes.shape[1])
    return (float(train_votes[classifier, columns].sum() / train_votes.sum()),
            float(eval_votes[classifier, columns].sum() / eval_votes.sum()))


def compute_factor_vae_score(data: GroundTruthData, represent: RepresentationFn,
                             random_state: np.random.RandomState,
                             cfg: FactorVAEScoreConfig | None = None) -> dict[str, float]:
    cfg = cfg or FactorVAEScoreConfig()
    variances = global_variances(data, represent, cfg.num_variance_estimate, random_state,
                                 cfg.chunk)
    active = np.sqrt(variances) >= cfg.prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    train_votes = votes(data, represent, cfg, cfg.num_train, random_state, variances, active)
    eval_votes = votes(data, represent, cfg, cfg.num_eval, random_state, variances, active)
    train_accuracy, eval_accuracy = majority_vote_accuracies(train_votes, eval_votes)
    return {"train_accuracy": train_accuracy, "eval_accuracy": eval_accuracy,
            "num_active_dims": int(active.sum())}
