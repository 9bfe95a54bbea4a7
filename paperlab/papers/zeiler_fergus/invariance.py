"""`paperlab invariance`: Zeiler & Fergus 2013, Sec. 4.1 (Fig. 5): vertical translation, scale and
rotation sweeps of a few images; the Euclidean distance between the feature vectors of the original
and the transformed image at layer 1 and at the penultimate layer, and p(true class)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from paperlab.config import above, at_least, config_schema
from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.interpret.invariance import TRANSFORMS, SweepResult, sweep, transform
from paperlab.io.figures import plt, save_figure, tile, upscale
from paperlab.papers.zeiler_fergus.subject import (
    ImageChoice,
    chosen_images,
    load_subject,
    to_pixels,
)
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)

@config_schema("invariance")
@dataclass
class InvarianceConfig(ImageChoice):
    """conf/invariance.yaml's `invariance` node (its defaults and their reasons are there)."""

    translate: float = at_least(0)
    scale: list[float] = above(0)
    rotate: float
    steps: int = at_least(2)
    layers: list[str]
    fill: float


AXIS = {"translate": "vertical shift (pixels)", "scale": "scale factor", "rotate": "rotation (degrees)"}


def sweep_amounts(node: DictConfig, side: int) -> dict[str, np.ndarray]:
    """The transformations of each sweep, from the config (translation as a fraction of the side)."""
    steps = int(node.steps)
    if steps < 2:
        raise UserError(f"invariance.steps={steps} is too few", "use invariance.steps >= 2")
    lo, hi = (float(v) for v in node.scale)
    if lo <= 0 or hi <= 0:
        raise UserError(f"invariance.scale={list(node.scale)} must be positive", "e.g. invariance.scale=[1.0,1.8]")
    shift = float(node.translate) * side
    return {"translate": np.linspace(-shift, shift, steps), "scale": np.linspace(lo, hi, steps),
            "rotate": np.linspace(0.0, float(node.rotate), steps)}


def invariance_figure(sweeps: dict[str, SweepResult], examples: dict[str, np.ndarray], names: list[str],
                      layers: list[str], path: Path) -> Path:
    """Fig. 5's layout: one row per transformation; an example, then the distance at each layer
    and p(true class) against the amount, one curve per image."""
    ncols = 2 + len(layers)
    fig, axes = plt.subplots(len(sweeps), ncols, figsize=(3.6 * ncols, 3.0 * len(sweeps)), squeeze=False, layout="constrained",
                             gridspec_kw={"width_ratios": [1.6] + [1] * (ncols - 1)})
    for r, (kind, res) in enumerate(sweeps.items()):
        ax = axes[r, 0]
        strip = examples[kind]
        ax.imshow(strip, cmap="gray" if strip.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"{kind}: {names[0]}", fontsize=9)
        x = res.amounts.numpy()
        panels = [(res.distance[layer], f"distance at {layer}") for layer in layers] + [(res.probability, "p(true class)")]
        for c, (values, title) in enumerate(panels, start=1):
            ax = axes[r, c]
            for i, name in enumerate(names):
                ax.plot(x, values[i].numpy(), "o-", ms=2.5, lw=1.2, label=name)
            ax.set_xlabel(AXIS[kind], fontsize=8)
            ax.set_title(title, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if title.startswith("p("):
                ax.set_ylim(-0.02, 1.02)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle("Invariance to vertical translation, scale and rotation (Zeiler & Fergus Fig. 5)", fontsize=11)
    return save_figure(fig, path)


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    v = cfg.invariance
    with open_run("invariance", cfg, run_dir) as run:
        subject = load_subject(cfg)
        stack, info = subject.stack, subject.info
        layers = dict(stack.resolve(layer) for layer in v.layers)
        images, labels, names = chosen_images(cfg, v, subject)
        with torch.no_grad():
            predicted = stack.forward(images)[0].argmax(dim=-1)
        targets = torch.tensor([int(p) if y is None else y for y, p in zip(labels, predicted, strict=True)])
        names = [f"{n} ({info.class_names[t]})" for n, t in zip(names, targets.tolist(), strict=True)]
        pixels = to_pixels(images, info)
        amounts = sweep_amounts(v, images.shape[-1])
        sweeps: dict[str, SweepResult] = {}
        examples: dict[str, np.ndarray] = {}
        arrays: dict[str, Any] = {"image": images}
        results: dict[str, Any] = {}
        for kind in TRANSFORMS:
            res = sweep(stack, pixels, info.mean, info.std, targets, kind, amounts[kind].tolist(), layers, float(v.fill))
            sweeps[kind] = res
            shown = torch.cat([transform(pixels[:1], kind, a, float(v.fill))
                               for a in np.linspace(amounts[kind][0], amounts[kind][-1], 5)])
            factor = max(1, 64 // images.shape[-1])
            examples[kind] = tile(upscale(shown.permute(0, 2, 3, 1).squeeze(-1).numpy(), factor), ncols=5, pad=2)
            arrays.update({f"{kind}/amount": res.amounts, f"{kind}/probability": res.probability,
                           f"{kind}/top_class": res.top_class,
                           **{f"{kind}/{layer}_distance": d for layer, d in res.distance.items()},
                           **{f"{kind}/{layer}_norm": n for layer, n in res.norm.items()}})
            results[f"invariance/{kind}_p_true_mean"] = round(float(res.probability.mean()), 4)
            for layer in layers:
                rel = (res.distance[layer] / res.norm[layer][:, None].clamp_min(1e-12)).mean()
                results[f"invariance/{kind}_{layer}_rel_distance"] = round(float(rel), 4)
            log.info("%s: mean p(true) %.3f", kind, float(res.probability.mean()))
        run.save_arrays("invariance", arrays, {"source": subject.source, "targets": targets.numpy(),
                                               "names": ", ".join(names), "fill": float(v.fill)})
        invariance_figure(sweeps, examples, names, list(layers), run.figure("invariance.png"))
        run.save_results(results)
    return results


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title=f"invariance: {HydraConfig.get().runtime.output_dir}")
