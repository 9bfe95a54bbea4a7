"""A procedural multi-object VQA set with relational questions and captions, in the spirit of
Sort-of-CLEVR (Santoro et al. 2017, Sec. 4): the embedded stand-in for VQA's real images where
*attention over objects* matters (Nam et al. 2017's DAN vs a bag-of-words model, Antol et al. 2015).

Each 64x64 scene holds `objects` (default 5) non-overlapping shapes (circle, square, triangle),
each in a different one of six colours, so "the red object" names exactly one object. Questions
are English sentences (answers: a shape, a colour, a count, yes/no), eight families per image:

    non-relational  what shape is the <c> object?           is the <c> object on the left?
                    is there a <c> <s>?                      how many <s>s are there?
    relational      what shape is the object closest to the <c> object?
                    what color is the object farthest from the <c> object?
                    how many objects have the same shape as the <c> object?
                    is the <c1> object left of the <c2> object?

Relational questions name an object by colour and ask about *another* one: a model must find the
named object, then compare it with the others. Questions whose answer would hinge on a pixel
(near-ties of distance, objects almost level) are never asked. Each image also gets five captions
from its scene graph ("a red circle is left of a blue square", "there are two circles, ...").

Everything is drawn from `seed`; the set is written once to <cache>/sort_of_clevr_.../ in the VQA
JSON formats plus captions in the COCO captions format and the scene graphs in CLEVR's scenes
format (`paperlab.papers.vqa.scenes`), and read back from there.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.vqa.data import (
    VQAData,
    embedded_vqa_data,
    ensure_embedded,
    multiple_choices,
    write_embedded,
)
from paperlab.papers.vqa.scenes import SceneObject
from paperlab.papers.vqa.vqa_json import VQARecords
from paperlab.paths import cache_dir

COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 230), "orange": (250, 140, 20),
          "gray": (128, 128, 128), "yellow": (230, 200, 20)}
SHAPES = ("circle", "square", "triangle")
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six")
QUESTION_TYPES = [
    "what shape is the <c> object", "is the <c> object on the left", "is there a <c> <s>", "how many <s>s",
    "what shape is the object closest to the <c> object", "what color is the object farthest from the <c> object",
    "how many objects have the same shape as the <c> object", "is the <c1> object left of the <c2> object",
]
RELATIONAL_TYPES = QUESTION_TYPES[4:]
FORMAT_VERSION = 3  # bump when generation changes: the cached folder is rebuilt (3: scene files added)


def sample_scene(rng: np.random.Generator, n: int, size: int, radius: float) -> list[SceneObject]:
    """n objects of distinct colours at random places, never touching (rejection sampling; a
    layout that leaves no room for the next object is started again)."""
    colors = rng.permutation(list(COLORS))[:n]
    placed: list[tuple[float, float]] = []
    tries = 0
    while len(placed) < n:
        p = rng.uniform(radius + 1, size - radius - 1, size=2)
        if all(np.hypot(p[0] - q[0], p[1] - q[1]) > 2.6 * radius for q in placed):
            placed.append((float(p[0]), float(p[1])))
        tries += 1
        if tries > 200:
            placed, tries = [], 0
    return [SceneObject(str(c), SHAPES[int(rng.integers(3))], x, y, radius)
            for c, (x, y) in zip(colors, placed, strict=True)]


def _inside(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        s = 0.85 * r  # about the circle's area
        return (np.abs(dx) <= s) & (np.abs(dy) <= s)
    # an upward triangle of about the circle's area: apex at -1.15 r, base at +0.8 r
    top, bottom = -1.15 * r, 0.8 * r
    half_width = (dy - top) / (bottom - top) * 1.2 * r
    return (dy >= top) & (dy <= bottom) & (np.abs(dx) <= half_width)


def render(scene: list[SceneObject], size: int, radius: float, samples: int = 4) -> np.ndarray:
    """(3, size, size) uint8 on a white background, edges anti-aliased by sub-pixel sampling."""
    img = np.full((size, size, 3), 255.0)
    sub = (np.arange(samples) + 0.5) / samples
    for o in scene:
        x0, x1 = int(max(0, o.x - 1.3 * radius)), int(min(size, o.x + 1.3 * radius + 1))
        y0, y1 = int(max(0, o.y - 1.3 * radius)), int(min(size, o.y + 1.3 * radius + 1))
        ys = (np.arange(y0, y1)[:, None] + sub[None, :]).reshape(-1)
        xs = (np.arange(x0, x1)[:, None] + sub[None, :]).reshape(-1)
        cover = _inside(o.shape, xs[None, :] - o.x, ys[:, None] - o.y, radius).astype(float)
        alpha = cover.reshape(y1 - y0, samples, x1 - x0, samples).mean(axis=(1, 3))[..., None]
        img[y0:y1, x0:x1] = (1 - alpha) * img[y0:y1, x0:x1] + alpha * np.array(COLORS[o.color])
    return np.round(img).astype(np.uint8).transpose(2, 0, 1)


def _plural(shape: str) -> str:
    return shape + "s"


def _distances(scene: list[SceneObject], i: int) -> np.ndarray:
    d = np.array([np.hypot(o.x - scene[i].x, o.y - scene[i].y) for o in scene])
    d[i] = np.nan
    return d


def ask(family: int, scene: list[SceneObject], rng: np.random.Generator, size: int,
        radius: float) -> tuple[str, str, str] | None:
    """(question, answer, answer type) of one family, or None if this scene makes it ambiguous."""
    i = int(rng.integers(len(scene)))
    o = scene[i]
    if family == 0:
        return f"what shape is the {o.color} object?", o.shape, "other"
    if family == 1:
        if abs(o.x - size / 2) < 0.5 * radius:
            return None
        return f"is the {o.color} object on the left?", "yes" if o.x < size / 2 else "no", "yes/no"
    if family == 2:
        present = {(s.color, s.shape) for s in scene}
        if rng.random() < 0.5:
            return f"is there a {o.color} {o.shape}?", "yes", "yes/no"
        # absent: mostly a present colour with another shape (colour alone does not answer it)
        color = o.color if rng.random() < 0.8 else str(rng.choice(list(COLORS)))
        shape = str(rng.choice([s for s in SHAPES if (color, s) not in present] or [None]))
        if shape == "None":
            return None
        return f"is there a {color} {shape}?", "no", "yes/no"
    if family == 3:
        shape = SHAPES[int(rng.integers(3))]
        return f"how many {_plural(shape)} are there?", str(sum(s.shape == shape for s in scene)), "number"
    d = _distances(scene, i)
    order = np.argsort(np.nan_to_num(d, nan=np.inf))[:-1]  # others, nearest first
    if family == 4:
        if d[order[1]] - d[order[0]] < 0.4 * radius:
            return None
        return f"what shape is the object closest to the {o.color} object?", scene[order[0]].shape, "other"
    if family == 5:
        if d[order[-1]] - d[order[-2]] < 0.4 * radius:
            return None
        return f"what color is the object farthest from the {o.color} object?", scene[order[-1]].color, "other"
    if family == 6:
        same = sum(s.shape == o.shape for s in scene) - 1
        return f"how many objects have the same shape as the {o.color} object?", str(same), "number"
    other = scene[int(rng.choice([k for k in range(len(scene)) if k != i]))]
    if abs(o.x - other.x) < radius:
        return None
    return f"is the {o.color} object left of the {other.color} object?", "yes" if o.x < other.x else "no", "yes/no"


def captions(scene: list[SceneObject], rng: np.random.Generator, size: int, radius: float) -> list[str]:
    """Five sentences about the scene: relations, a count, a position."""

    def name(o: SceneObject) -> str:
        return f"{o.color} {o.shape}"

    def a_(o: SceneObject) -> str:
        return ("an " if o.color[0] in "aeiou" else "a ") + name(o)

    out = []
    pairs = [(a, b) for a in scene for b in scene if a is not b]
    left = [(a, b) for a, b in pairs if b.x - a.x > radius]
    above = [(a, b) for a, b in pairs if b.y - a.y > radius]
    for rel, options in (("left of", left), ("above", above)):
        if options:
            a, b = options[int(rng.integers(len(options)))]
            out.append(f"{a_(a)} is {rel} {a_(b)}")
    i = int(rng.integers(len(scene)))
    d = _distances(scene, i)
    near = scene[int(np.nanargmin(d))]
    out.append(f"the {name(near)} is the closest object to the {name(scene[i])}")
    counts = [sum(o.shape == s for o in scene) for s in SHAPES]
    parts = [f"{NUMBER_WORDS[c]} {_plural(s) if c != 1 else s}" for s, c in zip(SHAPES, counts, strict=True) if c]
    out.append("there " + ("is " if counts[[c > 0 for c in counts].index(True)] == 1 else "are ")
               + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]))
    o = scene[int(rng.integers(len(scene)))]
    out.append(f"{a_(o)} at the {'top' if o.y < size / 2 else 'bottom'} {'left' if o.x < size / 2 else 'right'}")
    while len(out) < 5:  # a scene without a clear left-of/above pair: name another object's place
        o = scene[int(rng.integers(len(scene)))]
        out.append(f"{a_(o)} in the {'upper' if o.y < size / 2 else 'lower'} half")
    return out


def _scene_with_questions(rng: np.random.Generator, n: int, size: int, radius: float
                          ) -> tuple[list[SceneObject], list[tuple[str, str, str]]]:
    """A scene and one question of each family; a scene where some family has no unambiguous
    question (e.g. every object has two equally near neighbours) is replaced by a new one."""
    while True:
        scene = sample_scene(rng, n, size, radius)
        asked = []
        for family in range(len(QUESTION_TYPES)):
            qa = next((q for q in (ask(family, scene, rng, size, radius) for _ in range(50)) if q is not None), None)
            if qa is None:
                break
            asked.append(qa)
        else:
            return scene, asked


def generate_split(n_images: int, first_image_id: int, cfg: DictConfig, seed: int
                   ) -> tuple[VQARecords, np.ndarray, np.ndarray, dict[int, list[str]], dict[int, list[SceneObject]]]:
    """One split: its records, image ids, uint8 images, captions and scenes."""
    rng = np.random.default_rng(seed)
    size, radius, n_obj = int(cfg.image_size), float(cfg.object_radius), int(cfg.objects)
    images, texts, answers, atypes, qtypes, image_ids, caps, scenes = [], [], [], [], [], [], {}, {}
    for k in range(n_images):
        image_id = first_image_id + k
        scene, asked = _scene_with_questions(rng, n_obj, size, radius)
        images.append(render(scene, size, radius))
        caps[image_id] = captions(scene, rng, size, radius)
        scenes[image_id] = scene
        for family, qa in enumerate(asked):
            texts.append(qa[0])
            answers.append(qa[1])
            atypes.append(qa[2])
            qtypes.append(QUESTION_TYPES[family])
            image_ids.append(image_id)
    n = len(texts)
    records = VQARecords(
        question_id=np.arange(n, dtype=np.int64) + 100 * first_image_id, image_id=np.asarray(image_ids, dtype=np.int64),
        question=texts, question_type=qtypes, answer_type=atypes, multiple_choice_answer=answers,
        answers=[a for a in answers for _ in range(10)], answer_start=np.arange(0, 10 * n + 1, 10, dtype=np.int64))
    return records, np.arange(first_image_id, first_image_id + n_images, dtype=np.int64), np.stack(images), caps, scenes


def generate(folder: Path, cfg: DictConfig) -> None:
    """Generate the train/val/test splits into `folder` (VQA formats, captions, scenes, images)."""
    records, images, caps, scenes = {}, {}, {}, {}
    first = 0
    for k, split in enumerate(("train", "val", "test")):
        n = int(cfg[f"{split}_images"])
        rec, ids, pixels, cap, scene = generate_split(n, first, cfg, int(cfg.seed) * 1000 + k)
        rec.data_subtype = split
        rec.multiple_choices = multiple_choices(rec, int(cfg.num_choices), int(cfg.seed))
        records[split], images[split], caps[split], scenes[split] = rec, (ids, pixels), cap, scene
        first += n
    write_embedded(folder, records, images, caps, scenes)


@register_data("sort_of_clevr")
def sort_of_clevr(cfg: DictConfig) -> VQAData:
    """Procedural multi-object scenes with relational questions and captions (embedded, Sort-of-CLEVR-like)."""
    if int(cfg.objects) > len(COLORS) or int(cfg.objects) < 2:
        raise UserError(f"data.objects={cfg.objects} is out of range", f"use 2..{len(COLORS)} (one colour per object)")
    keys = ("objects", "image_size", "object_radius", "train_images", "val_images", "test_images", "num_choices", "seed")
    params = {k: OmegaConf.to_container(cfg, resolve=True)[k] for k in keys}
    digest = hashlib.sha1(json.dumps([FORMAT_VERSION, params], sort_keys=True).encode()).hexdigest()[:10]
    folder = ensure_embedded(cache_dir(f"sort_of_clevr_{digest}"), lambda out: generate(out, cfg))
    return embedded_vqa_data("sort_of_clevr", folder, cfg, QUESTION_TYPES, RELATIONAL_TYPES)
