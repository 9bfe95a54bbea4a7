"""`paperlab occlude`: Zeiler & Fergus 2013, Sec. 4.2 (Fig. 7): slide a grey square over images and
map, for every position, the total activation of the strongest layer-5 feature map of the
unoccluded image, p(true class) and the most probable class; beside them the deconvnet projection
of that feature map."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.patches as mpatches
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from matplotlib.colors import to_rgba
from omegaconf import DictConfig

from paperlab.config import at_least, config_schema
from paperlab.engine.lifecycle import open_run
from paperlab.interpret.deconvnet import Neurons, deconv_project
from paperlab.interpret.occlusion import OcclusionMaps, occlusion_maps
from paperlab.io.figures import plt, save_figure, to_display_signed
from paperlab.papers.zeiler_fergus.subject import (
    ImageChoice,
    chosen_images,
    load_subject,
    to_pixels,
)
from paperlab.papers.zeiler_fergus.visualize import CONTRAST
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)


@config_schema("occlude")
@dataclass
class OccludeConfig(ImageChoice):
    """conf/occlude.yaml's `occlude` node (its defaults and their reasons are there)."""

    size: int = at_least(1)
    stride: int = at_least(1)
    fill: float
    layer: str | None


def _edges(starts: torch.Tensor, square: int, size: int) -> np.ndarray:
    """Cell edges along one axis: each position's cell is centred on its square's centre, the
    cells tile the whole image (positions may be uneven)."""
    centres = starts.double().numpy() + square / 2
    return np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [float(size)]])


def _image(ax: Any, pixels: np.ndarray) -> None:
    ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _heat(ax: Any, pixels: np.ndarray, ex: np.ndarray, ey: np.ndarray, values: np.ndarray, cmap: str | None = None,
          **kw: Any) -> Any:
    """A map over the occluder positions, laid over a faint copy of the image (so one sees where
    the object is); each cell sits on the centre of its square."""
    h, w = pixels.shape[:2]
    ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=1, extent=(0, w, h, 0))
    mesh = ax.pcolormesh(ex, ey, values, cmap=cmap, shading="flat", alpha=0.8, **kw)
    ax.set(xlim=(0, w), ylim=(h, 0), aspect="equal", xticks=[], yticks=[])
    return mesh


def class_colours(classes: list[int]) -> dict[int, tuple[float, float, float, float]]:
    """One distinct colour per class, for a whole figure: tab10 for up to 10 classes, tab20 for up to
    20, the three tab20 sets for up to 60, then evenly spaced hues."""
    n = len(classes)
    if n <= 20:
        palette = list(plt.get_cmap("tab10" if n <= 10 else "tab20").colors)
    elif n <= 60:
        palette = [c for name in ("tab20", "tab20b", "tab20c") for c in plt.get_cmap(name).colors]
    else:
        palette = [plt.get_cmap("hsv")(k / n) for k in range(n)]
    return {c: to_rgba(palette[k]) for k, c in enumerate(sorted(classes))}


