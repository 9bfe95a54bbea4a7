"""Each method's loss against a hand computation on tiny float64 tensors, the TC estimate against
direct loops (and its gradient against finite differences), the shared architecture's shapes,
FactorVAE's step (each gradient kept to its own model), the NaN guard on the TC estimate, the
factory and the study's grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from paperlab.errors import TrainingDiverged, UserError
from paperlab.papers.disentanglement.architectures import (
    VAE,
    ConvEncoder,
    ConvEncoderConfig,
    Discriminator,
    DiscriminatorConfig,
    VAEConfig,
    VAEOutput,
)
from paperlab.papers.disentanglement.learner import factor_vae_step
from paperlab.papers.disentanglement.methods import (
    STUDY_GRID,
    AnnealedVAE,
    FactorVAE,
    check_total_correlation,
    make_method,
    shuffle_codes,
    study_grid,
    study_method,
    total_correlation,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors (tests/conftest.py)


B, D = 5, 3


@pytest.fixture
def out() -> tuple[torch.Tensor, VAEOutput]:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(B, 1, 4, 4, generator=g, dtype=torch.float64) > 0.5).double()
    mean = torch.randn(B, D, generator=g, dtype=torch.float64)
    log_var = 0.5 * torch.randn(B, D, generator=g, dtype=torch.float64)
    z = mean + torch.exp(log_var / 2) * torch.randn(B, D, generator=g, dtype=torch.float64)
    logits = torch.randn(B, 1, 4, 4, generator=g, dtype=torch.float64)
    return x, VAEOutput(mean, log_var, z, logits)


def reconstruction_by_hand(x: torch.Tensor, logits: torch.Tensor) -> float:
    total = 0.0
    for xi, li in zip(x.flatten().tolist(), logits.flatten().tolist(), strict=True):
        p = 1 / (1 + math.exp(-li))
        total -= xi * math.log(p) + (1 - xi) * math.log(1 - p)
    return total / len(x)


def kl_by_hand(o: VAEOutput) -> float:
    return sum(0.5 * (m**2 + math.exp(v) - v - 1) for m, v in
               zip(o.mean.flatten().tolist(), o.log_var.flatten().tolist(), strict=True)) / B


def cov_by_hand(samples: np.ndarray) -> np.ndarray:
    return np.cov(samples.T, bias=True)


def dip_by_hand(cov: np.ndarray, lambda_od: float, lambda_d: float) -> float:
    off = sum(cov[i, j] ** 2 for i in range(D) for j in range(D) if i != j)
    return lambda_od * off + lambda_d * sum((cov[i, i] - 1) ** 2 for i in range(D))


def tc_by_hand(o: VAEOutput) -> float:
    z, mean, log_var = o.z.tolist(), o.mean.tolist(), o.log_var.tolist()

    def log_q(j: int, i: int, d: int) -> float:  # log N(z_jd; mean_id, exp(log_var_id))
        return -0.5 * ((z[j][d] - mean[i][d]) ** 2 / math.exp(log_var[i][d]) + log_var[i][d]
                       + math.log(2 * math.pi))

    total = 0.0
    for j in range(B):
        joint = math.log(sum(math.exp(sum(log_q(j, i, d) for d in range(D))) for i in range(B)))
        product = sum(math.log(sum(math.exp(log_q(j, i, d)) for i in range(B))) for d in range(D))
        total += joint - product
    return total / B


def test_beta_vae_and_annealed_vae_by_hand(out) -> None:
    x, o = out
    recon, kl = reconstruction_by_hand(x, o.logits), kl_by_hand(o)
    losses = make_method("beta_vae", beta=4.0).losses(x, o, 0)
    assert losses["loss"].item() == pytest.approx(recon + 4 * kl, rel=1e-12)
    assert losses["elbo"].item() == pytest.approx(-(recon + kl), rel=1e-12)
    method = AnnealedVAE(c_max=25.0, gamma=1000.0, iteration_threshold=100_000)
    for step, capacity in ((0, 0.0), (40_000, 10.0), (100_000, 25.0), (250_000, 25.0)):
        losses = method.losses(x, o, step)
        assert losses["loss"].item() == pytest.approx(recon + 1000 * abs(kl - capacity), rel=1e-12)


def test_dip_vae_by_hand(out) -> None:
    x, o = out
    recon, kl = reconstruction_by_hand(x, o.logits), kl_by_hand(o)
    cov_mean = cov_by_hand(o.mean.numpy())
    losses = make_method("dip_vae_i", lambda_od=2.0).losses(x, o, 0)  # lambda_d = 10 lambda_od
    assert losses["loss"].item() == pytest.approx(recon + kl + dip_by_hand(cov_mean, 2, 20),
                                                  rel=1e-12)
    cov_z = cov_mean + np.diag(np.exp(o.log_var.numpy()).mean(0))  # E[Cov_enc] + Cov[mean]
    losses = make_method("dip_vae_ii", lambda_od=5.0).losses(x, o, 0)  # lambda_d = lambda_od
    assert losses["loss"].item() == pytest.approx(recon + kl + dip_by_hand(cov_z, 5, 5), rel=1e-12)


def test_total_correlation_against_direct_loops(out) -> None:
    x, o = out
    tc = total_correlation(o.z, o.mean, o.log_var)
    assert tc.item() == pytest.approx(tc_by_hand(o), rel=1e-12)
    losses = make_method("beta_tc_vae", beta=6.0).losses(x, o, 0)
    recon, kl = reconstruction_by_hand(x, o.logits), kl_by_hand(o)
    assert losses["loss"].item() == pytest.approx(recon + kl + 5 * tc_by_hand(o), rel=1e-12)
    inputs = tuple(t.clone().requires_grad_() for t in (o.z, o.mean, o.log_var))
    assert torch.autograd.gradcheck(total_correlation, inputs)


def test_factor_vae_losses_by_hand(out) -> None:
    x, o = out
    torch.manual_seed(0)
    discriminator = Discriminator(DiscriminatorConfig(num_latent=D, hidden=8, layers=2)).double()
    permutation = torch.rand(B, D).argsort(0)
    losses = FactorVAE(gamma=30.0).losses(x, o, 0, discriminator, permutation)
    logits = discriminator(o.z).detach()
    shuffled = torch.stack([o.z[permutation[:, d], d] for d in range(D)], dim=1)
    logits_shuffled = discriminator(shuffled).detach()
    tc = (logits[:, 0] - logits[:, 1]).mean().item()
    recon, kl = reconstruction_by_hand(x, o.logits), kl_by_hand(o)
    assert losses["loss"].item() == pytest.approx(recon + kl + 30 * tc, rel=1e-12)
    p_real = torch.softmax(logits, 1)[:, 0].log().mean()
    p_shuffled = torch.softmax(logits_shuffled, 1)[:, 1].log().mean()
    assert losses["discriminator_loss"].item() == pytest.approx(
        -(0.5 * p_real + 0.5 * p_shuffled).item(), rel=1e-12)
    for d in range(D):  # each dimension shuffled on its own
        assert sorted(shuffle_codes(o.z, permutation)[:, d].tolist()) == sorted(o.z[:, d].tolist())


def test_architecture_shapes_and_tf_initialisation() -> None:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(num_latent=10, channels=3))
    x = torch.rand(2, 3, 64, 64)
    sizes = []
    h = x
    for layer in vae.encoder.features:
        h = layer(h)
        if isinstance(layer, torch.nn.Conv2d):
            sizes.append(h.shape[-1])
    assert sizes == [32, 16, 8, 4]  # TF "same": k4 s2 pads 1, k2 s2 pads 0
    o = vae(x)
    assert o.mean.shape == (2, 10) and o.logits.shape == (2, 3, 64, 64)
    encoder = ConvEncoder(ConvEncoderConfig())
    assert all((layer.bias == 0).all() for layer in encoder.modules() if hasattr(layer, "bias")
               and isinstance(layer.bias, torch.Tensor))
    fc = encoder.features[-2]  # Glorot uniform: |w| <= sqrt(6 / (fan_in + fan_out))
    assert fc.weight.abs().max() <= math.sqrt(6 / (1024 + 256))
    assert Discriminator(DiscriminatorConfig()).net[1].negative_slope == 0.2


def tiny_batch() -> torch.Tensor:
    return (torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(1)) > 0.9).float()


def test_factor_vae_step_keeps_each_gradient_to_its_model() -> None:
    torch.manual_seed(0)
    vae, discriminator = VAE(VAEConfig()), Discriminator(DiscriminatorConfig(hidden=64))
    method, x = FactorVAE(gamma=10.0), tiny_batch()
    eps, permutation = torch.randn(4, 10), torch.rand(4, 10).argsort(0)
    losses = method.losses(x, vae(x, eps), 0, discriminator, permutation)
    expected_vae = torch.autograd.grad(losses["loss"], list(vae.parameters()), retain_graph=True)
    expected_disc = torch.autograd.grad(losses["discriminator_loss"],
                                        list(discriminator.parameters()))
    optimizers = [torch.optim.SGD(vae.parameters(), lr=0.0),
                  torch.optim.SGD(discriminator.parameters(), lr=0.0)]
    factor_vae_step(method, vae, discriminator, x, 0, *optimizers, eps, permutation)
    for p, g in zip(vae.parameters(), expected_vae, strict=True):
        torch.testing.assert_close(p.grad, g)
    for p, g in zip(discriminator.parameters(), expected_disc, strict=True):
        torch.testing.assert_close(p.grad, g)


def test_a_non_finite_tc_estimate_stops_before_any_update() -> None:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(discriminator=True, discriminator_hidden=16, discriminator_layers=1))
    x = tiny_batch()
    with torch.no_grad():
        vae.encoder.log_var.bias.fill_(-800.0)  # exp(-log_var) overflows: beta-TC-VAE's TC is NaN
    losses = make_method("beta_tc_vae", beta=6.0).losses(x, vae(x), 7)
    with pytest.raises(TrainingDiverged, match="total-correlation estimate became .* at step 8"):
        check_total_correlation(losses, 7)
    with torch.no_grad():
        vae.encoder.log_var.bias.zero_()
        vae.discriminator.net[0].weight[0, 0] = float("nan")  # FactorVAE's TC from NaN logits
    before = [p.clone() for p in vae.parameters()]
    optimizers = [torch.optim.Adam(vae.vae_parameters()),
                  torch.optim.Adam(vae.discriminator.parameters())]
    with pytest.raises(TrainingDiverged, match="before that step's update"):
        factor_vae_step(FactorVAE(), vae, vae.discriminator, x, 0, *optimizers)
    for a, b in zip(before, vae.parameters(), strict=True):
        assert torch.equal(a.nan_to_num(), b.nan_to_num())
    check_total_correlation({"loss": torch.tensor(float("nan"))}, 0)  # no TC: the engine guards the loss


def test_factory_and_study_grid() -> None:
    with pytest.raises(UserError, match="unknown method 'betavae'.*choose one of: beta_vae, "
                                        "annealed_vae, factor_vae, dip_vae_i, dip_vae_ii, "
                                        "beta_tc_vae"):
        make_method("betavae")
    with pytest.raises(UserError, match="beta_vae sweeps beta"):
        make_method("beta_vae", gamma=3.0)
    assert [m.beta for m in study_grid("beta_vae")] == [1, 2, 4, 6, 8, 16]
    assert [m.lambda_d_factor for m in study_grid("dip_vae_i")] == [10.0] * 6
    assert [m.lambda_d_factor for m in study_grid("dip_vae_ii")] == [1.0] * 6
    assert [m.c_max for m in study_grid("annealed_vae")] == [5, 10, 25, 50, 75, 100]
    assert all(m.gamma == 1000 for m in study_grid("annealed_vae"))
    assert all(len(values) == 6 for _, values in STUDY_GRID.values())
    method, key, value = study_method("factor_vae", level=5)
    assert (method.gamma, key, value) == (100.0, "gamma", 100.0)
    assert study_method("beta_tc_vae", level=0, value=3.5)[0].beta == 3.5  # a value off the grid
    with pytest.raises(UserError, match="level 6 is outside the study's grid of beta_vae; choose "
                                        "0-5 \\(beta = 1, 2, 4, 6, 8, 16\\)"):
        study_method("beta_vae", level=6)
    with pytest.raises(UserError, match="unknown DIP-VAE type"):
        make_method("dip_vae_i", dip_type="iii")
