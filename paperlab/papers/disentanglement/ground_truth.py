"""Ground-truth data: the two-step generative process factors -> observations that Locatello et al.
(ICML 2019, Sec. 2 and 4) train on and that every disentanglement metric samples from.

The interface is disentanglement_lib's `data/ground_truth/ground_truth_data.py` (sample_factors,
sample_observations_from_factors, sample, sample_observations, all drawing from a
np.random.RandomState), and the dSprites variants draw their randomness exactly as its
`data/ground_truth/dsprites.py` does, in the same order, so a metric run with the same seed sees
the same points. One difference: observations are (n, C, 64, 64) float32, torch's layout, where
disentanglement_lib uses (n, 64, 64, C).

`data=dsprites` (`build_dsprites`) serves the same sets to the engine: every image of the grid is a
training example (the study trains on i.i.d. draws from the whole grid; an epoch in shuffled order
draws without replacement), and a fixed random subset of them is the "val" split on which the
engine reports the ELBO (the study holds nothing out). A batch is read with one vectorised unpack
(`__getitems__`); the variants' colour and noise are drawn per batch from a RandomState seeded by
(seed, epoch, first index), so that a resumed run sees the same observations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

from paperlab.config import to_dataclass
from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.paths import cache_dir

from .dsprites import FACTOR_NAMES, SIZE, DSpritesArrays, factor_indices, generate, load_released

# named_data.py "dsprites_full": every factor but the constant colour
STUDY_FACTORS = ("shape", "scale", "orientation", "posX", "posY")


class GroundTruthData:
    """Factors of variation (classes 0..n_f-1 per factor) and observations generated from them."""

    factors_num_values: tuple[int, ...]
    observation_shape: tuple[int, ...]

    @property
    def num_factors(self) -> int:
        return len(self.factors_num_values)

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """(num, num_factors) int64 factor classes, drawn factor by factor (disentanglement_lib)."""
        factors = np.zeros((num, self.num_factors), np.int64)
        for i, n in enumerate(self.factors_num_values):
            factors[:, i] = random_state.randint(n, size=num)
        return factors

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        raise NotImplementedError

    def sample(self, num: int, random_state: np.random.RandomState
               ) -> tuple[np.ndarray, np.ndarray]:
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return self.sample(num, random_state)[1]

    def observation_chunks(self, num: int, random_state: np.random.RandomState,
                           chunk: int) -> Iterator[tuple[None, np.ndarray]]:
        """`sample_observations(num)` in pieces of `chunk` observations, with the same draws in the
        same order (here: the factors, then each piece's observations), without holding them all."""
        factors = self.sample_factors(num, random_state)
        for start in range(0, num, chunk):
            yield None, self.sample_observations_from_factors(factors[start:start + chunk],
                                                              random_state)


class FactorGrid(GroundTruthData):
    """A ground-truth set whose observation is its factor vector (as floats): metric sanity checks
    can then use the identity, a rotation or a constant as the "learned" representation."""

    def __init__(self, factors_num_values: Sequence[int]) -> None:
        self.factors_num_values = tuple(int(n) for n in factors_num_values)
        self.observation_shape = (len(self.factors_num_values),)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        return factors.astype(np.float32)


def as_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The DataLoader's collate_fn: `__getitems__` returns a whole batch already."""
    return batch


class DSprites(GroundTruthData, Dataset):
    """dSprites: the ground-truth process, and a torch Dataset of (observation, the six factor
    classes) over `indices` of the grid (default: all of it).

    `latent_factors` are the factors the metrics see (default: the study's five); the others are
    drawn at random, as disentanglement_lib's SplitDiscreteStateSpace does."""

    channels = 1
    collate_fn = staticmethod(as_batch)

    def __init__(self, arrays: DSpritesArrays, latent_factors: Sequence[str] = STUDY_FACTORS,
                 indices: np.ndarray | None = None, seed: int = 0) -> None:
        self.arrays = arrays
        self.latent_factor_indices = factor_indices(latent_factors)
        sizes = arrays.factor_sizes
        self.factors_num_values = tuple(sizes[i] for i in self.latent_factor_indices)
        self.observed_factor_indices = tuple(i for i in range(len(sizes))
                                             if i not in self.latent_factor_indices)
        self.observation_shape = (self.channels, SIZE, SIZE)
        self.indices = np.arange(len(arrays.packed)) if indices is None else np.asarray(indices)
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitems__(self, items: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Observations (n, C, 64, 64) float32 and factor classes (n, 6) int64 of the given items
        (positions in `indices`)."""
        index = self.indices[np.asarray(items)]
        random_state = np.random.RandomState([self.seed, self.epoch, int(index[0])])
        observations = self.observe(self.arrays.images(index), random_state)
        return torch.from_numpy(observations), torch.from_numpy(self.arrays.classes(index))

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        observation, classes = self.__getitems__([item])
        return observation[0], classes[0]

    def indices_of(self, factors: np.ndarray, random_state: np.random.RandomState) -> np.ndarray:
        """Grid indices of latent factor classes, the unobserved factors drawn at random."""
        all_factors = np.zeros((len(factors), len(self.arrays.factor_sizes)), np.int64)
        all_factors[:, self.latent_factor_indices] = factors
        for i in self.observed_factor_indices:
            all_factors[:, i] = random_state.randint(self.arrays.factor_sizes[i], size=len(factors))
        return all_factors @ self.arrays.bases

    def observe(self, sprites: np.ndarray, random_state: np.random.RandomState) -> np.ndarray:
        """Observations (n, C, 64, 64) float32 of binary sprites (n, 64, 64), drawing any noise
        image by image."""
        return sprites[:, None].astype(np.float32)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        indices = self.indices_of(factors, random_state)
        return self.observe(self.arrays.images(indices), random_state)

    def observation_chunks(self, num: int, random_state: np.random.RandomState,
                           chunk: int) -> Iterator[tuple[None, np.ndarray]]:
        # disentanglement_lib's order: factors, unobserved factors, then the images' noise
        indices = self.indices_of(self.sample_factors(num, random_state), random_state)
        for start in range(0, num, chunk):
            yield None, self.observe(self.arrays.images(indices[start:start + chunk]), random_state)


class ColorDSprites(DSprites):
    """The sprite in a random colour, uniform in [0.5, 1]^3 per image (dsprites.py ColorDSprites).
    """

    channels = 3

    def observe(self, sprites: np.ndarray, random_state: np.random.RandomState) -> np.ndarray:
        color = random_state.uniform(0.5, 1, [len(sprites), 1, 1, 3]).astype(np.float32)
        return sprites[:, None] * color.transpose(0, 3, 1, 2)


class NoisyDSprites(DSprites):
    """The sprite on uniform noise: min(sprite + U(0, 1), 1) per pixel and channel (NoisyDSprites).
    """

    channels = 3

    def observe(self, sprites: np.ndarray, random_state: np.random.RandomState) -> np.ndarray:
        noise = random_state.uniform(0, 1, [len(sprites), SIZE, SIZE, 3]).astype(np.float32)
        return np.minimum(sprites[:, None] + noise.transpose(0, 3, 1, 2), 1.0)


class ScreamDSprites(DSprites):
    """The sprite inverted over a random 64x64 patch of a painting, the patch averaged with a
    random colour (ScreamDSprites; disentanglement_lib uses Munch's The Scream, scream.jpg)."""

    channels = 3

    def __init__(self, arrays: DSpritesArrays, painting: Path,
                 latent_factors: Sequence[str] = STUDY_FACTORS, indices: np.ndarray | None = None,
                 seed: int = 0) -> None:
        from PIL import Image

        super().__init__(arrays, latent_factors, indices, seed)
        try:
            with Image.open(painting) as image:
                image = image.convert("RGB")
                image.thumbnail((350, 274))  # dsprites.py: scream.thumbnail((350, 274, 3))
                self.painting = np.asarray(image, np.float32) / 255.0
        except OSError as err:
            raise UserError(f"cannot read the painting {painting}: {err}",
                            "pass an image file (e.g. scream.jpg)") from err
        if min(self.painting.shape[:2]) <= SIZE:
            raise UserError(f"painting {painting} is {self.painting.shape[:2]} after thumbnailing",
                            "pass an image larger than 64 pixels on each side")

    def observe(self, sprites: np.ndarray, random_state: np.random.RandomState) -> np.ndarray:
        out = np.empty((len(sprites), 3, SIZE, SIZE), np.float32)
        height, width = self.painting.shape[:2]
        for i, mask in enumerate(sprites == 1):
            top = random_state.randint(0, height - SIZE)
            left = random_state.randint(0, width - SIZE)
            patch = (self.painting[top:top + SIZE, left:left + SIZE]
                     + random_state.uniform(0, 1, size=3)) / 2.0
            patch[mask] = 1 - patch[mask]
            out[i] = patch.transpose(2, 0, 1)
        return out


VARIANTS = {"dsprites_full": DSprites, "color_dsprites": ColorDSprites,
            "noisy_dsprites": NoisyDSprites, "scream_dsprites": ScreamDSprites}


def make_dsprites(name: str, arrays: DSpritesArrays, painting: Path | None = None,
                  latent_factors: Sequence[str] = STUDY_FACTORS, indices: np.ndarray | None = None,
                  seed: int = 0) -> DSprites:
    """A dSprites variant by its disentanglement_lib name (named_data.py)."""
    if name not in VARIANTS:
        raise UserError(f"unknown data set {name!r}", f"choose one of: {', '.join(VARIANTS)}")
    if name == "scream_dsprites":
        if painting is None:
            raise UserError("scream_dsprites needs the painting",
                            "pass data.painting=<path to scream.jpg>")
        return ScreamDSprites(arrays, painting, latent_factors, indices, seed)
    return VARIANTS[name](arrays, latent_factors, indices, seed)


RELEASED_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"


@dataclass
class DSpritesConfig:
    name: str = "dsprites"
    variant: str = "dsprites_full"  # named_data.py: dsprites_full, color_dsprites, noisy_dsprites, scream_dsprites
    root: str | None = None  # the released .npz, or its folder; null: generated and cached
    painting: str | None = None  # scream_dsprites: the painting (disentanglement_lib: scream.jpg)
    latent_factors: list[str] = field(default_factory=lambda: list(STUDY_FACTORS))
    val_size: int = 1024  # grid images (fixed, seeded) on which the engine reports the ELBO


@dataclass(frozen=True)
class DSpritesData:
    """What `data=dsprites` builds: the ground truth the metrics sample from, and the engine's
    splits (train: the whole grid; val: a fixed subset of it)."""

    ground_truth: DSprites
    splits: dict[str, DSprites]
    variant: str
    latent_factors: tuple[str, ...]


def check_dsprites_config(node: DictConfig | dict | None) -> DSpritesConfig:
    """The data settings, checked before anything is read: unknown variants and factors are one
    line listing the valid ones."""
    cfg = to_dataclass(DSpritesConfig, node, where="data")
    if cfg.variant not in VARIANTS:
        raise UserError(f"unknown dSprites variant {cfg.variant!r}",
                        f"choose one of: {', '.join(VARIANTS)} (data.variant=<name>)")
    factor_indices(cfg.latent_factors)
    if not cfg.latent_factors:
        raise UserError("data.latent_factors is empty",
                        f"name the factors the metrics see, among: {', '.join(FACTOR_NAMES)}")
    if cfg.variant == "scream_dsprites" and cfg.painting is None:
        raise UserError("scream_dsprites needs the painting", "pass data.painting=<path to scream.jpg>")
    return cfg


def load_arrays(root: str | None) -> DSpritesArrays:
    """The released file (a .npz, or the folder holding it) when given, else the generated grid."""
    if root is None:
        return generate(cache_dir("dsprites"))
    path = Path(root).expanduser()
    return load_released(path / RELEASED_FILE if path.is_dir() else path)


@register_data("dsprites")
def build_dsprites(node: DictConfig) -> DSpritesData:
    cfg = check_dsprites_config(node)
    arrays = load_arrays(cfg.root)
    painting = None if cfg.painting is None else Path(cfg.painting).expanduser()

    def variant(indices: np.ndarray | None, seed: int) -> DSprites:
        return make_dsprites(cfg.variant, arrays, painting, cfg.latent_factors, indices, seed)

    total = len(arrays.packed)
    val = np.sort(np.random.RandomState(0).choice(total, min(cfg.val_size, total), replace=False))
    # the val split's colour/noise is drawn from its own seed, the same every evaluation
    return DSpritesData(variant(None, 0), {"train": variant(None, 0), "val": variant(val, 1)},
                        cfg.variant, tuple(cfg.latent_factors))
