"""Scene annotations: the objects of each image (colour, shape, size, position), in the layout of
CLEVR's scene files (Johnson et al. 2017, `CLEVR_<split>_scenes.json`), which the embedded
Sort-of-CLEVR-like set writes beside its questions.

    {"info": {...}, "scenes": [{"image_index": int, "image_filename": str, "split": str,
                                "objects": [{"color": str, "shape": str, "size": float,
                                             "pixel_coords": [x, y, 0]}, ...]}, ...]}

Two uses: the labels that pretrain the scene encoder (`region_labels`, `presence_labels`: which
kind of object -- colour-shape pair -- covers each cell of the feature grid, which kinds an image
holds: our stand-in for the ImageNet labels behind the VQA papers' VGG/ResNet features), and checking where
an attention model looks (`named_object_mask`). Here `size` is the object's radius in pixels
(CLEVR's is "small"/"large").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paperlab.errors import UserError

SCENES_LAYOUT = ('{"scenes": [{"image_index": int, "objects": [{"color": str, "shape": str, "size": float, '
                 '"pixel_coords": [x, y, z]}]}]} (CLEVR scenes format)')


@dataclass
class SceneObject:
    color: str
    shape: str
    x: float  # centre, pixels
    y: float
    radius: float = 0.0


Scenes = dict[int, list[SceneObject]]  # image id -> its objects


def write_scenes(path: Path, scenes: Scenes, split: str) -> None:
    """Scenes of one split as a CLEVR-style scenes file."""
    out = [{"image_index": int(i), "image_filename": f"{i}.png", "split": split,
            "objects": [{"color": o.color, "shape": o.shape, "size": o.radius, "pixel_coords": [o.x, o.y, 0.0]}
                        for o in objects]}
           for i, objects in scenes.items()]
    path.write_text(json.dumps({"info": {"split": split}, "scenes": out}))


def read_scenes(path: Path) -> Scenes:
    """A CLEVR-style scenes file -> {image id: objects}."""
    try:
        raw = json.loads(Path(path).read_text())
        return {int(s["image_index"]): [SceneObject(o["color"], o["shape"], float(o["pixel_coords"][0]),
                                                    float(o["pixel_coords"][1]), float(o.get("size", 0.0)))
                                        for o in s["objects"]]
                for s in raw["scenes"]}
    except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
        raise UserError(f"cannot read scenes file {path} ({err})", f"expected {SCENES_LAYOUT}") from None


def _cell_points(grid: int, image_size: int, samples: int = 4) -> np.ndarray:
    """(grid, grid, samples^2, 2) sample points (x, y) inside each cell, in pixels."""
    cell = image_size / grid
    sub = (np.arange(samples) + 0.5) / samples
    offsets = np.stack(np.meshgrid(sub, sub, indexing="xy"), -1).reshape(-1, 2)  # (s^2, 2) as (x, y)
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    corner = np.stack([cols, rows], -1)[:, :, None, :].astype(float)  # (g, g, 1, 2) as (x, y)
    return (corner + offsets) * cell


def object_coverage(objects: Sequence[SceneObject], grid: int, image_size: int) -> np.ndarray:
    """(objects, grid, grid): the share of each cell that each object covers (objects seen as
    discs of their radius)."""
    if not objects:
        return np.zeros((0, grid, grid))
    pts = _cell_points(grid, image_size)
    centre = np.array([[o.x, o.y] for o in objects])[:, None, None, None, :]
    radius = np.array([o.radius for o in objects])[:, None, None, None]
    return (np.linalg.norm(pts[None] - centre, axis=-1) <= radius).mean(-1)


def object_kind(o: SceneObject, colors: Sequence[str], shapes: Sequence[str]) -> int:
    """The object's colour-shape pair as an index in [0, len(colors) x len(shapes))."""
    return colors.index(o.color) * len(shapes) + shapes.index(o.shape)


def region_labels(objects: Sequence[SceneObject], grid: int, image_size: int, colors: Sequence[str],
                  shapes: Sequence[str], min_cover: float = 0.2) -> np.ndarray:
    """(grid, grid): per cell of a feature grid, 1 + the kind of the object covering most of it,
    0 (background) where no object covers `min_cover` of the cell."""
    labels = np.zeros((grid, grid), dtype=np.int64)
    cover = object_coverage(objects, grid, image_size)
    if len(cover):
        best = cover.argmax(0)
        hit = cover.max(0) >= min_cover
        labels[hit] = [1 + object_kind(objects[k], colors, shapes) for k in best[hit]]
    return labels


def presence_labels(objects: Sequence[SceneObject], colors: Sequence[str], shapes: Sequence[str]) -> np.ndarray:
    """Which kinds (colour-shape pairs) the image holds: multi-hot over len(colors) x len(shapes)."""
    out = np.zeros(len(colors) * len(shapes), dtype=np.float32)
    for o in objects:
        out[object_kind(o, colors, shapes)] = 1.0
    return out


def named_objects(text: str, objects: Sequence[SceneObject]) -> list[SceneObject]:
    """The objects a question or caption names by colour (in these scenes colours are unique)."""
    words = set(text.lower().replace("?", " ").replace(",", " ").split())
    return [o for o in objects if o.color in words]


def named_object_mask(text: str, objects: Sequence[SceneObject], grid: int, image_size: int,
                      min_cover: float = 0.2) -> np.ndarray:
    """(grid, grid) bool: the cells covered by the objects the text names."""
    named = named_objects(text, objects)
    if not named:
        return np.zeros((grid, grid), dtype=bool)
    return (object_coverage(named, grid, image_size) >= min_cover).any(0)
