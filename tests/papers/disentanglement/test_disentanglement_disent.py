"""Agreement with disent (PyPI; the peer library) where the definitions coincide, on the same codes,
factors and seeds; and the places where disentanglement_lib, which we follow, differs from it."""

from __future__ import annotations

import numpy as np
import pytest
from disent.metrics import metric_dci, metric_factor_vae, metric_mig, metric_sap
from disent.metrics._dci import _compute_dci
from disent.metrics._mig import _compute_mig
from disent.metrics._sap import _compute_sap

from paperlab.papers.disentanglement.disent_bridge import (
    GLOBAL_RANDOM_STATE,
    DisentOrder,
    disent_dataset,
    disent_representation,
)
from paperlab.papers.disentanglement.ground_truth import FactorGrid
from paperlab.papers.disentanglement.metrics import METRICS, DCIConfig, MIGConfig, SAPConfig
from paperlab.papers.disentanglement.metrics.dci import dci_from_codes
from paperlab.papers.disentanglement.metrics.factor_vae import FactorVAEScoreConfig
from paperlab.papers.disentanglement.metrics.mig import mig_from_codes
from paperlab.papers.disentanglement.metrics.sap import sap_from_codes

DATA = FactorGrid((3, 4, 5, 6))
FEW_CLASSES = FactorGrid((2, 3, 2, 3))  # for the boosted trees of DCI: one tree per class and stage
MIXING = np.random.RandomState(0).normal(size=(4, 5))


def represent(x: np.ndarray) -> np.ndarray:
    return np.tanh(x @ MIXING / 4)


def codes_and_factors(seed: int, n: int, data: FactorGrid = DATA) -> tuple[np.ndarray, np.ndarray]:
    factors = data.sample_factors(n, np.random.RandomState(seed))
    return represent(factors.astype(np.float32)).T, factors.T


def test_mig_sap_dci_agree_on_the_same_codes() -> None:
    codes, factors = codes_and_factors(0, 600)
    codes_test, factors_test = codes_and_factors(1, 300)
    ours = mig_from_codes(codes, factors)["discrete_mig"]
    assert ours == pytest.approx(_compute_mig(codes, factors)["mig.discrete_score"], abs=1e-12)
    ours = sap_from_codes(codes, factors, codes_test, factors_test)["SAP_score"]
    theirs = _compute_sap(codes, factors, codes_test, factors_test, False)["sap.score"]
    assert ours == pytest.approx(theirs, abs=1e-12)
    # sklearn's boosted trees break split ties with random_state; disent leaves it None (the
    # global RandomState), which we default to 0: seeded alike, they agree
    (codes, factors), (codes_test, factors_test) = (codes_and_factors(2, 300, FEW_CLASSES),
                                                    codes_and_factors(3, 100, FEW_CLASSES))
    np.random.seed(3)
    theirs = _compute_dci(codes, factors, codes_test, factors_test)
    np.random.seed(3)
    ours = dci_from_codes(codes, factors, codes_test, factors_test, random_state=None)
    for key in ("disentanglement", "completeness", "informativeness_train", "informativeness_test"):
        assert ours[key] == pytest.approx(theirs[f"dci.{key}"], abs=1e-12)


def run_both(disent_metric, kwargs: dict, ours: str, cfg, data: FactorGrid = DATA,
             seed: int = 7) -> tuple[dict, dict]:
    """disent's metric and ours, each after np.random.seed(seed), on the same data."""
    np.random.seed(seed)
    theirs = disent_metric(disent_dataset(data), disent_representation(represent), **kwargs)
    np.random.seed(seed)
    return theirs, METRICS[ours](DisentOrder(data), represent, GLOBAL_RANDOM_STATE, cfg)


def test_whole_metrics_draw_the_same_points_and_agree() -> None:
    theirs, ours = run_both(metric_mig, {"num_train": 800}, "mig", MIGConfig(num_train=800))
    assert ours["discrete_mig"] == pytest.approx(theirs["mig.discrete_score"], abs=1e-12)
    theirs, ours = run_both(metric_sap, {"num_train": 800, "num_test": 300}, "sap_score",
                            SAPConfig(num_train=800, num_test=300))
    assert ours["SAP_score"] == pytest.approx(theirs["sap.score"], abs=1e-12)
    theirs, ours = run_both(metric_dci, {"num_train": 300, "num_test": 100}, "dci",
                            DCIConfig(num_train=300, num_test=100, random_state=None), FEW_CLASSES)
    assert ours["disentanglement"] == pytest.approx(theirs["dci.disentanglement"], abs=1e-12)
    assert ours["informativeness_test"] == pytest.approx(theirs["dci.informativeness_test"])
    # disent's FactorVAE score prunes nothing (threshold 0): with that setting, the same votes
    sizes = {"num_train": 300, "num_eval": 200, "num_variance_estimate": 300}
    theirs, ours = run_both(metric_factor_vae, sizes, "factor_vae_score",
                            FactorVAEScoreConfig(**sizes, prune_threshold=0.0))
    assert ours["train_accuracy"] == pytest.approx(theirs["factor_vae.train_accuracy"], abs=1e-12)
    assert ours["eval_accuracy"] == pytest.approx(theirs["factor_vae.eval_accuracy"], abs=1e-12)


def test_factor_vae_score_differs_where_disentanglement_lib_prunes_collapsed_dims() -> None:
    """disentanglement_lib's study prunes code dimensions whose standard deviation is below 0.05
    (prune_dims.threshold = 0.05); disent keeps every dimension, so a collapsed (constant)
    dimension's 0/0 variance ratio, NaN, wins every argmin. disent also reports the mask length as
    num_active_dims; we report the number of dimensions kept."""
    def collapsed(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((len(x), 1)), x / 4], axis=1)  # dim 0 collapsed

    sizes = {"num_train": 200, "num_eval": 100, "num_variance_estimate": 300}
    np.random.seed(8)
    theirs = metric_factor_vae(disent_dataset(DATA), disent_representation(collapsed), **sizes)
    np.random.seed(8)
    ours = METRICS["factor_vae_score"](DisentOrder(DATA), collapsed, GLOBAL_RANDOM_STATE,
                                       FactorVAEScoreConfig(**sizes))
    assert ours == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "num_active_dims": 4}
    assert theirs["factor_vae.num_active_dims"] == 5
    assert theirs["factor_vae.eval_accuracy"] < 0.5  # all votes on the collapsed dimension
