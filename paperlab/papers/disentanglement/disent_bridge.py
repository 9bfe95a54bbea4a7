"""Running the peer library `disent` (PyPI, dev dependency) on the same points as our metrics, for
the agreement tests and benchmarks/disentanglement.py.

disent draws from NumPy's global RandomState, factors as one randint call over all factors
(disentanglement_lib draws factor by factor), and the FactorVAE score's variance sample as
indices without replacement from a PCG64 generator it seeds from that global state.
`DisentOrder` wraps our ground-truth data so that our metrics, given
`random_state=np.random.mtrand._rand`, make exactly those draws; `disent_dataset` serves our
observations to disent. Observations must then be deterministic given the factors (dSprites,
FactorGrid), since disent has no notion of observation noise drawn from a given stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .ground_truth import GroundTruthData
from .metrics.sampling import RepresentationFn

GLOBAL_RANDOM_STATE = np.random.mtrand._rand  # what np.random.randint draws from


class DisentOrder(GroundTruthData):
    """`data` with disent's draw order (use it with GLOBAL_RANDOM_STATE)."""

    def __init__(self, data: GroundTruthData) -> None:
        self.data = data
        self.factors_num_values = data.factors_num_values
        self.observation_shape = data.observation_shape

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return random_state.randint(0, self.factors_num_values, size=(num, self.num_factors))

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        return self.data.sample_observations_from_factors(factors, random_state)

    def observation_chunks(self, num: int, random_state: np.random.RandomState,
                           chunk: int) -> Iterator[tuple[None, np.ndarray]]:
        # disent DisentDataset.dataset_sample_batch -> random_choice_prng(len, num, replace=False)
        generator = np.random.Generator(np.random.PCG64(random_state.randint(0, 2**32)))
        indices = generator.choice(int(np.prod(self.factors_num_values)), size=num, replace=False)
        factors = np.stack(np.unravel_index(indices, self.factors_num_values), axis=-1)
        for start in range(0, num, chunk):
            yield None, self.sample_observations_from_factors(factors[start:start + chunk],
                                                              random_state)


def disent_dataset(data: GroundTruthData) -> Any:
    """A disent DisentDataset whose observation at grid index i is ours at the same factors."""
    from disent.dataset import DisentDataset
    from disent.dataset.data import GroundTruthData as DisentGroundTruthData

    sizes = data.factors_num_values
    unused = np.random.RandomState(0)  # deterministic observations draw nothing from it

    class Ours(DisentGroundTruthData):
        factor_names = tuple(f"factor_{i}" for i in range(len(sizes)))
        factor_sizes = sizes
        # disent wants (H, W, C); a flat observation becomes one pixel of F channels
        img_shape = (*data.observation_shape[1:], data.observation_shape[0]) \
            if len(data.observation_shape) == 3 else (1, 1, data.observation_shape[0])

        def _get_observation(self, idx: int) -> np.ndarray:
            factors = np.stack(np.unravel_index([idx], sizes), axis=-1)
            return data.sample_observations_from_factors(factors, unused)[0]

    return DisentDataset(Ours())


def disent_representation(represent: RepresentationFn) -> Any:
    """Our representation function on the torch batches disent hands it."""
    return lambda batch: represent(batch.numpy())
