"""The mixture density output layer (Graves 2013 Sec. 4.1, Eq. 15-26) and biased sampling (Eq. 61-62)."""

from __future__ import annotations

import math

import torch

from paperlab.papers.graves.handwriting.mixture_density import (
    mixture_nll,
    mixture_params,
    sample_mixture,
)


def pack(e_hat: float, pi_hat: list[float], mu: list[list[float]], sigma_hat: list[list[float]],
         rho_hat: list[float]) -> torch.Tensor:
    """y_hat laid out as the layer's output: e_hat, pi_hat (M), mu (M x 2), sigma_hat (M x 2), rho_hat (M)."""
    flat = [e_hat, *pi_hat, *[v for m in mu for v in m], *[v for s in sigma_hat for v in s], *rho_hat]
    return torch.tensor(flat, dtype=torch.float64)


def test_loss_matches_a_hand_computation() -> None:
    # two components; x = (0.5, -1.0), end of stroke
    y_hat = pack(0.3, [0.0, math.log(3.0)], [[0.0, 0.0], [1.0, -1.0]], [[0.0, 0.0], [math.log(0.5), math.log(2.0)]],
                 [0.0, math.atanh(0.5)])
    x = torch.tensor([0.5, -1.0, 1.0], dtype=torch.float64)
    pi = [0.25, 0.75]

    def normal2(x1, x2, m1, m2, s1, s2, r):  # Eq. 24-25 written out
        z = (x1 - m1) ** 2 / s1**2 + (x2 - m2) ** 2 / s2**2 - 2 * r * (x1 - m1) * (x2 - m2) / (s1 * s2)
        return math.exp(-z / (2 * (1 - r**2))) / (2 * math.pi * s1 * s2 * math.sqrt(1 - r**2))

    r2 = 0.5 * (1 - 1e-3)  # rho is bounded to (1 - 1e-3) tanh(rho_hat)
    density = pi[0] * normal2(0.5, -1.0, 0, 0, 1, 1, 0) + pi[1] * normal2(0.5, -1.0, 1, -1, 0.5, 2, r2)
    e = 1 / (1 + math.exp(0.3))  # Eq. 18: e = 1 / (1 + exp(e_hat))
    expected = -(math.log(density) + math.log(e))
    assert abs(mixture_nll(y_hat, x).item() - expected) < 1e-9
    x[2] = 0.0
    assert abs(mixture_nll(y_hat, x).item() - (-(math.log(density) + math.log(1 - e)))) < 1e-9


def test_loss_gradients_match_finite_differences() -> None:
    torch.manual_seed(0)
    y_hat = torch.randn(3, 4, 1 + 6 * 5, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, 4, 3, dtype=torch.float64)
    x[..., 2] = (x[..., 2] > 0).double()
    assert torch.autograd.gradcheck(lambda y: mixture_nll(y, x), (y_hat,), eps=1e-6, atol=1e-5)


def test_loss_stays_finite_on_extreme_outputs() -> None:
    y_hat = torch.tensor([[80.0] + [50.0] * 3 + [1e3] * 6 + [-90.0] * 6 + [60.0] * 3,
                          [-80.0] + [-50.0] * 3 + [-1e3] * 6 + [90.0] * 6 + [-60.0] * 3], requires_grad=True)
    x = torch.tensor([[1e4, -1e4, 1.0], [0.0, 0.0, 0.0]])
    loss = mixture_nll(y_hat, x).sum()
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(y_hat.grad).all()


def test_bias_sharpens_the_mixture_and_shrinks_sigma() -> None:
    y_hat = pack(0.0, [0.0, 1.0], [[0.0, 0.0], [5.0, 5.0]], [[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    p0, p2 = mixture_params(y_hat, 0.0), mixture_params(y_hat, 2.0)
    assert p2.log_pi.exp()[1] > p0.log_pi.exp()[1]  # pi ~ exp(pi_hat (1 + b))
    assert torch.allclose(p2.log_sigma, p0.log_sigma - 2.0)  # sigma = exp(sigma_hat - b)
    gen = torch.Generator().manual_seed(0)
    far = sample_mixture(y_hat.expand(4000, -1), 0.0, gen)
    near = sample_mixture(y_hat.expand(4000, -1), 3.0, gen)
    d_far = (far[:, :2] - 5.0).norm(dim=1)
    d_near = (near[:, :2] - 5.0).norm(dim=1)
    assert d_near.median() < 0.2 * d_far.median()


def test_samples_follow_the_mixture() -> None:
    y_hat = pack(-1.0, [0.0, 0.0], [[-3.0, 0.0], [3.0, 1.0]], [[math.log(0.5)] * 2, [math.log(0.5)] * 2],
                 [0.0, math.atanh(0.8)])
    s = sample_mixture(y_hat.float().expand(20000, -1), 0.0, torch.Generator().manual_seed(1))
    right = s[s[:, 0] > 0]
    assert abs(len(right) / len(s) - 0.5) < 0.02
    assert torch.allclose(right[:, :2].mean(0), torch.tensor([3.0, 1.0]), atol=0.03)
    corr = torch.corrcoef(right[:, :2].T)[0, 1]
    assert abs(corr - 0.8) < 0.03
    assert abs(s[:, 2].mean() - 1 / (1 + math.exp(-1.0))) < 0.02  # e = 1 / (1 + exp(e_hat)), e_hat = -1


def test_bias_sharpens_the_pen_lifts_unless_told_to_keep_the_papers_sampling() -> None:
    # Pr(end of stroke) = 1 / (1 + exp(e_hat)) = 0.27 at e_hat = 1; sharpened: logit x (1 + b)
    y_hat = pack(1.0, [0.0], [[0.0, 0.0]], [[0.0, 0.0]], [0.0]).float().expand(40000, -1)
    gen = torch.Generator().manual_seed(2)

    def lifts(bias: float, sharpen_eos: bool) -> float:
        return sample_mixture(y_hat, bias, gen, sharpen_eos)[:, 2].mean().item()

    e = 1 / (1 + math.exp(1.0))
    assert abs(lifts(0.0, True) - e) < 0.01  # no bias: the network's own probability
    assert abs(lifts(2.0, False) - e) < 0.01  # Eq. 61-62 leave the Bernoulli alone
    assert abs(lifts(2.0, True) - 1 / (1 + math.exp(3.0))) < 0.005
    assert mixture_params(y_hat[:1], 2.0).eos_logit.item() == -1.0  # the loss's view: unsharpened
