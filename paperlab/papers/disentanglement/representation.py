"""The representation a trained model is scored on (Locatello et al., ICML 2019, Sec. 4: every
metric is computed on the mean and on a sample of the Gaussian encoder; disentanglement_lib
`postprocessing/methods.py` mean_representation, sampled_representation).

Both representations of a metric see the same observations (the metric draws them from the same
seed), so `evaluate_model` encodes each batch of observations once: the second pass finds the
encoder's outputs by the observations' content (a hash) and only draws the sample's noise.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from paperlab.errors import UserError

from .architectures import VAE
from .ground_truth import GroundTruthData
from .metrics import METRICS, CodeMetric, evaluate
from .metrics.sampling import RepresentationFn

KINDS = ("mean", "sampled")
log = logging.getLogger(__name__)


class Encodings:
    """The encoder's (mean, log-variance) of observation batches, kept by content when `cache`."""

    def __init__(self, vae: VAE, batch_size: int = 64, cache: bool = True) -> None:
        self.vae = vae
        self.batch_size = batch_size  # small batches run fastest on a CPU (cache-sized activations)
        self.cache: dict[bytes, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None

    def clear(self) -> None:
        if self.cache is not None:
            self.cache.clear()

    @torch.no_grad()
    def _encode(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        param = next(self.vae.parameters())
        was_training = self.vae.training
        self.vae.eval()
        means, log_vars = [], []
        for start in range(0, len(observations), self.batch_size):
            x = torch.from_numpy(np.ascontiguousarray(observations[start:start + self.batch_size]))
            mean, log_var = self.vae.encoder(x.to(param.device, param.dtype))
            means.append(mean.double().cpu().numpy())
            log_vars.append(log_var.double().cpu().numpy())
        self.vae.train(was_training)
        return np.concatenate(means), np.concatenate(log_vars)

    def encode(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            return self._encode(observations)
        digest = hashlib.blake2b(str((observations.shape, observations.dtype)).encode(),
                                 digest_size=16)
        digest.update(np.ascontiguousarray(observations).data)
        key = digest.digest()
        if key not in self.cache:
            self.cache[key] = self._encode(observations)
        return self.cache[key]

    def representation(self, kind: str = "mean", seed: int = 0) -> RepresentationFn:
        """observations (n, C, 64, 64) float32 -> codes (n, D) float64: the encoder mean, or one
        draw from N(mean, exp(log_var)) (the draws from a generator seeded with `seed`)."""
        if kind not in KINDS:
            raise UserError(f"unknown representation {kind!r}", f"choose one of: {', '.join(KINDS)}")
        generator = np.random.default_rng(seed)

        def represent(observations: np.ndarray) -> np.ndarray:
            mean, log_var = self.encode(observations)
            if kind == "mean":
                return mean
            return mean + np.exp(log_var / 2) * generator.standard_normal(mean.shape)

        return represent


def representation_function(vae: VAE, kind: str = "mean", seed: int = 0,
                            batch_size: int = 64) -> RepresentationFn:
    """One representation of `vae` (see Encodings.representation), without a cache."""
    return Encodings(vae, batch_size, cache=False).representation(kind, seed)


def evaluate_model(vae: VAE, data: GroundTruthData, names: Sequence[str], seed: int = 0,
                   configs: dict[str, Any] | None = None, kinds: Sequence[str] = KINDS,
                   batch_size: int = 64) -> dict[str, dict[str, dict[str, float]]]:
    """The named metrics on each representation: {"mean": {metric: scores}, "sampled": ...}, each
    metric as if run alone with seed `seed`. A metric drawing its own samples is scored on both
    representations before the next one (so the cache holds one metric's encodings at a time);
    the code metrics share one sample (metrics.evaluate)."""
    for kind in kinds:
        if kind not in KINDS:
            raise UserError(f"unknown representation {kind!r}", f"choose one of: {', '.join(KINDS)}")
    code = [n for n in names if isinstance(METRICS.get(n), CodeMetric)]
    groups = [[n] for n in names if n not in code] + ([code] if code else [])
    encodings = Encodings(vae, batch_size)
    scores: dict[str, dict[str, dict[str, float]]] = {kind: {} for kind in kinds}
    for group in groups:
        start = time.perf_counter()
        for kind in kinds:
            scores[kind].update(evaluate(data, encodings.representation(kind, seed), group, seed,
                                         configs))
        encodings.clear()
        log.info("%s: %.1f s", ", ".join(group), time.perf_counter() - start)
    return {kind: {n: scores[kind][n] for n in names} for kind in kinds}
