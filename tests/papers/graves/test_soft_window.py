"""The synthesis network's soft window (Graves 2013 Sec. 5.1, Eq. 46-51)."""

from __future__ import annotations

import math

import torch

from paperlab.papers.graves.handwriting.soft_window import SoftWindow, SoftWindowConfig, positions


def test_phi_and_w_match_a_direct_evaluation_of_the_formula() -> None:
    torch.manual_seed(0)
    k, hidden, u_len, v = 3, 5, 4, 6
    win = SoftWindow(SoftWindowConfig(hidden, k, initial_step=0.2)).double()
    h1 = torch.randn(2, hidden, dtype=torch.double)
    kappa_prev = torch.rand(2, k, dtype=torch.double)
    ids = torch.tensor([[0, 3, 5, 2], [1, 1, 4, -1]])  # second line: 3 characters + padding
    c = torch.zeros(2, u_len, v, dtype=torch.double)
    for b in range(2):
        for u in range(u_len):
            if ids[b, u] >= 0:
                c[b, u, ids[b, u]] = 1.0
    w, kappa, phi = win(h1, kappa_prev, c, positions(u_len).double())
    p = win.linear(h1).detach()
    for b in range(2):
        alpha = [math.exp(p[b, i]) for i in range(k)]  # Eq. 48
        beta = [math.exp(p[b, k + i]) for i in range(k)]  # Eq. 49
        kap = [kappa_prev[b, i].item() + math.exp(p[b, 2 * k + i]) for i in range(k)]  # Eq. 51
        assert torch.allclose(kappa[b], torch.tensor(kap, dtype=torch.double))
        for u in range(1, u_len + 2):  # u = U + 1 too: the stopping rule reads it
            expected = sum(alpha[i] * math.exp(-beta[i] * (kap[i] - u) ** 2) for i in range(k))  # Eq. 46
            assert abs(phi[b, u - 1].item() - expected) < 1e-12
        w_expected = sum(phi[b, u] * c[b, u] for u in range(u_len))  # Eq. 47
        assert torch.allclose(w[b], w_expected)
    assert (w[1, [0, 2, 3, 5]] == 0).all() and w[1, 1] > 0  # only the line's characters, padding adds nothing


def test_kappa_only_moves_forward_and_starts_at_the_given_pace() -> None:
    win = SoftWindow(SoftWindowConfig(4, 10, initial_step=0.08))
    with torch.no_grad():
        win.linear.weight.zero_()
    kappa = torch.zeros(1, 10)
    _, k1, _ = win(torch.randn(1, 4), kappa, torch.zeros(1, 3, 5), positions(3))
    assert torch.allclose(k1, torch.full((1, 10), 0.08))
    torch.manual_seed(0)
    win = SoftWindow(SoftWindowConfig(4, 10))
    k = torch.zeros(2, 10)
    for _ in range(20):
        _, k_next, _ = win(torch.randn(2, 4) * 5, k, torch.zeros(2, 3, 5), positions(3))
        assert (k_next > k).all()
        k = k_next
