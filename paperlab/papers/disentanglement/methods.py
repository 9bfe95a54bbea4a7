"""The six methods of Locatello et al. (ICML 2019, Sec. 4 "Considered methods") and their
hyperparameter grids: each loss as disentanglement_lib's `methods/unsupervised/vae.py` computes it.

Every method minimises reconstruction + regulariser, where the reconstruction is the Bernoulli
negative log-likelihood summed over pixels (`losses.bernoulli_loss`, logits) and KL is the Gaussian
KL to N(0, I) (`compute_gaussian_kl`), both averaged over the batch:

    beta_vae      beta * KL                                    BetaVAE.regularizer
    annealed_vae  gamma * |KL - C(step)|, C linear to c_max    AnnealedVAE.regularizer, anneal
    factor_vae    KL + gamma * TC, TC from a discriminator     FactorVAE.model_fn
    dip_vae_i     KL + DIP penalty on Cov[mu(x)]               DIPVAE.regularizer, dip_type "i"
    dip_vae_ii    KL + DIP penalty on Cov[z]                   DIPVAE.regularizer, dip_type "ii"
    beta_tc_vae   KL + (beta - 1) * minibatch-weighted TC      BetaTCVAE.regularizer

All reductions name their axis from the end ((..., B, D) latents, (..., B, C, H, W) images), so
the same code scores one model or K stacked ones (vectorized.py) with a leading model axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from paperlab.errors import TrainingDiverged, UserError

from .architectures import VAEOutput

Losses = dict[str, Tensor]


def bernoulli_loss(x: Tensor, logits: Tensor) -> Tensor:
    """Negative Bernoulli log-likelihood of each image, summed over its pixels: (..., B)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((-3, -2, -1))


def gaussian_kl_per_code(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mean_i, exp(log_var_i)) || N(0, 1)) of each code dimension of each example: (..., B, D).
    """
    return 0.5 * (mean**2 + log_var.exp() - log_var - 1)


def gaussian_kl(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)), averaged over the batch (compute_gaussian_kl)."""
    return gaussian_kl_per_code(mean, log_var).sum(-1).mean(-1)


def anneal(c_max: float, step: int, iteration_threshold: int) -> float:
    """Capacity rising linearly from 0 to c_max over iteration_threshold steps (vae.py anneal)."""
    return min(c_max, c_max * step / iteration_threshold)


def covariance(mean: Tensor) -> Tensor:
    """Cov over the batch, E[mu mu^T] - E[mu] E[mu]^T (biased; compute_covariance_z_mean)."""
    centred_second = torch.einsum("...bi,...bj->...ij", mean, mean) / mean.shape[-2]
    mu = mean.mean(-2)
    return centred_second - mu[..., :, None] * mu[..., None, :]


def dip_penalty(cov: Tensor, lambda_od: float, lambda_d: float) -> Tensor:
    """lambda_od * sum of squared off-diagonal + lambda_d * sum (diagonal - 1)^2
    (regularize_diag_off_diag_dip)."""
    diagonal = cov.diagonal(dim1=-2, dim2=-1)
    off_diagonal = cov - torch.diag_embed(diagonal)
    return lambda_od * (off_diagonal**2).sum((-2, -1)) + lambda_d * ((diagonal - 1) ** 2).sum(-1)


