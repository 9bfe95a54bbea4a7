"""Shapes ZSL: a procedural zero-shot image set whose classes are attribute combinations, the
embedded stand-in for AWA2/CUB (Selvaraju et al. 2018, Sec. 4; docs/design.md, "Data").

A class is (colour, texture, shape): 4 colours x 3 textures x 5 shapes = 60 classes, e.g. "red
striped star". Each 32x32 image shows one object at a random position, size and tilt, with
colour jitter, on a noisy background with a grey distractor blob, so a classifier has to find the
object (and Grad-CAM can be checked against the object mask). The class attribute matrix is
AwA-like: the one-hot factors plus derived predicates (round, pointy, warm colour, patterned...).
Every class also has a few free-form descriptions, the stand-in for the paper's captions.

Unseen classes are new combinations of seen attribute values: by default the 12 classes with
(shape + colour + texture) % 5 == 0, which leaves every colour, texture and shape, and every
pair of colour and texture, among the 48 seen classes.
"""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.data.images import in_memory_image_data
from paperlab.data.tensor_images import TensorImages
from paperlab.errors import UserError
from paperlab.papers.niwt.zsl_data import (
    ZSLData,
    check_attribute_rows,
    order_classes,
    pick_val_classes,
    read_matrix,
)

COLOURS = {"red": (0.90, 0.15, 0.12), "green": (0.15, 0.75, 0.20), "blue": (0.20, 0.35, 0.95),
           "yellow": (0.95, 0.85, 0.15)}
TEXTURES = ["plain", "striped", "dotted"]
SHAPES = ["circle", "square", "triangle", "star", "cross"]

# AwA-style predicates: the factors themselves, then properties shared across factor values.
DERIVED = {
    "round": lambda c, t, s: s == "circle",
    "angular": lambda c, t, s: s != "circle",
    "pointy": lambda c, t, s: s in ("triangle", "star"),
    "right angles": lambda c, t, s: s in ("square", "cross"),
    "thin parts": lambda c, t, s: s in ("star", "cross"),
    "warm colour": lambda c, t, s: c in ("red", "yellow"),
    "cool colour": lambda c, t, s: c in ("green", "blue"),
    "patterned": lambda c, t, s: t != "plain",
}
SYNONYMS = {
    "circle": ["circle", "disc", "round blob"], "square": ["square", "box", "four-sided block"],
    "triangle": ["triangle", "three-cornered shape", "wedge"], "star": ["star", "five-pointed star", "spiky star"],
    "cross": ["cross", "plus sign", "cross-shaped piece"],
    "red": ["red", "scarlet", "crimson"], "green": ["green", "grass-green", "emerald"],
    "blue": ["blue", "royal blue", "deep blue"], "yellow": ["yellow", "lemon-yellow", "golden"],
    "plain": ["plain", "solid", "uniformly coloured"], "striped": ["striped", "stripy", "banded"],
    "dotted": ["dotted", "spotted", "polka-dot"],
}
TEMPLATES = [
    "a {colour} {shape} that is {texture}.",
    "this is a {texture} {colour} {shape}.",
    "a small {texture} {shape}, coloured {colour}, on a dark background.",
    "the object is a {shape}; it is {colour} and {texture}.",
    "a {colour} {texture} {shape} somewhere in the picture.",
]


def class_names() -> list[str]:
    return [f"{c} {t} {s}" for c in COLOURS for t in TEXTURES for s in SHAPES]


def factors(name: str) -> tuple[str, str, str]:
    c, t, s = name.split(" ")
    return c, t, s


def default_unseen() -> list[str]:
    out = []
    for ci, c in enumerate(COLOURS):
        for ti, t in enumerate(TEXTURES):
            for si, s in enumerate(SHAPES):
                if (ci + ti + si) % 5 == 0:
                    out.append(f"{c} {t} {s}")
    return out


