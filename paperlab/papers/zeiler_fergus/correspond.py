"""`paperlab correspond`: Zeiler & Fergus 2013, Sec. 4.3 (Table 1): mask the same part in each of a
few images of one class, and random parts as the control; the mean feature sign change between
images at layer 5 and layer 7 (paperlab/papers/zeiler_fergus/correspondence.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from matplotlib import patches as mpatches
from omegaconf import DictConfig

from paperlab.config import at_least, config_schema
from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.io.figures import plt, save_figure
from paperlab.papers.zeiler_fergus.correspondence import RANDOM, Box, Correspondence, correspondence
from paperlab.papers.zeiler_fergus.subject import chosen_images, load_subject, to_pixels
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)


@config_schema("correspond")
@dataclass
class CorrespondConfig:
    """conf/correspond.yaml's `correspond` node (its defaults and their reasons are there)."""

    split: str
    indices: list[int] | None = at_least(0)
    images: list[str] | None
    box: list[int] = at_least(1)
    parts: dict[str, list[list[int]]]
    random_draws: int = at_least(1)
    seed: int
    object_threshold: float
    fill: float
    layers: list[str]


PART_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"]
RANDOM_COLOUR = "#808080"
SHOWN_DRAWS = 3  # random draws drawn on the images (all of them are measured)
LAYER_TITLES = {"penultimate": "penultimate (fc7, the paper's layer 7)", "conv5": "conv5 (the paper's layer 5)"}


def part_boxes(node: DictConfig, n_images: int) -> tuple[dict[str, list[Box]], tuple[int, int]]:
    """The config's parts as Boxes (one per image) and the box size (height, width)."""
    if len(node.box) != 2:
        raise UserError(f"correspond.box={list(node.box)} is not [height, width]", "e.g. correspond.box=[12,12]")
    height, width = (int(v) for v in node.box)
    if not node.parts:
        raise UserError("correspond.parts names no part", "e.g. 'correspond.parts={toe:[[34,0],[35,0]]}'")
    parts: dict[str, list[Box]] = {}
    for name, corners in node.parts.items():
        if len(corners) != n_images:
            raise UserError(f"correspond.parts.{name} has {len(corners)} boxes for {n_images} images",
                            "give one [top, left] per image, in the order of the images")
        for k, corner in enumerate(corners):
            if len(corner) != 2:
                raise UserError(f"correspond.parts.{name}[{k}]={list(corner)} is not [top, left]",
                                "give each box as [top, left] in input pixels")
        parts[str(name)] = [Box(int(t), int(s), height, width) for t, s in corners]
    return parts, (height, width)


def _image(ax: Any, pixels: np.ndarray) -> None:
    ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _outline(ax: Any, b: Box, colour: str, **kw: Any) -> None:
    # pixel k covers [k - 0.5, k + 0.5] in imshow's coordinates
    ax.add_patch(mpatches.Rectangle((b.left - 0.5, b.top - 0.5), b.width, b.height, fill=False, edgecolor=colour,
                                    lw=2.0, **kw))