def gaussian_log_density(samples: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    return -0.5 * ((samples - mean) ** 2 * torch.exp(-log_var) + log_var + math.log(2 * math.pi))


def total_correlation(z: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    """Minibatch-weighted TC estimate (vae.py total_correlation): the batch mean over j of
    log sum_i q(z_j | x_i) - sum_l log sum_i q(z_jl | x_i). Like disentanglement_lib it leaves out
    the constant (D - 1) log(B N), which has no gradient."""
    # log q(z_j | x_i) per latent l: (..., B_j, B_i, D)
    log_q = gaussian_log_density(z[..., :, None, :], mean[..., None, :, :],
                                 log_var[..., None, :, :])
    log_q_product = torch.logsumexp(log_q, dim=-2).sum(-1)  # (..., B_j): over i, then l
    log_q_joint = torch.logsumexp(log_q.sum(-1), dim=-1)
    return (log_q_joint - log_q_product).mean(-1)


def vae_losses(x: Tensor, out: VAEOutput, regularizer: Tensor, kl: Tensor,
               **extra: Tensor) -> Losses:
    reconstruction = bernoulli_loss(x, out.logits).mean(-1)
    return {"loss": reconstruction + regularizer, "reconstruction": reconstruction, "kl": kl,
            "regularizer": regularizer, "elbo": -(reconstruction + kl), **extra}


@dataclass(frozen=True)
class BetaVAE:
    """Higgins et al. (2017), Eq. 4: reconstruction + beta KL."""

    beta: float = 1.0  # sweep.py: vae.beta in {1, 2, 4, 6, 8, 16}

    def losses(self, x: Tensor, out: VAEOutput, step: int) -> Losses:
        kl = gaussian_kl(out.mean, out.log_var)
        return vae_losses(x, out, self.beta * kl, kl)


@dataclass(frozen=True)
class AnnealedVAE:
    """Burgess et al. (2018), Eq. 8: reconstruction + gamma |KL - C|, C annealed to c_max."""

    c_max: float = 5.0  # sweep.py: annealed_vae.c_max in {5, 10, 25, 50, 75, 100}
    gamma: float = 1000.0  # sweep.py: annealed_vae.gamma = 1000
    iteration_threshold: int = 100_000  # sweep.py: annealed_vae.iteration_threshold = 100000

    def losses(self, x: Tensor, out: VAEOutput, step: int) -> Losses:
        """`step` is the 0-based count of updates already made (TF's global step)."""
        kl = gaussian_kl(out.mean, out.log_var)
        capacity = anneal(self.c_max, step, self.iteration_threshold)
        return vae_losses(x, out, self.gamma * (kl - capacity).abs(), kl,
                          capacity=torch.full_like(kl, capacity))


@dataclass(frozen=True)
class DIPVAE:
    """Kumar et al. (2018), Eq. 6 (type i, Cov of the encoder mean) and Eq. 7 (type ii, Cov of z:
    E[diag exp(log_var)] + Cov[mean]), with lambda_d = lambda_d_factor * lambda_od."""

    lambda_od: float = 1.0  # sweep.py: dip_vae.lambda_od in {1, 2, 5, 10, 20, 50}
    lambda_d_factor: float = 10.0  # sweep.py: 10 for DIP-VAE-I, 1 for DIP-VAE-II
    dip_type: str = "i"  # sweep.py: dip_vae.dip_type "i" or "ii"

    def __post_init__(self) -> None:
        if self.dip_type not in ("i", "ii"):
            raise UserError(f"unknown DIP-VAE type {self.dip_type!r}", "choose one of: i, ii")

    def losses(self, x: Tensor, out: VAEOutput, step: int) -> Losses:
        kl = gaussian_kl(out.mean, out.log_var)
        cov = covariance(out.mean)
        if self.dip_type == "ii":
            cov = cov + torch.diag_embed(out.log_var.exp().mean(-2))
        penalty = dip_penalty(cov, self.lambda_od, self.lambda_d_factor * self.lambda_od)
        return vae_losses(x, out, kl + penalty, kl, dip=penalty)


@dataclass(frozen=True)
class BetaTCVAE:
    """Chen et al. (2018), Eq. 4 with alpha = gamma = 1: ELBO + (beta - 1) TC."""

    beta: float = 1.0  # sweep.py: beta_tc_vae.beta in {1, 2, 4, 6, 8, 10}

    def losses(self, x: Tensor, out: VAEOutput, step: int) -> Losses:
        kl = gaussian_kl(out.mean, out.log_var)
        tc = total_correlation(out.z, out.mean, out.log_var)
        return vae_losses(x, out, kl + (self.beta - 1.0) * tc, kl, tc=tc)


def shuffle_codes(z: Tensor, permutation: Tensor) -> Tensor:
    """Each latent dimension permuted across the batch on its own (vae.py shuffle_codes):
    permutation (..., B, D) holds, per dimension, a permutation of the batch."""
    return torch.gather(z, -2, permutation)


def random_permutation(z: Tensor, generator: torch.Generator | None = None) -> Tensor:
    noise = torch.rand(z.shape, generator=generator, device=z.device)
    return noise.argsort(dim=-2)


@dataclass(frozen=True)
class FactorVAE:
    """Kim & Mnih (2018), Eq. 2: ELBO + gamma TC, TC = E[logit_real - logit_shuffled] of a
    discriminator trained to tell z from its dimension-wise shuffle."""

    gamma: float = 10.0  # sweep.py: factor_vae.gamma in {10, 20, 30, 40, 50, 100}

    def losses(self, x: Tensor, out: VAEOutput, step: int, discriminator: Any,
               permutation: Tensor) -> Losses:
        """The VAE loss ("loss") and the discriminator's ("discriminator_loss"). The VAE loss
        reaches the discriminator's weights and the discriminator loss the encoder's: the caller
        restricts each gradient to its own model, as the two var_lists do."""
        kl = gaussian_kl(out.mean, out.log_var)
        logits = discriminator(out.z)
        tc = (logits[..., 0] - logits[..., 1]).mean(-1)
        logits_shuffled = discriminator(shuffle_codes(out.z.detach(), permutation))
        # vae.py maximises 0.5 E log p_real(z) + 0.5 E log p_shuffled(z_shuffled); log_softmax
        # is the same quantity without underflow to log(0)
        discriminator_loss = -0.5 * (F.log_softmax(logits, -1)[..., 0].mean(-1)
                                     + F.log_softmax(logits_shuffled, -1)[..., 1].mean(-1))
        return vae_losses(x, out, kl + self.gamma * tc, kl, tc=tc,
                          discriminator_loss=discriminator_loss)


METHODS = {
    "beta_vae": BetaVAE,
    "annealed_vae": AnnealedVAE,
    "factor_vae": FactorVAE,
    "dip_vae_i": partial(DIPVAE, lambda_d_factor=10.0, dip_type="i"),
    "dip_vae_ii": partial(DIPVAE, lambda_d_factor=1.0, dip_type="ii"),
    "beta_tc_vae": BetaTCVAE,
}

# The swept hyperparameter of each method and its six values
# (config/unsupervised_study_v1/sweep.py).
STUDY_GRID: dict[str, tuple[str, tuple[float, ...]]] = {
    "beta_vae": ("beta", (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)),
    "annealed_vae": ("c_max", (5.0, 10.0, 25.0, 50.0, 75.0, 100.0)),
    "factor_vae": ("gamma", (10.0, 20.0, 30.0, 40.0, 50.0, 100.0)),
    "dip_vae_i": ("lambda_od", (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)),
    "dip_vae_ii": ("lambda_od", (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)),
    "beta_tc_vae": ("beta", (1.0, 2.0, 4.0, 6.0, 8.0, 10.0)),
}


def make_method(name: str, **hyperparameters: float) -> Any:
    """A method by its disentanglement_lib name, e.g. make_method("beta_vae", beta=4)."""
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}", f"choose one of: {', '.join(METHODS)}")
    try:
        return METHODS[name](**hyperparameters)
    except TypeError as err:
        raise UserError(f"bad hyperparameters {hyperparameters} for {name}: {err}",
                        f"{name} sweeps {STUDY_GRID[name][0]}") from err


def study_method(name: str, level: int = 0, value: float | None = None,
                 **settings: float) -> tuple[Any, str, float]:
    """A method of the study with its swept hyperparameter at `value`, or else at the grid's
    `level` (0-5); `settings` fix its other arguments. Returns (method, hyperparameter, value)."""
    if name not in STUDY_GRID:
        raise UserError(f"unknown method {name!r}", f"choose one of: {', '.join(STUDY_GRID)}")
    key, values = STUDY_GRID[name]
    if value is None:
        if not 0 <= level < len(values):
            raise UserError(f"level {level} is outside the study's grid of {name}",
                            f"choose 0-{len(values) - 1} ({key} = {', '.join(f'{v:g}' for v in values)})")
        value = values[level]
    return make_method(name, **{key: float(value)}, **settings), key, float(value)


def study_grid(name: str) -> list[Any]:
    """The six configurations of one method in the study."""
    study_method(name)  # an unknown name is one line listing the valid ones
    return [study_method(name, level)[0] for level in range(len(STUDY_GRID[name][1]))]


def check_total_correlation(losses: Losses, step: int) -> None:
    """The NaN guard on the TC estimate (beta-TC-VAE's minibatch-weighted sum, FactorVAE's
    discriminator logits): a non-finite value stops training before any parameter moves."""
    tc = losses.get("tc")
    if tc is not None and not bool(torch.isfinite(tc).all()):
        raise TrainingDiverged(f"the total-correlation estimate became {tc.tolist()} at step "
                               f"{step + 1}; training stopped before that step's update",
                               "lower optim.lr or the TC weight, then start again or --resume")