def attribute_matrix(classes: list[str]) -> tuple[np.ndarray, list[str]]:
    names = [*COLOURS, *TEXTURES, *SHAPES, *DERIVED]
    rows = []
    for name in classes:
        c, t, s = factors(name)
        rows.append([*(float(c == v) for v in COLOURS), *(float(t == v) for v in TEXTURES),
                     *(float(s == v) for v in SHAPES), *(float(f(c, t, s)) for f in DERIVED.values())])
    return np.array(rows, dtype=np.float32), names


def descriptions(name: str) -> list[str]:
    """Free-form sentences about a class, drawn from templates and synonyms (deterministic)."""
    c, t, s = factors(name)
    out = []
    for k, template in enumerate(TEMPLATES):
        pick = {key: SYNONYMS[v][k % len(SYNONYMS[v])] for key, v in (("colour", c), ("texture", t), ("shape", s))}
        out.append(template.format(**pick).capitalize())
    return out


# -- rendering ------------------------------------------------------------------------------------
def shape_mask(shape: str, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Inside-test on rotated coordinates (u, v) centred on the object; r is the outer radius."""
    if shape == "circle":
        return u**2 + v**2 <= r**2
    if shape == "square":
        return np.maximum(abs(u), abs(v)) <= 0.78 * r
    if shape == "triangle":
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):  # three half-planes at the inradius r/2
            a = np.pi / 2 + 2 * np.pi * k / 3
            inside &= u * np.cos(a) + v * np.sin(a) <= 0.55 * r
        return inside
    if shape == "star":
        rho, phi = np.hypot(u, v), np.arctan2(v, u)
        return rho <= r * (0.42 + 0.58 * ((1 + np.cos(5 * phi)) / 2) ** 2)
    if shape == "cross":
        arm = 0.32 * r
        return ((abs(u) <= arm) & (abs(v) <= r)) | ((abs(v) <= arm) & (abs(u) <= r))
    raise ValueError(shape)


def texture_pattern(texture: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """(N, n, n): 1 where the object shows its full colour, 0 where the pattern darkens it."""
    n = len(x)
    if texture == "plain":
        return np.ones_like(x)
    period = 4.0 * scale  # 4 output pixels

    def draw() -> np.ndarray:
        return rng.uniform(0, 1, n).astype(np.float32)[:, None, None]

    if texture == "striped":
        beta = np.pi * draw()
        w = x * np.cos(beta) + y * np.sin(beta) + period * draw()
        return ((w % period) < period / 2).astype(np.float32)
    gx = (x + period * draw()) % period - period / 2
    gy = (y + period * draw()) % period - period / 2
    return (gx**2 + gy**2 > (0.25 * period) ** 2).astype(np.float32)


def downsample(a: np.ndarray, k: int) -> np.ndarray:
    """Average k x k pixel blocks of (N, n, n, ...) arrays (strided sums: faster than a reshaped mean)."""
    return sum(a[:, i::k, j::k] for i in range(k) for j in range(k)) / (k * k)


def render(name: str, rng: np.random.Generator, count: int, size: int = 32, supersample: int = 2
           ) -> tuple[np.ndarray, np.ndarray]:
    """`count` images (N, size, size, 3) uint8 of one class and their object masks (N, size, size) bool,
    drawn at `supersample` x the size and averaged down (smooth edges)."""
    c, t, s = factors(name)
    n = size * supersample
    y, x = (np.broadcast_to(g, (count, n, n)) for g in np.mgrid[0:n, 0:n].astype(np.float32) + 0.5)

    def per_image(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, count).astype(np.float32)[:, None, None]

    r = per_image(0.24, 0.34) * n
    cx, cy = (r * 0.9 + per_image(0, 1) * (n - 1.8 * r) for _ in range(2))
    theta = per_image(-0.5, 0.5)  # roughly upright (+-29 degrees): a small CNN learns the shapes in minutes
    u = (x - cx) * np.cos(theta) + (y - cy) * np.sin(theta)
    v = -(x - cx) * np.sin(theta) + (y - cy) * np.cos(theta)
    inside = shape_mask(s, u, v, r)
    # background: dark noise on a soft gradient, and a grey distractor blob away from the object
    img = per_image(0.05, 0.22) + 0.08 * (x * per_image(-1, 1) + y * per_image(-1, 1)) / n
    img = img + 0.06 * rng.standard_normal((count, n, n), dtype=np.float32)
    bx, by = per_image(0, n), per_image(0, n)
    far = np.hypot(bx - cx, by - cy) > 1.6 * r
    blob = far & ((x - bx) ** 2 + (y - by) ** 2 <= (per_image(0.06, 0.12) * n) ** 2)
    img = np.where(blob, per_image(0.35, 0.6), img)[..., None]
    colour = np.clip(np.array(COLOURS[c], np.float32) + rng.uniform(-0.06, 0.06, (count, 1, 1, 3)).astype(np.float32), 0, 1)
    shade = (0.3 + 0.7 * texture_pattern(t, x, y, rng, supersample))[..., None] * colour
    img = np.where(inside[..., None], shade, img)
    img = np.clip(downsample(img, supersample) + 0.02 * rng.standard_normal((count, size, size, 3), dtype=np.float32), 0, 1)
    mask = downsample(inside.astype(np.float32), supersample) > 0.5
    return (img * 255).round().astype(np.uint8), mask


def render_set(names: list[str], labels: list[int], per_class: int, seed: int, size: int
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 3, size, size) uint8 images, (N,) labels, (N, size, size) masks; class by class, seeded."""
    images, masks = [], []
    canonical = {n: i for i, n in enumerate(class_names())}  # a class's images do not depend on the split
    for name in names:
        img, mask = render(name, np.random.default_rng([seed, canonical[name], size]), per_class, size)
        images.append(img)
        masks.append(mask)
    x = torch.from_numpy(np.concatenate(images)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(labels).repeat_interleave(per_class)
    return x, y, torch.from_numpy(np.concatenate(masks))


@register_data("zsl_shapes")
def zsl_shapes(cfg: DictConfig) -> ZSLData:
    """Shapes ZSL: 60 procedural colour x texture x shape classes, 12 unseen (embedded ZSL default)."""
    classes = class_names()
    attributes, attribute_names = attribute_matrix(classes)
    if cfg.get("attributes_file"):
        from pathlib import Path

        attributes = read_matrix(Path(str(cfg.attributes_file)))
        attribute_names = [f"attribute {i + 1}" for i in range(attributes.shape[1])]
    check_attribute_rows(attributes, classes, f"({cfg.get('attributes_file') or 'built in'})")
    unseen = list(cfg.unseen) if cfg.get("unseen") else default_unseen()
    seen_idx, unseen_idx = order_classes(classes, unseen, list(cfg.seen) if cfg.get("seen") else None,
                                         " (data.seen / data.unseen)")
    if int(cfg.train_per_class) < 2 or int(cfg.test_per_class) < 1:
        raise UserError("data.train_per_class must be >= 2 and data.test_per_class >= 1", "raise them")
    order = seen_idx + unseen_idx
    names = [classes[i] for i in order]
    s, size, seed = len(seen_idx), int(cfg.image_size), int(cfg.seed)
    # seen images: training (the validation images are split off it) and test; distinct seeds
    train_x, train_y, _ = render_set(names[:s], list(range(s)), int(cfg.train_per_class), seed, size)
    test_x, test_y, _ = render_set(names[:s], list(range(s)), int(cfg.test_per_class), seed + 1, size)
    data = in_memory_image_data(train_x, train_y, test_x, test_y, names[:s], cfg)
    unseen_x, unseen_y, unseen_masks = render_set(names[s:], list(range(s, len(names))), int(cfg.test_per_class),
                                                  seed + 1, size)
    info = data.info
    return ZSLData(
        splits=data.splits, info=info, classes=names, num_seen=s,
        attributes=torch.from_numpy(attributes[order]), attribute_names=attribute_names,
        descriptions=[descriptions(n) for n in names],
        val_classes=pick_val_classes(s, float(cfg.val_classes), int(cfg.split_seed)),
        unseen_test=TensorImages(unseen_x, unseen_y, mean=info.mean, std=info.std),
        unseen_masks=unseen_masks,
    )
