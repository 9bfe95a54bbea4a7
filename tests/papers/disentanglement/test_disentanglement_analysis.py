"""The study's analysis on a small results table (variance shares by hand, rank correlation against
scipy pair by pair, the figures), the model figures, and the representation functions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from matplotlib.collections import PathCollection

from paperlab.errors import UserError
from paperlab.io.figures import save_figure
from paperlab.papers.disentanglement.analysis import (
    ResultTable,
    plot_metric_violins,
    plot_rank_correlation,
    plot_scores_by_hyperparameter,
    plot_variance_explained,
    rank_correlation,
    variance_explained,
)
from paperlab.papers.disentanglement.architectures import VAE, VAEConfig
from paperlab.papers.disentanglement.dsprites import DSpritesArrays
from paperlab.papers.disentanglement.ground_truth import DSprites
from paperlab.papers.disentanglement.metrics import MIGConfig, SAPConfig, evaluate
from paperlab.papers.disentanglement.metrics.beta_vae import BetaVAEScoreConfig
from paperlab.papers.disentanglement.representation import (
    evaluate_model,
    representation_function,
)
from paperlab.papers.disentanglement.visualize import plot_latent_traversal, plot_reconstructions

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors (tests/conftest.py)


# method a: hyperparameters 1, 2; method b: hyperparameter 5; two seeds each
ROWS = [
    {"method": "a", "hyperparameter": 1, "seed": 0, "mig": 1.0, "sap": 0.3},
    {"method": "a", "hyperparameter": 1, "seed": 1, "mig": 3.0, "sap": 0.1},
    {"method": "a", "hyperparameter": 2, "seed": 0, "mig": 5.0, "sap": 0.2},
    {"method": "a", "hyperparameter": 2, "seed": 1, "mig": 7.0, "sap": 0.0},
    {"method": "b", "hyperparameter": 5, "seed": 0, "mig": 10.0, "sap": 0.5},
    {"method": "b", "hyperparameter": 5, "seed": 1, "mig": 12.0, "sap": 0.4},
]


@pytest.fixture
def table() -> ResultTable:
    return ResultTable.from_rows(ROWS, ["mig", "sap"])


def test_variance_shares_by_hand(table) -> None:
    # mig: grand mean 38/6; method means a = 4, b = 11; configs 2, 6, 11
    grand = 38 / 6
    method = 4 * (4 - grand) ** 2 + 2 * (11 - grand) ** 2
    hyperparameter = 2 * (2 - 4) ** 2 + 2 * (6 - 4) ** 2 + 2 * (11 - 11) ** 2
    seed = 6 * 1.0**2
    total = method + hyperparameter + seed
    shares = variance_explained(table)["mig"]
    assert shares == pytest.approx({"method": method / total,
                                    "hyperparameter": hyperparameter / total,
                                    "seed": seed / total})
    assert sum(variance_explained(table)["sap"].values()) == pytest.approx(1.0)


def test_rank_correlation_against_scipy(table) -> None:
    rho = rank_correlation(table)
    assert rho.shape == (2, 2) and rho[0, 0] == pytest.approx(1.0)
    expected = scipy.stats.spearmanr(table.scores["mig"], table.scores["sap"]).statistic
    assert rho[0, 1] == pytest.approx(expected) and rho[1, 0] == pytest.approx(expected)


def test_bad_tables() -> None:
    with pytest.raises(UserError, match=r"lack \['sap'\]"):
        ResultTable.from_rows([{k: v for k, v in ROWS[0].items() if k != "sap"}], ["mig", "sap"])
    with pytest.raises(UserError, match="NaN"):
        ResultTable.from_rows([ROWS[0] | {"mig": float("nan")}], ["mig"])


def test_analysis_figures(table, tmp_path) -> None:
    labels = {"mig": "MIG", "sap": "SAP"}
    violins = plot_metric_violins(table, labels)
    assert [ax.get_title() for ax in violins.axes if ax.get_visible()] == ["MIG", "SAP"]
    assert [t.get_text() for t in violins.axes[0].get_xticklabels()] == ["a", "b"]
    by_value = plot_scores_by_hyperparameter(table, labels)
    assert [t.get_text() for t in by_value.axes[0].get_xticklabels()] == ["1", "2", "5"]
    dots = [c for c in by_value.axes[0].collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == 6  # a dot per model
    heat = plot_rank_correlation(table, labels)
    assert len(heat.axes[0].texts) == 4  # one value per cell
    bars = plot_variance_explained(table, labels)
    assert len(bars.axes[0].patches) == 2 * 3  # (metric, source) bars
    for name, fig in (("violins", violins), ("by_value", by_value), ("rank", heat),
                      ("variance", bars)):
        path = save_figure(fig, tmp_path / f"{name}.png")
        assert path.stat().st_size > 10_000


def test_a_constant_metric_has_no_rank_correlation() -> None:
    table = ResultTable.from_rows([r | {"sap": 0.5} for r in ROWS], ["mig", "sap"])
    rho = rank_correlation(table)
    assert rho[0, 0] == 1.0 and np.isnan(rho[0, 1]) and np.isnan(rho[1, 1])
    texts = [t.get_text() for t in plot_rank_correlation(table).axes[0].texts]
    assert texts == ["1.00", "n/a", "n/a", "n/a"]


@pytest.fixture(scope="module")
def vae() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(num_latent=4))


def test_model_figures(vae, tmp_path) -> None:
    images = (torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(0)) > 0.9).float()
    reconstructions = plot_reconstructions(vae, images)
    mosaic = reconstructions.axes[0].images[0].get_array()
    assert mosaic.shape == (2 * 65 + 1, 3 * 65 + 1)  # inputs over reconstructions, 1 px apart
    np.testing.assert_array_equal(mosaic[1:65, 1:65], images[0, 0].numpy())
    with torch.no_grad():
        decoded = torch.sigmoid(vae.decoder(vae.encoder(images)[0]))
    np.testing.assert_allclose(mosaic[66:130, 131:195], decoded[2, 0].numpy(), atol=1e-6)
    traversal = plot_latent_traversal(vae, images[0], steps=5, kl_of=images)
    ax = traversal.axes[0]
    assert ax.get_images()[0].get_array().shape == (4 * 65 + 1, 6 * 65 + 1)  # 4 latents x (input + 5)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["input", "-2.0", "-1.0", "+0.0",
                                                            "+1.0", "+2.0"]
    assert [t.get_text()[:6] for t in ax.get_yticklabels()] == ["z0  KL", "z1  KL", "z2  KL",
                                                                 "z3  KL"]
    assert save_figure(traversal, tmp_path / "traversal.png").stat().st_size > 5_000


def test_representation_functions(vae) -> None:
    x = np.random.default_rng(0).random((5, 1, 64, 64)).astype(np.float32)
    with torch.no_grad():
        mean, log_var = vae.encoder(torch.from_numpy(x))
    np.testing.assert_allclose(representation_function(vae, "mean", batch_size=2)(x),
                               mean.numpy(), rtol=1e-5, atol=1e-6)
    sampled = representation_function(vae, "sampled", seed=3)(x)
    assert sampled.shape == (5, 4) and not np.allclose(sampled, mean.numpy())
    np.testing.assert_array_equal(sampled, representation_function(vae, "sampled", seed=3)(x))
    with pytest.raises(UserError, match="choose one of: mean, sampled"):
        representation_function(vae, "median")


def test_evaluate_model_scores_both_representations_from_one_encoding(vae, monkeypatch) -> None:
    images = np.packbits(np.random.default_rng(0).random((48, 64, 64)) < 0.2, axis=-1)
    data = DSprites(DSpritesArrays(images, (1, 3, 2, 2, 2, 2),
                                   tuple(np.linspace(0, 1, n) for n in (1, 3, 2, 2, 2, 2))))
    names = ["beta_vae_score", "mig", "sap_score"]
    configs = {"beta_vae_score": BetaVAEScoreConfig(num_train=6, num_eval=3),
               "mig": MIGConfig(num_train=100), "sap_score": SAPConfig(num_train=100, num_test=50)}
    encoded = []
    encode = vae.encoder.forward
    monkeypatch.setattr(vae.encoder, "forward", lambda x: encoded.append(len(x)) or encode(x))
    scores = evaluate_model(vae, data, names, configs=configs)
    shared = sum(encoded)
    assert set(scores) == {"mean", "sampled"}
    # each representation of each metric alone (the code metrics share their sample), without
    # the cache: the same scores, from twice the encoding
    for kind in ("mean", "sampled"):
        alone = {**evaluate(data, representation_function(vae, kind), names[:1], 0, configs),
                 **evaluate(data, representation_function(vae, kind), names[1:], 0, configs)}
        assert scores[kind] == alone
    assert sum(encoded) - shared == 2 * shared
    assert scores["sampled"]["mig"] != scores["mean"]["mig"]
