"""dSprites (Matthey et al., 2017), the data set of Locatello et al. (ICML 2019, Sec. 4), generated
in-repo, and a loader for the released `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`.

The factor grid, the factor values and the image order are the released ones: latents (color=1,
shape=3, scale=6, orientation=40, posX=32, posY=32), image index = row-major over that order (posY
fastest), so that `index = classes @ FACTOR_BASES`. DeepMind did not publish the renderer, so the
pixels are our own rendering of the three shapes (square, ellipse, heart): a pixel is on when its
centre lies inside the shape. Images are stored packed, one bit per pixel (np.packbits along rows):
all 737,280 images take 377 MB instead of 3 GB.

Geometry (ours): a shape of scale s spans about 20 s pixels; posX/posY in [0, 1] move its centre
from pixel 12.625 to 51.375 (1.25 px per step), so no shape is ever clipped; posX moves it right,
posY down; orientation turns it clockwise on screen (image rows grow downward).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paperlab.errors import UserError

FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)  # released metadata "latents_sizes"
FACTOR_VALUES = (  # released metadata "latents_possible_values"
    np.array([1.0]),
    np.array([1.0, 2.0, 3.0]),  # square, ellipse, heart
    np.linspace(0.5, 1.0, 6),
    np.linspace(0.0, 2 * np.pi, 40),
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.0, 1.0, 32),
)
FACTOR_BASES = np.cumprod((*FACTOR_SIZES[1:], 1)[::-1])[::-1].astype(np.int64)  # row-major strides
SIZE = 64
RENDER_VERSION = 1  # bump when the rendering changes: it names the cache file

# Shapes are evaluated on a lattice of quarter pixels relative to the sprite centre: positions are
# 5 quarter pixels apart, so every (posX, posY) image is a strided slice of one lattice mask per
# (shape, scale, orientation), 720 masks for 737,280 images.
_QUARTER, _STEP = 4, 5
_LATTICE = _QUARTER * (SIZE - 1) + _STEP * (FACTOR_SIZES[4] - 1) + 1  # 408 lattice points per axis
_FIRST_CENTRE = 12.625  # pixels; centres run to 12.625 + 31 * 1.25 = 51.375
_RADIUS = 10.0  # pixels at scale 1


def factor_indices(names: Sequence[str]) -> tuple[int, ...]:
    """Positions of dSprites factors in the grid order, by name."""
    unknown = [n for n in names if n not in FACTOR_NAMES]
    if unknown:
        raise UserError(f"unknown dSprites factor {unknown[0]!r}",
                        f"choose among: {', '.join(FACTOR_NAMES)}")
    return tuple(FACTOR_NAMES.index(n) for n in names)


@dataclass(frozen=True)
class DSpritesArrays:
    """All images of a dSprites grid, packed, with the grid's factor sizes and values."""

    packed: np.ndarray  # (N, 64, 8) uint8: np.packbits of the binary images along the last axis
    factor_sizes: tuple[int, ...]
    factor_values: tuple[np.ndarray, ...]  # possible values of each factor, indexed by class

    def __post_init__(self) -> None:
        if len(self.packed) != int(np.prod(self.factor_sizes)):
            raise UserError(f"{len(self.packed)} images for a factor grid of "
                            f"{int(np.prod(self.factor_sizes))}", "pass one image per grid point")

    @property
    def bases(self) -> np.ndarray:
        return np.cumprod((*self.factor_sizes[1:], 1)[::-1])[::-1].astype(np.int64)

    def images(self, indices: np.ndarray) -> np.ndarray:
        """Binary images (n, 64, 64) uint8 of the given indices."""
        return np.unpackbits(self.packed[indices], axis=-1)

    def classes(self, indices: np.ndarray) -> np.ndarray:
        """Factor classes (n, 6) int64 of the given indices (row-major grid order)."""
        return np.stack(np.unravel_index(np.asarray(indices), self.factor_sizes), axis=-1)

    def values(self, indices: np.ndarray) -> np.ndarray:
        """Factor values (n, 6) float64 of the given indices."""
        classes = self.classes(indices)
        return np.stack([v[c] for v, c in zip(self.factor_values, classes.T, strict=True)], axis=-1)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether sprite-frame points (in units of the shape's radius) lie inside the shape."""
    if shape == 0:  # square, side 1.6 radii
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8
    if shape == 1:  # ellipse, 2:1
        return u**2 + (v / 0.5) ** 2 <= 1.0
    # heart: (x^2 + y^2 - 1)^3 <= x^2 y^3, tip pointing down the image (v grows downward)
    x, y = 0.9 * u, 0.1 - 0.9 * v
    return (x**2 + y**2 - 1.0) ** 3 <= x**2 * y**3


def _lattice_mask(shape: int, scale: float, angle: float) -> np.ndarray:
    """(408, 408) bool: the shape seen from the quarter-pixel lattice around its centre."""
    mask = np.zeros((_LATTICE, _LATTICE), bool)
    radius = _RADIUS * scale
    # every shape, turned any way, lies within 1.5 radii of its centre: evaluate only that box
    half = int(np.ceil(1.5 * radius * _QUARTER))
    box = slice(_LATTICE // 2 - half, _LATTICE // 2 + half)
    offsets = ((np.arange(_LATTICE) - (_LATTICE - 1) / 2) / (_QUARTER * radius))[box]
    dy, dx = offsets[:, None], offsets[None, :]
    c, s = np.cos(angle), np.sin(angle)
    mask[box, box] = _inside(shape, c * dx + s * dy, c * dy - s * dx)
    return mask


def render_positions(shape: int, scale: int, orientation: int) -> np.ndarray:
    """Packed images (32 posX, 32 posY, 64, 8) of one (shape, scale, orientation) class triple."""
    mask = _lattice_mask(shape, FACTOR_VALUES[2][scale], FACTOR_VALUES[3][orientation])
    # image(x, y)[i, j] = mask[4 i + 5 (31 - y), 4 j + 5 (31 - x)]: pack the columns of each x
    # once (strided view, flipped back), then pick each y's rows from them
    row, col = mask.strides
    columns = np.lib.stride_tricks.as_strided(
        mask, shape=(32, _LATTICE, SIZE), strides=(_STEP * col, row, _QUARTER * col),
        writeable=False)
    packed = np.packbits(columns[::-1], axis=-1)
    rows = _QUARTER * np.arange(SIZE) + _STEP * np.arange(31, -1, -1)[:, None]
    return packed[:, rows]


def render(classes: np.ndarray) -> np.ndarray:
    """Binary images (n, 64, 64) uint8 of the given factor classes (n, 6), in the given order."""
    classes = np.asarray(classes)
    if classes.ndim != 2 or classes.shape[1] != 6 or (classes < 0).any() or \
            (classes >= np.array(FACTOR_SIZES)).any():
        raise UserError(f"factor classes of shape {classes.shape} outside the dSprites grid",
                        f"pass (n, 6) classes below {FACTOR_SIZES}")
    out = np.empty((len(classes), SIZE, SIZE // 8), np.uint8)
    triples = classes[:, 1:4]
    for triple in np.unique(triples, axis=0):
        rows = np.flatnonzero((triples == triple).all(axis=1))
        out[rows] = render_positions(*triple)[classes[rows, 4], classes[rows, 5]]
    return np.unpackbits(out, axis=-1)


def generate(cache_dir: Path) -> DSpritesArrays:
    """All 737,280 dSprites images, rendered once and cached under `cache_dir` (packed .npy)."""
    path = Path(cache_dir) / f"dsprites_rendered_v{RENDER_VERSION}.npy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        packed = np.empty((*FACTOR_SIZES[1:4], 32, 32, SIZE, SIZE // 8), np.uint8)
        for triple in np.ndindex(*FACTOR_SIZES[1:4]):
            packed[triple] = render_positions(*triple)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, packed.reshape(-1, SIZE, SIZE // 8))
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return DSpritesArrays(np.load(path, mmap_mode="r"), FACTOR_SIZES, FACTOR_VALUES)


def load_released(path: Path) -> DSpritesArrays:
    """The released dSprites .npz (imgs, latents_classes, latents_values), packed.

    The grid is read from latents_classes (which must be the row-major grid) rather than from the
    pickled `metadata` entry, so the file is opened without unpickling anything."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no dSprites file at {path}",
                        "download dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz from "
                        "github.com/deepmind/dsprites-dataset, or use the generated set")
    with np.load(path, allow_pickle=False) as data:
        missing = {"imgs", "latents_classes", "latents_values"} - set(data.files)
        if missing:
            raise UserError(f"{path} lacks {sorted(missing)}", "pass the released dSprites .npz")
        imgs, classes, values = data["imgs"], data["latents_classes"], data["latents_values"]
    sizes = tuple(int(s) for s in classes.max(axis=0) + 1)
    grid = np.stack(np.unravel_index(np.arange(len(classes)), sizes), axis=-1)
    if imgs.shape[1:] != (SIZE, SIZE) or classes.shape != (len(imgs), 6) or \
            not np.array_equal(classes, grid):
        raise UserError(f"{path}: images {imgs.shape} and classes {classes.shape} are not a "
                        "row-major factor grid of 64x64 images", "pass the released dSprites .npz")
    bases = np.cumprod((*sizes[1:], 1)[::-1])[::-1]
    factor_values = tuple(values[np.arange(n) * b, f]
                          for f, (n, b) in enumerate(zip(sizes, bases, strict=True)))
    return DSpritesArrays(np.packbits(imgs.astype(bool), axis=-1), sizes, factor_values)
