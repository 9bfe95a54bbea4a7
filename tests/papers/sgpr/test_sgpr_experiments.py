"""Hyperparameter fitting on the engine, and the experiment and figure functions at toy sizes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from paperlab.papers.sgpr import experiments, figures
from paperlab.papers.sgpr.data import SyntheticConfig, diabetes, subsample, synthetic
from paperlab.papers.sgpr.exact import GPR, GPRConfig
from paperlab.papers.sgpr.inducing import greedy_variance
from paperlab.papers.sgpr.kernels import build_kernel
from paperlab.papers.sgpr.sgpr import SGPR, SGPRConfig
from paperlab.papers.sgpr.training import FitConfig, fit, sparse_from_exact

GP = SyntheticConfig(variance=1.0, lengthscale=0.5, noise_variance=0.01)


def test_engine_lbfgs_fit_recovers_the_generating_hyperparameters(tmp_path):
    d = synthetic(120, 1, "se", GP, seed=2)
    gpr = GPR(GPRConfig(noise_variance=0.1), build_kernel("se", 1.0, 2.0))
    with torch.no_grad():
        start = float(gpr.loss(d.x, d.y))
    history = fit(gpr, d.x, d.y, tmp_path / "fit", FitConfig(steps=3, max_iter=15))
    assert len(history) == 3 and history[-1] < start
    with torch.no_grad():
        assert 0.3 < float(gpr.kernel.lengthscales) < 0.8
        assert 0.003 < float(gpr.noise_variance) < 0.03
        final = float(gpr.loss(d.x, d.y))
    # an ordinary run directory; its validation loss is -log Z / N at the fitted values, in float64
    run = json.loads((tmp_path / "fit" / "run.json").read_text())
    assert run["status"] == "completed"
    results = json.loads((tmp_path / "fit" / "results.json").read_text())
    assert results["val/loss"] == pytest.approx(final, rel=1e-12)
    assert (tmp_path / "fit" / "checkpoints" / "last.pt").is_file()


def test_sparse_copy_keeps_the_hyperparameters_and_a_joint_fit_raises_l(tmp_path):
    d = synthetic(150, 1, "se", GP, seed=3)
    gpr = GPR(GPRConfig(noise_variance=0.05), build_kernel("se", 1.0, 0.6))
    z = greedy_variance(d.x, 12, gpr.kernel).inducing
    fixed = sparse_from_exact(gpr, z)
    assert torch.equal(fixed.raw_noise, gpr.raw_noise)
    assert not any(p.requires_grad for p in fixed.parameters())
    model = sparse_from_exact(gpr, z, train_hyperparameters=True)
    with torch.no_grad():
        before = float(model.elbo(d.x, d.y))
    fit(model, d.x, d.y, tmp_path / "joint", FitConfig(steps=2, max_iter=10))
    with torch.no_grad():
        assert float(model.elbo(d.x, d.y)) > before
        # the copy's kernel is its own: the exact GP's hyperparameters did not move
        assert math.isclose(float(gpr.kernel.lengthscales), 0.6, rel_tol=1e-12)
        assert not math.isclose(float(model.kernel.lengthscales), 0.6, rel_tol=1e-6)
        torch.testing.assert_close(model.inducing, z)  # Z stays where the selection put it


def test_kl_against_m_and_its_figure(tmp_path):
    r = experiments.kl_against_m(GP, dims=(1,), sizes=(80,), m_grids=((3, 8),), kdpp_steps=50)
    assert len(r["curves"]) == 4
    for c in r["curves"]:
        kl, gap = np.array(c["kl"]), np.array(c["gap"])
        assert np.all(kl > -1e-8) and np.all(gap >= kl - 1e-8)
    greedy = next(c for c in r["curves"] if c["method"] == "greedy")
    assert greedy["kl"][1] < greedy["kl"][0]
    png = figures.plot_kl_against_m(r, tmp_path / "a.png")
    assert png.stat().st_size > 10_000


def test_m_needed_is_the_smallest_m_meeting_the_threshold(tmp_path):
    r = experiments.m_needed_against_n(GP, dims=(1,), sizes=((150, 400),), threshold=1.0, m_max=200, kl_max_n=400)
    kernel = build_kernel("se", 1.0, 0.5)
    for p in r["points"]:
        d = synthetic(p["n"], 1, "se", GP, seed=0)
        pivots = greedy_variance(d.x, p["m_needed"], kernel).indices
        with torch.no_grad():
            log_z = float(GPR(GPRConfig(noise_variance=0.01), kernel).log_marginal_likelihood(d.x, d.y))
            # both answers recomputed by the plain SGPR on the greedy prefixes, one below and at
            for key in ("m_needed", "m_needed_kl"):
                m = p[key]
                values = []
                for k in (m - 1, m):
                    b = SGPR(SGPRConfig(noise_variance=0.01), kernel, d.x[pivots[:k]]).bounds(d.x, d.y)
                    values.append(float(b.upper - b.elbo) if key == "m_needed" else log_z - float(b.elbo))
                assert values[0] > 1.0 >= values[1], (key, m, values)
        assert p["m_needed_kl"] <= p["m_needed"]
        assert p["gap"] <= 1.0
        # the a-priori k-DPP bound asks for more than greedy Z needs
        assert p["m_kdpp_bound"] >= p["m_needed"]
    assert figures.plot_m_needed(r, tmp_path / "b.png").stat().st_size > 10_000
    c = {"se": r, "matern32": experiments.m_needed_against_n(GP, (1,), ((100, 200),), "matern32", m_max=200)}
    assert figures.plot_matern_growth(c, tmp_path / "c.png").stat().st_size > 10_000


def test_real_data_experiment_and_figure(tmp_path):
    sets = [subsample(diabetes(), 120, seed=0)]
    r = experiments.real_data_kl(sets, tmp_path / "fits", m_grid=(5, 20), methods=("uniform", "greedy"),
                                 fit_cfg=FitConfig(steps=1, max_iter=5), inits=((0.3, 0.05), (1.0, 0.1)))
    d = r["datasets"][0]
    assert d["n"] == 120 and d["dim"] == 10 and len(d["lengthscales"]) == 10
    assert all(kl > -1e-8 for v in d["methods"].values() for kl in v["kl"])
    assert len(d["joint_elbo"]) == 2 and all(d["log_z"] >= L for L in d["joint_elbo"])
    # the KL is measured at the hyperparameters of the better exact-GP fit, each fit its own run
    found = [json.loads((tmp_path / "fits" / f"diabetes_exact_from_ls{ls}" / "results.json").read_text())
             for ls in ("0.3", "1")]
    assert d["log_z"] == pytest.approx(-120 * min(f["val/loss"] for f in found), rel=1e-10)
    assert figures.plot_real_data(r, tmp_path / "d.png").stat().st_size > 10_000