def correspondence_figure(res: Correspondence, pixels: np.ndarray, names: list[str], layers: list[str],
                          path: Path) -> Path:
    """The images with each part's box (top row) and a few random draws' boxes (bottom row), and
    Table 1 as bars: the mean sign change per part and layer, its spread over the image pairs, and
    each random draw's mean as a dot."""
    parts = [p for p in res.boxes]
    colours = {p: PART_COLOURS[k % len(PART_COLOURS)] for k, p in enumerate(parts)} | {RANDOM: RANDOM_COLOUR}
    n = len(names)
    fig = plt.figure(figsize=(2.1 * n + 4.2 * len(layers), 5.0), layout="constrained")
    grid = fig.add_gridspec(2, n + 2 * len(layers))
    for i in range(n):
        ax = fig.add_subplot(grid[0, i])
        _image(ax, pixels[i])
        for p in parts:
            b = res.boxes[p][i]
            _outline(ax, b, colours[p])
            if i == 0:  # the parts' names once, beside their boxes on the first image
                below = b.top + b.height / 2 < pixels.shape[1] / 2
                ax.text(b.left + b.width / 2 - 0.5, b.top + b.height + 0.5 if below else b.top - 1.5, p,
                        color=colours[p], fontsize=8, fontweight="bold", ha="center", va="top" if below else "bottom")
        ax.set_title(names[i], fontsize=9)
        ax = fig.add_subplot(grid[1, i])
        _image(ax, pixels[i])
        for d, boxes in enumerate(res.random_boxes[:SHOWN_DRAWS]):
            _outline(ax, boxes[i], "white", ls=(0, (3, 2)), alpha=1.0 - 0.25 * d)
        if i == 0:
            ax.set_ylabel(f"random (draws 1-{min(SHOWN_DRAWS, len(res.random_boxes))} of {len(res.random_boxes)})",
                          fontsize=8)
    fig.axes[0].set_ylabel("parts", fontsize=8)
    keys = [*parts, RANDOM]
    x = np.arange(len(keys))
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(grid[:, n + 2 * k : n + 2 * k + 2])
        means = [res.mean(p, layer) for p in keys]
        ax.bar(x, means, yerr=[res.std(p, layer) for p in keys], color=[colours[p] for p in keys], alpha=0.85,
               capsize=4, width=0.7, error_kw={"lw": 1})
        draws = res.pairs[RANDOM][layer].mean(dim=1).numpy()
        jitter = np.linspace(-0.2, 0.2, len(draws))
        ax.plot(x[-1] + jitter, draws, "o", ms=3, color="black", alpha=0.6, label="mean of one random draw")
        for xi, m in zip(x, means, strict=True):
            ax.text(xi, m / 2, f"{m:.3f}", ha="center", va="center", fontsize=8, color="white", fontweight="bold")
        ax.set_xticks(x, keys, fontsize=9)
        ax.set_title(LAYER_TITLES.get(layer, layer), fontsize=10)
        ax.set_ylabel("mean feature sign change (lower: more consistent)" if k == 0 else "", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    fig.suptitle("Correspondence of parts across images (Zeiler & Fergus Sec. 4.3, Table 1): bars are the "
                 "mean over image pairs, whiskers one standard deviation", fontsize=10)
    return save_figure(fig, path)


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    c = cfg.correspond
    with open_run("correspond", cfg, run_dir) as run:
        subject = load_subject(cfg)
        stack, info = subject.stack, subject.info
        layers = dict(stack.resolve(layer) for layer in c.layers)
        if not (c.images or c.indices):
            raise UserError("correspond needs images", "give correspond.indices=[...] (dataset images) or correspond.images=[...]")
        images, labels, names = chosen_images(cfg, c, subject)
        parts, box = part_boxes(c, len(images))
        pixels = to_pixels(images, info)
        res = correspondence(stack, images, pixels, parts, layers, float(c.fill), int(c.random_draws), box,
                             float(c.object_threshold), int(c.seed))
        with torch.no_grad():
            p = stack.forward(images)[0].softmax(dim=-1)
        classes = [int(p[i].argmax()) if y is None else y for i, y in enumerate(labels)]
        names = [f"{name} ({info.class_names[k]}, p={float(p[i, k]):.2f})" for i, (name, k) in enumerate(zip(names, classes, strict=True))]

        results: dict[str, Any] = {}
        arrays: dict[str, Any] = {"image": images, "random/boxes": _corners(res.random_boxes)}
        for part in [*parts, RANDOM]:
            for layer in layers:
                key = f"correspond/{part}_{layer}"
                results[f"{key}_mean"] = round(res.mean(part, layer), 4)
                results[f"{key}_std"] = round(res.std(part, layer), 4)
                results[f"{key}_changed"] = round(res.changed(part, layer), 4)
                if part != RANDOM:
                    results[f"{key}_random_below"] = round(res.random_below(part, layer), 4)
                arrays[f"{part}/{layer}_eps"] = res.eps[part][layer]
                arrays[f"{part}/{layer}_pair_sign_change"] = res.pairs[part][layer]
            if part != RANDOM:
                arrays[f"{part}/boxes"] = _corners([res.boxes[part]])[0]
        for layer in layers:
            log.info("%s: %s; random %.4f", layer, ", ".join(f"{p} {res.mean(p, layer):.4f}" for p in parts),
                     res.mean(RANDOM, layer))
        run.save_arrays("correspondence", arrays, {
            "source": subject.source, "names": ", ".join(names), "parts": ", ".join(parts),
            "layers": ", ".join(layers), "fill": float(c.fill), "seed": int(c.seed),
            "boxes": "[top, left, height, width] in input pixels; random/boxes: (draw, image, 4)"})
        shown = pixels.permute(0, 2, 3, 1).squeeze(-1).numpy()
        correspondence_figure(res, shown, names, list(layers), run.figure("correspondence.png"))
        run.save_results(results)
    return results


def _corners(draws: list[list[Box]]) -> np.ndarray:
    return np.array([[[b.top, b.left, b.height, b.width] for b in boxes] for boxes in draws], dtype=np.int64)


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title=f"correspond: {HydraConfig.get().runtime.output_dir}")