def occlusion_figure(rows: list[dict[str, Any]], class_names: list[str], square: int, path: Path) -> Path:
    """Fig. 7's columns for each image: (a) the image and the occluder's size, (b) total activation
    of the strongest layer-L map, (c) its deconvnet projection, (d) p(true class), (e) most
    probable class, in one colour per class across the whole figure (each row's legend lists its
    classes)."""
    colours = class_colours(sorted({int(c) for d in rows for c in d["maps"].top_class.flatten().tolist()}))
    fig, axes = plt.subplots(len(rows), 5, figsize=(15, 3.1 * len(rows)), squeeze=False, layout="constrained")
    for r, d in enumerate(rows):
        m: OcclusionMaps = d["maps"]
        pixels = d["pixels"]
        h, w = pixels.shape[:2]
        ex, ey = _edges(m.left, square, w), _edges(m.top, square, h)
        ax = axes[r, 0]
        _image(ax, pixels)
        ax.add_patch(mpatches.Rectangle((-0.5, -0.5), square, square, fill=True, color="grey", alpha=0.8))
        ax.set_title(f"(a) {d['name']}: {class_names[d['target']]}\np={d['p_clean']:.2f}; grey: occluder", fontsize=9)
        ax = axes[r, 1]
        im = _heat(ax, pixels, ex, ey, m.activation.numpy(), "viridis")
        ax.set_title(f"(b) total activation, {d['layer']} map {d['channel']}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        ax = axes[r, 2]
        _image(ax, d["projection"])
        ax.set_title(f"(c) deconvnet projection of {d['layer']} map {d['channel']}", fontsize=9)
        ax = axes[r, 3]
        im = _heat(ax, pixels, ex, ey, m.probability.numpy(), "magma", vmin=0, vmax=1)
        ax.set_title(f"(d) p({class_names[d['target']]})", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        ax = axes[r, 4]
        classes = m.top_class.numpy()
        present = sorted(set(classes.flatten().tolist()))
        _heat(ax, pixels, ex, ey, np.array([[colours[c] for c in row] for row in classes]))
        ax.set_title("(e) most probable class", fontsize=9)
        ax.legend(handles=[mpatches.Patch(color=colours[c], label=class_names[c]) for c in present],
                  fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle(f"Occlusion sensitivity, {square} px grey square (Zeiler & Fergus Fig. 7)", fontsize=11)
    return save_figure(fig, path)


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    o = cfg.occlude
    with open_run("occlude", cfg, run_dir) as run:
        subject = load_subject(cfg)
        stack, info = subject.stack, subject.info
        layer, index = stack.resolve(o.layer or stack.layer_names[-1])
        images, labels, names = chosen_images(cfg, o, subject)
        square, stride = int(o.size), int(o.stride)
        rows: list[dict[str, Any]] = []
        arrays: dict[str, Any] = {}
        results: dict[str, Any] = {}
        for x, label, name in zip(images, labels, names, strict=True):
            x = x[None]
            with torch.no_grad():
                logits, kept = stack.forward(x, keep=[index])
            p = logits.softmax(dim=-1)[0]
            target = int(p.argmax()) if label is None else label
            if label is None:
                log.info("%s has no label: mapping p(%s), the predicted class", name, info.class_names[target])
            fmap = kept[index][0]
            channel = int(fmap.flatten(1).max(dim=1).values.argmax())  # the strongest map (Fig. 7b)
            pos = int(fmap[channel].flatten().argmax())
            maps = occlusion_maps(stack, x, target, index, channel, square, stride, fill=float(o.fill))
            proj = deconv_project(stack, x, index, Neurons(torch.tensor([0]), torch.tensor([channel]),
                                                           torch.tensor([pos // fmap.shape[2]]),
                                                           torch.tensor([pos % fmap.shape[2]])))
            projection = proj.full(*x.shape[2:])
            pixels = to_pixels(x, info)[0].permute(1, 2, 0).squeeze(-1).numpy()
            rows.append({"maps": maps, "pixels": pixels, "projection": to_display_signed(projection, CONTRAST)[0],
                         "target": target, "channel": channel, "layer": layer, "name": name,
                         "p_clean": float(p[target])})
            arrays.update({f"{name}/activation": maps.activation, f"{name}/probability": maps.probability,
                           f"{name}/top_class": maps.top_class, f"{name}/top": maps.top, f"{name}/left": maps.left,
                           f"{name}/image": x[0], f"{name}/projection": projection[0]})
            results[f"occlude/{name}_p_clean"] = round(float(p[target]), 4)
            results[f"occlude/{name}_p_min"] = round(float(maps.probability.min()), 4)
            log.info("%s (%s): p=%.3f unoccluded, %.3f at worst; %s map %d", name, info.class_names[target],
                     float(p[target]), float(maps.probability.min()), layer, channel)
        run.save_arrays("occlusion", arrays, {"source": subject.source, "size": square, "stride": stride,
                                              "fill": float(o.fill), "layer": layer,
                                              **{f"{r['name']}_target": r["target"] for r in rows},
                                              **{f"{r['name']}_channel": r["channel"] for r in rows}})
        occlusion_figure(rows, info.class_names, square, run.figure("occlusion.png"))
        run.save_results(results)
    return results


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title=f"occlude: {HydraConfig.get().runtime.output_dir}")
