"""The metrics on hand-made representations with known answers (the factors themselves, a rotation
mixing pairs of factors, a constant code), their building blocks against hand computations and
disentanglement_lib's own formulas, and the draw order against a transcription of its loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from paperlab.errors import UserError
from paperlab.papers.disentanglement.ground_truth import FactorGrid
from paperlab.papers.disentanglement.metrics import (
    METRICS,
    DCIConfig,
    MIGConfig,
    ModularityConfig,
    SAPConfig,
    evaluate,
    make_metric,
)
from paperlab.papers.disentanglement.metrics.beta_vae import BetaVAEScoreConfig
from paperlab.papers.disentanglement.metrics.classifiers import study_logistic_regression
from paperlab.papers.disentanglement.metrics.dci import (
    completeness,
    dci_from_codes,
    disentanglement,
)
from paperlab.papers.disentanglement.metrics.factor_vae import (
    FactorVAEScoreConfig,
    majority_vote_accuracies,
)
from paperlab.papers.disentanglement.metrics.mig import (
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    mig_from_codes,
)
from paperlab.papers.disentanglement.metrics.modularity import modularity
from paperlab.papers.disentanglement.metrics.sampling import generate_batch_factor_code
from paperlab.papers.disentanglement.metrics.sap import sap_score_matrix

DATA = FactorGrid((4, 4, 4, 4))
PAIRS = np.kron(np.eye(2), np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2))  # 45 deg per pair
REPRESENTATIONS = {
    "identity": lambda x: x,
    "pair_rotation": lambda x: x @ PAIRS.T,  # code 2k, 2k+1 mix factors 2k, 2k+1 equally
    "constant": lambda x: np.zeros((len(x), 4)),
}
SMALL = {
    "beta_vae_score": BetaVAEScoreConfig(num_train=300, num_eval=200),
    "factor_vae_score": FactorVAEScoreConfig(num_train=400, num_eval=400,
                                             num_variance_estimate=2000),
    "mig": MIGConfig(num_train=4000),
    "dci": DCIConfig(num_train=300, num_test=200),
    "modularity_explicitness": ModularityConfig(num_train=4000, num_test=1000),
}


@pytest.fixture(scope="module")
def scores() -> dict[str, dict[str, dict[str, float]]]:
    return {name: evaluate(DATA, represent, list(SMALL), 0, SMALL)
            for name, represent in REPRESENTATIONS.items()}


def test_the_factors_themselves_score_top_marks(scores) -> None:
    s = scores["identity"]
    assert s["beta_vae_score"]["eval_accuracy"] == 1.0
    assert s["factor_vae_score"]["eval_accuracy"] == 1.0
    assert s["factor_vae_score"]["num_active_dims"] == 4
    assert s["mig"]["discrete_mig"] > 0.99  # 1 - (plug-in MI between independent factors) / H
    assert s["dci"]["disentanglement"] > 0.99 and s["dci"]["completeness"] > 0.99
    assert s["dci"]["informativeness_test"] == 1.0
    assert s["modularity_explicitness"]["modularity_score"] > 0.99
    assert s["modularity_explicitness"]["explicitness_score_test"] > 0.9


def test_mixing_pairs_of_factors_halves_the_disentanglement_scores(scores) -> None:
    s = scores["pair_rotation"]
    # fixing either factor of a pair leaves both of its codes equally variable: votes split
    assert 0.35 < s["factor_vae_score"]["eval_accuracy"] < 0.65
    assert s["mig"]["discrete_mig"] < 0.1  # each code is as informative of both factors
    # importance split evenly over 2 of 4 factors: 1 - log 2 / log 4 = 0.5
    assert s["dci"]["disentanglement"] == pytest.approx(0.5, abs=0.12)
    assert s["dci"]["completeness"] == pytest.approx(0.5, abs=0.12)
    # two equal mutual informations out of 4 factors: 1 - 1 / (4 - 1)
    assert s["modularity_explicitness"]["modularity_score"] == pytest.approx(2 / 3, abs=0.05)
    # the two factors of a pair change |code differences| alike: the classifier can only guess
    assert s["beta_vae_score"]["eval_accuracy"] == pytest.approx(0.5, abs=0.1)
    # informativeness does not care about the rotation
    assert s["dci"]["informativeness_test"] == 1.0
    assert s["modularity_explicitness"]["explicitness_score_test"] > 0.9


def test_a_constant_code_scores_zero_or_chance(scores) -> None:
    s = scores["constant"]
    assert s["factor_vae_score"] == {"train_accuracy": 0.0, "eval_accuracy": 0.0,
                                     "num_active_dims": 0}
    assert s["mig"]["discrete_mig"] == 0.0
    assert s["dci"]["disentanglement"] == 0.0 and s["dci"]["completeness"] == 0.0
    assert s["modularity_explicitness"]["modularity_score"] == 0.0
    # classifiers of a constant input can only guess: chance accuracy / AUC
    assert s["beta_vae_score"]["eval_accuracy"] == pytest.approx(0.25, abs=0.08)
    assert s["modularity_explicitness"]["explicitness_score_test"] == pytest.approx(0.5)


def test_sap_on_binary_factors() -> None:
    rng = np.random.default_rng(0)
    factors, factors_test = rng.integers(0, 2, (3, 2000)), rng.integers(0, 2, (3, 1000))
    matrix = sap_score_matrix(factors.astype(float), factors, factors_test.astype(float),
                              factors_test)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)  # each factor from its own code
    off = matrix[~np.eye(3, dtype=bool)]
    assert np.all(np.abs(off - 0.5) < 0.06)  # from another, independent code: chance
    sap = METRICS["sap_score"].score((factors.astype(float), factors),
                                     (factors_test.astype(float), factors_test), SAPConfig())
    assert sap["SAP_score"] == pytest.approx(1.0 - np.sort(matrix, axis=0)[-2].mean())
    constant = sap_score_matrix(np.zeros((2, 2000)), factors, np.zeros((2, 1000)), factors_test)
    assert np.all(constant[0] == constant[1])  # SAP 0


def test_histogram_discretize_as_disentanglement_lib() -> None:
    codes = np.random.default_rng(0).normal(size=(3, 500))
    theirs = np.zeros_like(codes)  # utils._histogram_discretize, transcribed
    for i in range(codes.shape[0]):
        theirs[i, :] = np.digitize(codes[i, :], np.histogram(codes[i, :], 20)[1][:-1])
    np.testing.assert_array_equal(histogram_discretize(codes, 20), theirs)
    bins = histogram_discretize(codes, 20)
    assert bins.min() == 1 and bins.max() == 20


def test_mutual_information_against_labels_and_by_hand() -> None:
    rng = np.random.default_rng(1)
    codes, factors = rng.integers(1, 6, (3, 400)), rng.integers(0, 4, (2, 400))
    codes[0] = factors[0] + 1  # one code equal to a factor
    info = discrete_mutual_info(codes, factors)
    for i in range(3):
        for j in range(2):  # disentanglement_lib: mutual_info_score on the labels, pair by pair
            assert info[i, j] == pytest.approx(mutual_info_score(factors[j], codes[i]), abs=1e-12)
    n = codes.shape[1]
    by_hand = 0.0
    for a in np.unique(codes[2]):
        for b in np.unique(factors[1]):
            p_ab = np.mean((codes[2] == a) & (factors[1] == b))
            if p_ab > 0:
                p_a, p_b = np.mean(codes[2] == a), np.mean(factors[1] == b)
                by_hand += p_ab * math.log(p_ab / (p_a * p_b))
    assert info[2, 1] == pytest.approx(by_hand, abs=1e-12)
    counts = np.bincount(factors[0]) / n
    assert discrete_entropy(factors)[0] == pytest.approx(-np.sum(counts * np.log(counts)))
    assert info[0, 0] == pytest.approx(discrete_entropy(factors)[0])


def test_mig_by_hand() -> None:
    rng = np.random.default_rng(2)
    factors = rng.integers(0, 5, (2, 3000))
    codes = np.stack([factors[0], factors[1] + rng.normal(0, 0.3, 3000), rng.normal(size=3000)])
    info = discrete_mutual_info(histogram_discretize(codes, 20), factors)
    entropy = discrete_entropy(factors)
    expected = np.mean([(np.sort(info[:, k])[-1] - np.sort(info[:, k])[-2]) / entropy[k]
                        for k in range(2)])
    assert mig_from_codes(codes, factors)["discrete_mig"] == pytest.approx(expected)
    with pytest.raises(UserError, match="constant in the sample"):
        mig_from_codes(codes, np.zeros((1, 3000), int))


def test_dci_scores_by_hand() -> None:
    assert disentanglement(np.eye(3)) == pytest.approx(1.0)
    assert completeness(np.eye(3)) == pytest.approx(1.0)
    assert disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)
    assert disentanglement(np.zeros((3, 3))) == pytest.approx(0.0, abs=1e-9)
    importance = np.array([[1.0, 1.0], [0.0, 2.0]])  # code 0 serves both factors, code 1 one
    assert disentanglement(importance) == pytest.approx(0.5 * 0.0 + 0.5 * 1.0, abs=1e-6)
    h = -(1 / 3 * math.log2(1 / 3) + 2 / 3 * math.log2(2 / 3))
    assert completeness(importance) == pytest.approx(0.25 * 1.0 + 0.75 * (1 - h), abs=1e-6)


def test_modularity_by_hand() -> None:
    info = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    # codes: one factor -> 1; two equal -> 1 - 1 / (1 * 2); none -> 0
    assert modularity(info) == pytest.approx((1.0 + 0.5 + 0.0) / 3)


def test_majority_vote_accuracies_by_hand() -> None:
    train = np.array([[5, 0, 1], [1, 4, 3], [0, 0, 2]])  # dims -> factors 0, 1, 1
    evaluation = np.array([[2, 1, 0], [0, 3, 1], [1, 0, 2]])
    assert majority_vote_accuracies(train, evaluation) == pytest.approx((12 / 16, 6 / 10))


def test_sampling_keeps_disentanglement_libs_draws_whatever_the_chunk() -> None:
    def represent(x: np.ndarray) -> np.ndarray:
        return np.tanh(x @ np.arange(12.0).reshape(4, 3) / 10)

    reference = np.random.RandomState(3)  # utils.generate_batch_factor_code, transcribed
    factors = [DATA.sample(16, reference)[0] for _ in range(7)] + [DATA.sample(4, reference)[0]]
    factors = np.concatenate(factors)
    for chunk in (1, 50, 4096):
        codes, ys = generate_batch_factor_code(DATA, represent, 116, np.random.RandomState(3), 16,
                                               chunk)
        np.testing.assert_array_equal(ys, factors.T)
        np.testing.assert_allclose(codes, represent(factors.astype(np.float32)).T, rtol=1e-6)


def test_beta_vae_score_draws_as_disentanglement_lib() -> None:
    def represent(x: np.ndarray) -> np.ndarray:
        return x @ PAIRS.T + 0.1 * np.sin(7 * x[:, ::-1])

    def points(num: int, random_state: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        labels, features = [], []  # beta_vae.py _generate_training_batch, transcribed
        for _ in range(num):
            index = random_state.randint(DATA.num_factors)
            f1, f2 = DATA.sample_factors(8, random_state), DATA.sample_factors(8, random_state)
            f2[:, index] = f1[:, index]
            r1 = represent(DATA.sample_observations_from_factors(f1, random_state))
            r2 = represent(DATA.sample_observations_from_factors(f2, random_state))
            labels.append(index)
            features.append(np.mean(np.abs(r1 - r2), axis=0))
        return np.array(features), np.array(labels)

    random_state = np.random.RandomState(4)
    x_train, y_train = points(60, random_state)
    model = study_logistic_regression(random_state.randint(np.iinfo("i").max)).fit(x_train, y_train)
    x_eval, y_eval = points(40, random_state)
    ours = METRICS["beta_vae_score"](DATA, represent, np.random.RandomState(4),
                                     BetaVAEScoreConfig(batch_size=8, num_train=60, num_eval=40))
    assert ours == {"train_accuracy": model.score(x_train, y_train),
                    "eval_accuracy": model.score(x_eval, y_eval)}


def test_evaluate_shares_points_with_the_scores_of_separate_runs() -> None:
    configs = {"mig": MIGConfig(num_train=300), "sap_score": SAPConfig(num_train=300, num_test=100),
               "dci": DCIConfig(num_train=300, num_test=100),
               "modularity_explicitness": ModularityConfig(num_train=300, num_test=100)}
    data = FactorGrid((2, 3, 2, 3))  # few classes: quick boosted trees
    represent = REPRESENTATIONS["pair_rotation"]
    together = evaluate(data, represent, list(configs), 5, configs)
    for name, cfg in configs.items():
        assert together[name] == METRICS[name](data, represent, np.random.RandomState(5), cfg)


def test_unknown_metric_lists_the_valid_ones() -> None:
    with pytest.raises(UserError, match="unknown metric 'migg'.*choose one of: beta_vae_score, "
                                        "factor_vae_score, mig, sap_score, dci, "
                                        "modularity_explicitness"):
        make_metric("migg")


def test_threaded_fits_give_the_same_scores() -> None:
    (codes, factors), (codes_test, factors_test) = (
        generate_batch_factor_code(DATA, REPRESENTATIONS["pair_rotation"], n,
                                   np.random.RandomState(n), 16) for n in (200, 100))
    args = (codes + 0.01 * np.sin(np.arange(codes.size).reshape(codes.shape)), factors,
            codes_test, factors_test)
    np.testing.assert_array_equal(sap_score_matrix(*args, n_jobs=2), sap_score_matrix(*args))
    assert dci_from_codes(*args, random_state=0, n_jobs=2) == dci_from_codes(*args, random_state=0)
