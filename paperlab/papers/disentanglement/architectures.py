"""The networks every model of Locatello et al. (ICML 2019) shares (Appendix, architecture table;
disentanglement_lib `methods/shared/architectures.py`): the convolutional Gaussian encoder
(`conv_encoder`), the deconvolutional decoder (`deconv_decoder`) and FactorVAE's discriminator
(`fc_discriminator`). `model=disentanglement_vae` is the VAE, with the discriminator inside it for
FactorVAE, so that one checkpoint holds both (the learner steps them with their own optimisers).

TensorFlow's "same" padding becomes: k4 s2 convolutions pad 1 on each side, k2 s2 pad 0, and k4 s2
transposed convolutions pad 1 (each doubles the size). Weights start as tf.layers does: Glorot
uniform kernels, zero biases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from paperlab.models import register_model

SIZE = 64


def _tf_init(module: nn.Module) -> None:
    """tf.layers defaults: glorot_uniform kernels, zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


@dataclass
class ConvEncoderConfig:
    num_latent: int = 10  # shared.gin: encoder.num_latent = 10
    channels: int = 1  # 1 for dSprites, 3 for its colour/noisy/scream variants


class ConvEncoder(nn.Module):
    """conv 32k4s2, 32k4s2, 64k2s2, 64k2s2 (ReLU), fc 256 (ReLU) -> mean, log-variance."""

    Config = ConvEncoderConfig

    def __init__(self, cfg: ConvEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.features = nn.Sequential(
            nn.Conv2d(cfg.channels, 32, 4, 2, 1), nn.ReLU(),  # 64 -> 32
            nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),  # 32 -> 16
            nn.Conv2d(32, 64, 2, 2), nn.ReLU(),  # 16 -> 8
            nn.Conv2d(64, 64, 2, 2), nn.ReLU(),  # 8 -> 4
            nn.Flatten(-3), nn.Linear(64 * 4 * 4, 256), nn.ReLU())
        self.mean = nn.Linear(256, cfg.num_latent)
        self.log_var = nn.Linear(256, cfg.num_latent)
        _tf_init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.mean(h), self.log_var(h)


@dataclass
class DeconvDecoderConfig:
    num_latent: int = 10  # shared.gin: encoder.num_latent = 10
    channels: int = 1


class DeconvDecoder(nn.Module):
    """fc 256, fc 1024 (ReLU), reshape 64x4x4, deconv 64, 32, 32 k4s2 (ReLU), deconv C k4s2:
    Bernoulli logits of every pixel."""

    Config = DeconvDecoderConfig

    def __init__(self, cfg: DeconvDecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = nn.Sequential(
            nn.Linear(cfg.num_latent, 256), nn.ReLU(),
            nn.Linear(256, 1024), nn.ReLU(), nn.Unflatten(-1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(),  # 4 -> 8
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),  # 8 -> 16
            nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(),  # 16 -> 32
            nn.ConvTranspose2d(32, cfg.channels, 4, 2, 1))  # 32 -> 64
        _tf_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


@dataclass
class DiscriminatorConfig:
    num_latent: int = 10  # shared.gin: encoder.num_latent = 10
    hidden: int = 1000  # architectures.py fc_discriminator: six dense layers of 1000
    layers: int = 6
    negative_slope: float = 0.2  # tf.nn.leaky_relu's default alpha


class Discriminator(nn.Module):
    """FactorVAE's discriminator: 6 x fc1000 LeakyReLU -> 2 logits (real z, shuffled z)."""

    Config = DiscriminatorConfig

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        width = cfg.num_latent
        for _ in range(cfg.layers):
            layers += [nn.Linear(width, cfg.hidden), nn.LeakyReLU(cfg.negative_slope)]
            width = cfg.hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 2))
        _tf_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class VAEOutput(NamedTuple):
    mean: torch.Tensor  # (B, D)
    log_var: torch.Tensor  # (B, D)
    z: torch.Tensor  # (B, D) = mean + exp(log_var / 2) * eps
    logits: torch.Tensor  # (B, C, 64, 64) Bernoulli logits of the reconstruction


@dataclass
class VAEConfig:
    num_latent: int = 10  # shared.gin: encoder.num_latent = 10
    channels: int = 1  # 1 for dSprites, 3 for its colour/noisy/scream variants
    discriminator: bool = False  # FactorVAE's discriminator (fc_discriminator), trained beside the VAE
    discriminator_hidden: int = 1000  # architectures.py fc_discriminator: six dense layers of 1000
    discriminator_layers: int = 6


@register_model("disentanglement_vae")
class VAE(nn.Module):
    """Gaussian encoder + Bernoulli decoder, the model every method of the study trains (and for
    FactorVAE its discriminator, which `forward` does not use)."""

    Config = VAEConfig

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = ConvEncoder(ConvEncoderConfig(cfg.num_latent, cfg.channels))
        self.decoder = DeconvDecoder(DeconvDecoderConfig(cfg.num_latent, cfg.channels))
        self.discriminator = Discriminator(DiscriminatorConfig(
            cfg.num_latent, cfg.discriminator_hidden, cfg.discriminator_layers)) \
            if cfg.discriminator else None

    def vae_parameters(self) -> list[nn.Parameter]:
        """The encoder's and decoder's parameters: what the VAE's optimiser steps."""
        return [*self.encoder.parameters(), *self.decoder.parameters()]

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> VAEOutput:
        """The reparameterised pass. `eps` (B, D), the standard normal noise of the sample, can be
        passed in so that separate and vectorised models see the same draw."""
        mean, log_var = self.encoder(x)
        eps = torch.randn_like(mean) if eps is None else eps
        # gaussian_encoder_model.sample_from_latent_distribution
        z = mean + torch.exp(log_var / 2) * eps
        return VAEOutput(mean, log_var, z, self.decoder(z))
