"""How the metrics draw points (disentanglement_lib `evaluation/metrics/utils.py`), with the
representation computed in large chunks instead of per sampling batch.

disentanglement_lib calls the representation function once per sampling batch (16 or 64
observations). The random draws depend on the sampling batches, the representations do not, so
here the draws keep disentanglement_lib's batches and order (the same seed gives the same points)
while observations are encoded `chunk` at a time: far fewer, far larger forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..ground_truth import GroundTruthData

RepresentationFn = Callable[[np.ndarray], np.ndarray]  # (n, *observation_shape) -> (n, D)


def encode_stream(items: Iterable[tuple[Any, np.ndarray]], represent: RepresentationFn,
                  chunk: int) -> Iterator[tuple[Any, np.ndarray]]:
    """(tag, representations) for each (tag, observations) of `items`, in order, encoding about
    `chunk` observations per call of `represent`."""
    tags: list[Any] = []
    pending: list[np.ndarray] = []

    def flush() -> Iterator[tuple[Any, np.ndarray]]:
        codes = np.asarray(represent(np.concatenate(pending)))
        bounds = np.cumsum([len(p) for p in pending])[:-1]
        yield from zip(tags, np.split(codes, bounds), strict=True)
        tags.clear()
        pending.clear()

    size = 0
    for tag, observations in items:
        tags.append(tag)
        pending.append(observations)
        size += len(observations)
        if size >= chunk:
            yield from flush()
            size = 0
    if pending:
        yield from flush()


def generate_batch_factor_code(data: GroundTruthData, represent: RepresentationFn, num_points: int,
                               random_state: np.random.RandomState, batch_size: int,
                               chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Codes (D, num_points) and factors (F, num_points) of points drawn `batch_size` at a time
    (utils.generate_batch_factor_code; note the transposed layout, as there)."""
    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, num_points, batch_size):
            yield data.sample(min(batch_size, num_points - start), random_state)

    pairs = list(encode_stream(batches(), represent, chunk))
    factors = np.concatenate([f for f, _ in pairs])
    codes = np.concatenate([c for _, c in pairs])
    return codes.T, factors.T

