"""dSprites: the published factor grid and index order, the rendering's geometry, the released-file
loader (on a fixture in the released .npz format), the ground-truth interface and the colour /
noise / scream variants against a transcription of disentanglement_lib's dsprites.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from paperlab.errors import UserError
from paperlab.papers.disentanglement import dsprites
from paperlab.papers.disentanglement.dsprites import DSpritesArrays, render
from paperlab.papers.disentanglement.ground_truth import (
    ColorDSprites,
    DSprites,
    NoisyDSprites,
    ScreamDSprites,
    make_dsprites,
)


def classes_at(**factors: int) -> np.ndarray:
    row = dict.fromkeys(dsprites.FACTOR_NAMES, 0) | factors
    return np.array([[row[name] for name in dsprites.FACTOR_NAMES]])


def centroid(image: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(image)
    return np.array([rows.mean(), cols.mean()])


def test_grid_is_the_released_one() -> None:
    assert np.prod(dsprites.FACTOR_SIZES) == 737_280
    grid = DSpritesArrays(np.zeros((737_280, 64, 8), np.uint8), dsprites.FACTOR_SIZES,
                          dsprites.FACTOR_VALUES)
    # row-major over (color, shape, scale, orientation, posX, posY): posY is fastest
    index = np.array([0, 1, 32, 1024, 40_960, 245_760, 737_279])
    expected = np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0],
                         [0, 0, 0, 1, 0, 0], [0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0],
                         [0, 2, 5, 39, 31, 31]])
    np.testing.assert_array_equal(grid.classes(index), expected)
    np.testing.assert_array_equal(expected @ dsprites.FACTOR_BASES, index)
    values = grid.values(index)
    np.testing.assert_allclose(values[-1], [1, 3, 1, 2 * np.pi, 1, 1])
    np.testing.assert_allclose(values[1, 5], 1 / 31)  # posY = linspace(0, 1, 32)[1]
    np.testing.assert_allclose(values[3, 3], 2 * np.pi / 39)  # orientation = linspace(0, 2 pi, 40)
    np.testing.assert_allclose(values[4, 2], 0.6)  # scale = linspace(0.5, 1, 6)


def test_position_moves_the_centroid_right_and_down() -> None:
    shapes = [render(classes_at(shape=s, scale=3, posX=x, posY=y))[0]
              for s in range(3) for x, y in ((4, 10), (20, 10), (4, 26))]
    for s in range(3):
        base, right, down = (centroid(im) for im in shapes[3 * s:3 * s + 3])
        np.testing.assert_allclose(right - base, [0, 16 * 1.25], atol=0.05)  # 1.25 px per step
        np.testing.assert_allclose(down - base, [16 * 1.25, 0], atol=0.05)


def test_scale_grows_the_area_and_shapes_differ() -> None:
    small, large = (render(classes_at(shape=0, scale=s, posX=15, posY=15))[0] for s in (0, 5))
    assert large.sum() / small.sum() == pytest.approx(4.0, rel=0.1)  # area ~ scale^2, (1/0.5)^2
    square, ellipse, heart = (render(classes_at(shape=s, scale=5, posX=15, posY=15))[0]
                              for s in range(3))
    assert len({square.tobytes(), ellipse.tobytes(), heart.tobytes()}) == 3
    assert set(np.unique(square)) == {0, 1}


def test_orientation_turns_the_ellipse() -> None:
    def axis_angle(image: np.ndarray) -> float:
        rows, cols = np.nonzero(image)
        cov = np.cov(np.stack([cols, rows]))
        major = np.linalg.eigh(cov)[1][:, -1]
        return np.arctan2(major[1], major[0]) % np.pi

    angles = [axis_angle(render(classes_at(shape=1, scale=5, orientation=o, posX=15, posY=15))[0])
              for o in (0, 5, 10)]
    step = 5 * 2 * np.pi / 39  # image rows grow downward: a positive angle turns clockwise
    np.testing.assert_allclose(np.diff(angles) % np.pi, [step, step], atol=0.06)
    first, last = (render(classes_at(shape=2, scale=2, orientation=o))[0] for o in (0, 39))
    np.testing.assert_array_equal(first, last)  # 0 and 2 pi are both on the grid


def test_render_rejects_classes_off_the_grid() -> None:
    with pytest.raises(UserError, match="outside the dSprites grid"):
        render(classes_at(posX=32))


@pytest.mark.slow
def test_generate_caches_the_full_grid(tmp_path) -> None:
    arrays = dsprites.generate(tmp_path)
    assert arrays.packed.shape == (737_280, 64, 8)
    rng = np.random.default_rng(0)
    index = rng.integers(0, 737_280, 50)
    np.testing.assert_array_equal(arrays.images(index), render(arrays.classes(index)))
    again = dsprites.generate(tmp_path)  # from the cache
    np.testing.assert_array_equal(again.packed[index], arrays.packed[index])


SMALL = (1, 3, 2, 2, 2, 2)  # a grid like the released one, with fewer values per factor


def write_released(path, rng: np.random.Generator, order: np.ndarray | None = None) -> dict:
    """A .npz in the released format (imgs uint8, latents_* and a pickled metadata dict)."""
    classes = np.stack(np.unravel_index(np.arange(np.prod(SMALL)), SMALL), axis=-1)
    values = np.stack([np.linspace(0.5, 1.0, n)[classes[:, f]] if n > 1 else np.ones(len(classes))
                       for f, n in enumerate(SMALL)], axis=-1)
    imgs = (rng.random((len(classes), 64, 64)) < 0.1).astype(np.uint8)
    order = np.arange(len(classes)) if order is None else order
    metadata = {"latents_sizes": np.array(SMALL), "latents_names": dsprites.FACTOR_NAMES}
    np.savez(path, imgs=imgs[order], latents_classes=classes[order],
             latents_values=values[order], metadata=np.array(metadata, dtype=object))
    return {"imgs": imgs, "classes": classes, "values": values}


def test_released_file_loads_to_identical_arrays(tmp_path) -> None:
    written = write_released(tmp_path / "dsprites.npz", np.random.default_rng(0))
    arrays = dsprites.load_released(tmp_path / "dsprites.npz")
    everything = np.arange(np.prod(SMALL))
    assert arrays.factor_sizes == SMALL
    np.testing.assert_array_equal(arrays.images(everything), written["imgs"])
    np.testing.assert_array_equal(arrays.classes(everything), written["classes"])
    np.testing.assert_array_equal(arrays.values(everything), written["values"])


def test_released_file_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="no dSprites file"):
        dsprites.load_released(tmp_path / "missing.npz")
    shuffled = np.random.default_rng(0).permutation(np.prod(SMALL))
    write_released(tmp_path / "shuffled.npz", np.random.default_rng(0), order=shuffled)
    with pytest.raises(UserError, match="not a row-major factor grid"):
        dsprites.load_released(tmp_path / "shuffled.npz")


@pytest.fixture
def arrays() -> DSpritesArrays:
    classes = np.stack(np.unravel_index(np.arange(np.prod(SMALL)), SMALL), axis=-1)
    packed = np.packbits(np.random.default_rng(1).random((len(classes), 64, 64)) < 0.2, axis=-1)
    values = tuple(np.linspace(0, 1, n) for n in SMALL)
    return DSpritesArrays(packed, SMALL, values)


def test_dataset_by_index_and_ground_truth_sampling(arrays) -> None:
    data = DSprites(arrays)
    image, classes = data[13]
    assert image.shape == (1, 64, 64) and image.dtype == torch.float32
    np.testing.assert_array_equal(image[0].numpy(), arrays.images(np.array([13]))[0])
    np.testing.assert_array_equal(classes.numpy(), arrays.classes(13))  # 13 = 0b001101
    np.testing.assert_array_equal(classes.numpy(), [0, 0, 1, 1, 0, 1])
    np.testing.assert_allclose(arrays.values(np.array([13]))[0], [0, 0, 1, 1, 0, 1])  # linspace(0, 1, 2)
    images, batch_classes = data.__getitems__([13, 2, 40])  # a batch in one unpack
    assert images.shape == (3, 1, 64, 64)
    np.testing.assert_array_equal(batch_classes.numpy(), arrays.classes(np.array([13, 2, 40])))
    view = DSprites(arrays, indices=np.array([40, 2]))  # the val split: a subset of the grid
    assert len(view) == 2 and torch.equal(view[1][0], data[2][0])
    assert data.num_factors == 5 and data.factors_num_values == SMALL[1:]
    factors = data.sample_factors(7, np.random.RandomState(0))
    # disentanglement_lib draws factor by factor: randint(size_i, size=num) for each i in turn
    reference = np.random.RandomState(0)
    np.testing.assert_array_equal(factors, np.stack([reference.randint(n, size=7)
                                                     for n in SMALL[1:]], axis=-1))
    observations = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    indices = np.concatenate([np.zeros((7, 1), int), factors], axis=1) @ arrays.bases
    np.testing.assert_array_equal(observations[:, 0], arrays.images(indices))


def dlib_observations(variant: str, sprites: np.ndarray, random_state: np.random.RandomState,
                      painting: np.ndarray | None = None) -> np.ndarray:
    """disentanglement_lib dsprites.py, transcribed: (n, 64, 64, 3) from (n, 64, 64, 1) sprites."""
    observations = np.repeat(sprites, 3, axis=3)
    if variant == "color":
        color = np.repeat(np.repeat(random_state.uniform(0.5, 1, [len(sprites), 1, 1, 3]),
                                    64, axis=1), 64, axis=2)
        return observations * color
    if variant == "noisy":
        return np.minimum(observations + random_state.uniform(0, 1, [len(sprites), 64, 64, 3]), 1.)
    for i in range(len(observations)):
        x_crop = random_state.randint(0, painting.shape[0] - 64)
        y_crop = random_state.randint(0, painting.shape[1] - 64)
        background = (painting[x_crop:x_crop + 64, y_crop:y_crop + 64]
                      + random_state.uniform(0, 1, size=3)) / 2.
        mask = observations[i] == 1
        background[mask] = 1 - background[mask]
        observations[i] = background
    return observations


def test_variants_draw_like_disentanglement_lib(arrays, tmp_path) -> None:
    painting = (np.random.default_rng(2).random((300, 400, 3)) * 255).astype(np.uint8)
    Image.fromarray(painting).save(tmp_path / "scream.png")
    variants = {"color": ColorDSprites(arrays), "noisy": NoisyDSprites(arrays),
                "scream": ScreamDSprites(arrays, tmp_path / "scream.png")}
    factors = DSprites(arrays).sample_factors(5, np.random.RandomState(3))
    sprites = DSprites(arrays).sample_observations_from_factors(factors, np.random.RandomState(0))
    for name, data in variants.items():
        ours = data.sample_observations_from_factors(factors, np.random.RandomState(4))
        theirs = dlib_observations(name, sprites.transpose(0, 2, 3, 1), np.random.RandomState(4),
                                   getattr(data, "painting", None))
        assert ours.shape == (5, 3, 64, 64)
        np.testing.assert_allclose(ours, theirs.transpose(0, 3, 1, 2), atol=1e-6)


def test_observation_chunks_make_the_draws_of_one_call(arrays) -> None:
    data = NoisyDSprites(arrays)
    whole = data.sample_observations(10, np.random.RandomState(5))
    chunks = data.observation_chunks(10, np.random.RandomState(5), chunk=3)
    pieces = np.concatenate([observations for _, observations in chunks])
    np.testing.assert_array_equal(pieces, whole)


def test_unknown_variant_factor_and_missing_painting(arrays) -> None:
    with pytest.raises(UserError, match="choose one of: dsprites_full, color_dsprites"):
        make_dsprites("dsprite", arrays)
    with pytest.raises(UserError, match="needs the painting"):
        make_dsprites("scream_dsprites", arrays)
    assert isinstance(make_dsprites("noisy_dsprites", arrays), NoisyDSprites)
    with pytest.raises(UserError, match="unknown dSprites factor 'size'.*choose among: color, "
                                        "shape, scale, orientation, posX, posY"):
        DSprites(arrays, ("shape", "size"))
    no_shape = make_dsprites("dsprites_full", arrays, latent_factors=("scale", "posX"))
    assert no_shape.factors_num_values == (2, 2)  # the others are drawn at random
