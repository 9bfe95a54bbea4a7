"""K seeds trained as one vectorised model (torch.func vmap) against K separate models: the same
losses and gradients (to float32 rounding: grouped convolutions add up in another order), FactorVAE's
two-optimiser step unchanged on stacked models, and Adam on the stacked parameters moving each
copy exactly as K separate Adams."""

from __future__ import annotations

import pytest
import torch

from paperlab.errors import UserError
from paperlab.papers.disentanglement.architectures import (
    VAE,
    Discriminator,
    DiscriminatorConfig,
    VAEConfig,
)
from paperlab.papers.disentanglement.learner import factor_vae_step
from paperlab.papers.disentanglement.methods import make_method
from paperlab.papers.disentanglement.vectorized import Stacked, StackedConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors (tests/conftest.py)


SEEDS = (0, 1, 2)
K, B = len(SEEDS), 4


def build_vae() -> VAE:
    return VAE(VAEConfig())


def build_discriminator() -> Discriminator:
    return Discriminator(DiscriminatorConfig(hidden=32, layers=2))


def separate(build, seeds=SEEDS) -> list[torch.nn.Module]:
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build())
    return models


def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(K, B, 1, 64, 64, generator=g) > 0.9).float()
    eps = torch.randn(K, B, 10, generator=g)
    permutation = torch.rand(K, B, 10, generator=g).argsort(dim=1)
    return x, eps, permutation


def assert_same_models(stacked: Stacked, models: list[torch.nn.Module], grads: bool) -> None:
    for k, model in enumerate(models):
        for (name, p), q in zip(model.named_parameters(), stacked.unstack(k).parameters(),
                                strict=True):
            torch.testing.assert_close(q, p.detach(), rtol=1e-6, atol=1e-7, msg=name)
            if grads:
                stacked_grad = stacked.stacked[name.replace(".", ":")].grad[k]
                torch.testing.assert_close(stacked_grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)


def losses_and_gradients(method, model: torch.nn.Module, x: torch.Tensor, eps: torch.Tensor):
    """A single-optimiser method's losses, and its gradients left in model's .grad: what the
    engine's step computes (the K losses of stacked models summed, as backward needs a scalar)."""
    model.zero_grad(set_to_none=True)
    losses = method.losses(x, model(x, eps), 3)
    losses["loss"].sum().backward()
    return {k: v.detach() for k, v in losses.items()}


def no_step_adams(vae: torch.nn.Module, discriminator: torch.nn.Module):
    """The study's two Adams with a learning rate of 0: gradients only (Adam is checked below)."""
    return (torch.optim.Adam(vae.parameters(), lr=0.0, betas=(0.9, 0.999)),
            torch.optim.Adam(discriminator.parameters(), lr=0.0, betas=(0.5, 0.9)))


def test_vectorised_vae_step_matches_separate_models() -> None:
    method = make_method("beta_tc_vae", beta=6.0)
    stacked, models = Stacked(StackedConfig(SEEDS), build_vae), separate(build_vae)
    assert_same_models(stacked, models, grads=False)  # copy k is build() under seed k
    x, eps, _ = inputs()
    losses = losses_and_gradients(method, stacked, x, eps)
    for k, model in enumerate(models):
        alone = losses_and_gradients(method, model, x[k], eps[k])
        for key, value in alone.items():
            torch.testing.assert_close(losses[key][k], value, rtol=1e-6, atol=1e-5)
    assert_same_models(stacked, models, grads=True)


def test_vectorised_factor_vae_step_matches_separate_models() -> None:
    method = make_method("factor_vae", gamma=20.0)
    vaes, discriminators = separate(build_vae), separate(build_discriminator, (7, 8, 9))
    stacked_vae = Stacked(StackedConfig(SEEDS), build_vae)
    stacked_discriminator = Stacked(StackedConfig((7, 8, 9)), build_discriminator)
    x, eps, permutation = inputs()
    losses = factor_vae_step(method, stacked_vae, stacked_discriminator, x, 0,
                             *no_step_adams(stacked_vae, stacked_discriminator), eps, permutation)
    for k in range(K):
        alone = factor_vae_step(method, vaes[k], discriminators[k], x[k], 0,
                                *no_step_adams(vaes[k], discriminators[k]), eps[k], permutation[k])
        for key, value in alone.items():
            torch.testing.assert_close(losses[key][k], value, rtol=1e-6, atol=1e-5)
    assert_same_models(stacked_vae, vaes, grads=True)
    assert_same_models(stacked_discriminator, discriminators, grads=True)


def test_adam_on_stacked_parameters_is_k_separate_adams() -> None:
    stacked = Stacked(StackedConfig(SEEDS), build_discriminator)
    models = separate(build_discriminator)

    def adam(model: torch.nn.Module) -> torch.optim.Adam:  # the discriminator's (shared.gin)
        return torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.9), eps=1e-8)

    stacked_adam, adams = adam(stacked), [adam(model) for model in models]
    g = torch.Generator().manual_seed(0)
    for _ in range(3):  # the same random gradients, given to both
        for name, p in stacked.stacked.items():
            p.grad = torch.randn(p.shape, generator=g)
            for k, model in enumerate(models):
                model.get_parameter(name.replace(":", ".")).grad = p.grad[k].clone()
        stacked_adam.step()
        for a in adams:
            a.step()
    for k, model in enumerate(models):
        for p, q in zip(model.parameters(), stacked.unstack(k).parameters(), strict=True):
            torch.testing.assert_close(q, p.detach(), rtol=0, atol=0)


def test_stacked_draws_differ_between_copies_and_seeds_are_required() -> None:
    stacked = Stacked(StackedConfig((0, 0)), build_vae)  # two identical copies
    out = stacked(torch.zeros(2, 3, 1, 64, 64), None)
    assert torch.equal(out.mean[0], out.mean[1])
    assert not torch.equal(out.z[0], out.z[1])  # randomness="different": own noise per copy
    with pytest.raises(UserError, match="no seeds"):
        Stacked(StackedConfig(()), build_vae)
