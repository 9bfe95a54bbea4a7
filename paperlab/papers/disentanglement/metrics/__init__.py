"""The disentanglement metrics of Locatello et al. (ICML 2019, Sec. 4 "Considered metrics"), as
disentanglement_lib `evaluation/metrics/` computes them with the study's settings
(config/unsupervised_study_v1/metric_configs/*.gin), by name.

Every metric takes ground-truth data, a representation function (observations -> codes) and a
np.random.RandomState, and returns a dict of scores; the study seeds each metric with
RandomState(0) (evaluation.random_seed = 0). MIG, SAP, DCI and modularity/explicitness only need
codes and factors of random points (`CodeMetric`); as they all draw their points with the same
seed and sampling batch, `evaluate` draws them once and gives them to all four, with the scores
each would get alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from paperlab.errors import UserError

from ..ground_truth import GroundTruthData
from .beta_vae import BetaVAEScoreConfig, compute_beta_vae_score
from .dci import DCIConfig, dci_from_codes
from .factor_vae import FactorVAEScoreConfig, compute_factor_vae_score
from .mig import MIGConfig, mig_from_codes
from .modularity import ModularityConfig, modularity_explicitness_from_codes
from .sampling import RepresentationFn, generate_batch_factor_code
from .sap import SAPConfig, sap_from_codes

Scores = dict[str, float]
Sample = tuple[np.ndarray, np.ndarray]  # codes (D, N), factors (F, N)


@dataclass(frozen=True)
class SamplingMetric:
    """A metric that draws its own structured samples (BetaVAE and FactorVAE scores)."""

    compute: Callable[..., Scores]
    Config: type

    def __call__(self, data: GroundTruthData, represent: RepresentationFn,
                 random_state: np.random.RandomState, cfg: Any = None) -> Scores:
        return self.compute(data, represent, random_state, cfg or self.Config())


@dataclass(frozen=True)
class CodeMetric:
    """A metric of codes and factors of i.i.d. points: `num_train` of them, then `num_test`."""

    score: Callable[[Sample, Sample | None, Any], Scores]
    Config: type

    def __call__(self, data: GroundTruthData, represent: RepresentationFn,
                 random_state: np.random.RandomState, cfg: Any = None) -> Scores:
        cfg = cfg or self.Config()
        train = generate_batch_factor_code(data, represent, cfg.num_train, random_state,
                                           cfg.batch_size, cfg.chunk)
        return self.score(train, _test_sample(data, represent, random_state, cfg), cfg)


def _test_sample(data: GroundTruthData, represent: RepresentationFn,
                 random_state: np.random.RandomState, cfg: Any) -> Sample | None:
    if not hasattr(cfg, "num_test"):
        return None
    return generate_batch_factor_code(data, represent, cfg.num_test, random_state, cfg.batch_size,
                                      cfg.chunk)


METRICS: dict[str, SamplingMetric | CodeMetric] = {
    "beta_vae_score": SamplingMetric(compute_beta_vae_score, BetaVAEScoreConfig),
    "factor_vae_score": SamplingMetric(compute_factor_vae_score, FactorVAEScoreConfig),
    "mig": CodeMetric(lambda train, _, cfg: mig_from_codes(*train, cfg.num_bins), MIGConfig),
    "sap_score": CodeMetric(lambda train, test, cfg: sap_from_codes(
        *train, *test, cfg.continuous_factors, cfg.n_jobs), SAPConfig),
    "dci": CodeMetric(lambda train, test, cfg: dci_from_codes(
        *train, *test, cfg.random_state, cfg.n_jobs), DCIConfig),
    "modularity_explicitness": CodeMetric(
        lambda train, test, cfg: modularity_explicitness_from_codes(*train, *test, cfg.num_bins),
        ModularityConfig),
}

# The score the paper plots for each metric.
HEADLINE = {"beta_vae_score": "eval_accuracy", "factor_vae_score": "eval_accuracy",
            "mig": "discrete_mig", "sap_score": "SAP_score", "dci": "disentanglement",
            "modularity_explicitness": "modularity_score"}


def make_metric(name: str) -> SamplingMetric | CodeMetric:
    if name not in METRICS:
        raise UserError(f"unknown metric {name!r}", f"choose one of: {', '.join(METRICS)}")
    return METRICS[name]


def evaluate(data: GroundTruthData, represent: RepresentationFn, names: Sequence[str],
             seed: int = 0, configs: dict[str, Any] | None = None) -> dict[str, Scores]:
    """Each named metric, each as if run alone with RandomState(seed); the code metrics share
    their points whenever their sample sizes agree."""
    metrics = {name: make_metric(name) for name in names}
    configs = {name: (configs or {}).get(name) or m.Config() for name, m in metrics.items()}
    trains: dict[tuple[int, int], tuple[Sample, dict]] = {}
    tests: dict[tuple[int, int, int], Sample] = {}
    results = {}
    for name, metric in metrics.items():
        cfg = configs[name]
        if isinstance(metric, SamplingMetric):
            results[name] = metric(data, represent, np.random.RandomState(seed), cfg)
            continue
        key = (cfg.num_train, cfg.batch_size)
        if key not in trains:
            random_state = np.random.RandomState(seed)
            sample = generate_batch_factor_code(data, represent, cfg.num_train, random_state,
                                                cfg.batch_size, cfg.chunk)
            trains[key] = sample, random_state.get_state()
        train, state_after_train = trains[key]
        test = None
        if hasattr(cfg, "num_test"):
            test_key = (*key, cfg.num_test)
            if test_key not in tests:
                random_state = np.random.RandomState()
                random_state.set_state(state_after_train)
                tests[test_key] = _test_sample(data, represent, random_state, cfg)
            test = tests[test_key]
        results[name] = metric.score(train, test, cfg)
    return results
