"""Inducing-point selection: greedy residual = t, threshold stop, k-DPP sampler vs exact law."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from paperlab.errors import UserError
from paperlab.papers.sgpr.inducing import greedy_variance, kdpp_mcmc, select_inducing
from paperlab.papers.sgpr.kernels import build_kernel
from paperlab.papers.sgpr.sgpr import SGPR, SGPRConfig


def inputs(n: int, dim: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def sgpr_trace(kernel, x, z) -> float:
    with torch.no_grad():
        return float(SGPR(SGPRConfig(), kernel, z).bounds(x, torch.zeros(x.shape[0])).trace)


@pytest.mark.parametrize("m", [1, 5, 20])
def test_greedy_residual_sum_is_the_sgpr_trace(m):
    x, k = inputs(80), build_kernel("matern52", 1.5, (0.6, 0.9))
    sel = greedy_variance(x, m, k)
    assert len(set(sel.indices.tolist())) == m
    torch.testing.assert_close(sel.inducing, x[sel.indices])
    assert sel.residual_trace == pytest.approx(sgpr_trace(k, x, sel.inducing), rel=1e-9, abs=1e-10)


def test_greedy_first_pivot_is_the_largest_variance_and_threshold_stops_it():
    x, k = inputs(200, dim=1), build_kernel("se", 1.0, 0.5)
    full = greedy_variance(x, 30, k)
    sel = greedy_variance(x, 30, k, threshold=1.0)
    m = len(sel.indices)
    assert 1 < m < 30
    assert sel.residual_trace <= 1.0
    # one pivot fewer would not have reached the threshold; the pivots are a prefix of the full run
    assert sgpr_trace(k, x, x[sel.indices[:-1]]) > 1.0
    torch.testing.assert_close(sel.indices, full.indices[:m])


def test_uniform_and_kmeans_give_m_distinct_points():
    x, k = inputs(60), build_kernel("se", 1.0, 1.0)
    u = select_inducing("uniform", x, 10, k, seed=3)
    assert len(set(u.indices.tolist())) == 10
    torch.testing.assert_close(u.inducing, x[u.indices])
    km = select_inducing("kmeans", x, 10, k, seed=3)
    assert km.indices is None and km.inducing.shape == (10, 2)
    assert len({tuple(r) for r in km.inducing.tolist()}) == 10


def test_kdpp_chain_samples_the_k_dpp():
    # a tight cluster of three and two lone inputs: det K_S is far from uniform over the 10 pairs
    x = torch.tensor([[0.0], [0.05], [0.1], [2.0], [4.0]], dtype=torch.float64)
    k = build_kernel("se", 1.0, 0.6)
    pairs = list(itertools.combinations(range(5), 2))
    with torch.no_grad():
        det = np.array([float(torch.linalg.det(k(x[list(p)]))) for p in pairs])
    exact = det / det.sum()

    def law(steps: int, chains: int) -> np.ndarray:
        counts = dict.fromkeys(pairs, 0)
        for seed in range(chains):
            counts[tuple(sorted(kdpp_mcmc(x, 2, k, seed=seed, steps=steps).indices.tolist()))] += 1
        return np.array([counts[p] for p in pairs]) / chains

    tv = 0.5 * np.abs(law(30, 250) - exact).sum()
    assert tv < 0.12, tv  # Monte Carlo error alone is about 0.05
    # the test could tell: the greedy start alone, or a uniform choice, is far from the k-DPP
    assert 0.5 * np.abs(law(0, 1) - exact).sum() > 0.5
    assert 0.5 * np.abs(np.full(10, 0.1) - exact).sum() > 0.25


def test_kdpp_refuses_more_points_than_the_numerical_rank():
    x = torch.zeros(10, 1, dtype=torch.float64)  # ten copies of one input: rank 1
    with pytest.raises(UserError, match="numerical rank 1"):
        kdpp_mcmc(x, 3, build_kernel("se", 1.0, 1.0))


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(UserError, match="choose one of: greedy, kdpp, kmeans, uniform"):
        select_inducing("random", inputs(10), 3, build_kernel("se"))
