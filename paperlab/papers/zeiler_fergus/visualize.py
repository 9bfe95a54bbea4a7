"""`paperlab visualize`: Zeiler & Fergus 2013, Sec. 4 (Fig. 2): for each conv layer, the top 9
activations of a sample of feature maps over the validation set, each projected to pixels with the
deconvnet (Sec. 2.1) beside the image patch it came from; the layer-1 filters (Fig. 6); and with
`--evolution`, the strongest activation of chosen maps at each saved epoch of a run (Fig. 4)."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig
from torch import nn

from paperlab.config import at_least, checked, config_schema
from paperlab.data.tensor_images import TensorImages
from paperlab.engine.checkpoint import load_checkpoint
from paperlab.engine.lifecycle import open_run
from paperlab.engine.restore import named_checkpoint
from paperlab.errors import UserError
from paperlab.interpret.deconvnet import Neurons, TopActivations, deconv_project, top_activations
from paperlab.interpret.filters import layer1_filters
from paperlab.io.figures import (
    plt,
    save_figure,
    tile,
    to_display_signed,
    upscale,
)
from paperlab.papers.zeiler_fergus.subject import (
    Subject,
    batches,
    dataset_split,
    load_subject,
    to_pixels,
)
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)

DISPLAY_SIDE = 40  # crops are enlarged (nearest neighbour) to at least this many pixels a side
CONTRAST = 0.99  # projections are scaled so that this quantile of |value| is full black/white


def maps_problem(maps: Any) -> tuple[str, str] | None:
    """What is wrong with visualize.maps, which is a count >= 1, a list of map indices, or "all"."""
    if isinstance(maps, list):
        ok = all(str(m).isdigit() for m in maps)
    else:
        ok = str(maps) == "all" or (isinstance(maps, int) and not isinstance(maps, bool) and maps >= 1)
    return None if ok else ("is not a count >= 1, a list of map indices or all", "e.g. {key}=8, [0,5,9] or all")


@config_schema("visualize")
@dataclass
class VisualizeConfig:
    """conf/visualize.yaml's `visualize` node (its defaults and their reasons are there)."""

    layers: list[str] | None
    maps: Any = checked(maps_problem)
    top: int = at_least(1)
    split: str
    max_images: int | None = at_least(1)
    batch_size: int = at_least(1)
    seed: int
    evolution: bool
    evolution_maps: int = at_least(1)
    evolution_split: str


def project_crops(subject: Subject, dataset: TensorImages, index: int, neurons: Neurons) -> dict[str, torch.Tensor]:
    """Deconvnet projections of `neurons` (their image: a dataset index) and the image patches they see."""
    used, local = neurons.image.unique(return_inverse=True)
    images = dataset.__getitems__(used.tolist())[0]
    proj = deconv_project(subject.stack, images, index, Neurons(local, neurons.channel, neurons.row, neurons.col))
    return {"projection": proj.pixels, "patch": proj.patches(to_pixels(images, subject.info)[local]),
            "origin": torch.stack([proj.top, proj.left], dim=1), "activation": proj.activation}


def choose_maps(top: TopActivations, maps: Any, seed: int, layer: str) -> list[int]:
    """`maps`: "all", a list of map indices, or a count (a seeded sample of the live maps:
    those with a positive activation somewhere; a dead map has nothing to project)."""
    n_maps = top.value.shape[0]
    if isinstance(maps, (list, ListConfig)):
        bad = [m for m in maps if not 0 <= int(m) < n_maps]
        if bad:
            raise UserError(f"{layer} has no feature map {bad[0]}", f"{layer} has maps 0..{n_maps - 1}")
        return [int(m) for m in maps]
    live = (top.value[:, 0] > 0).nonzero().flatten()
    if str(maps) == "all":
        return list(range(n_maps))
    if not str(maps).isdigit():
        raise UserError(f"visualize.maps={maps} is not a count, a list or 'all'", "e.g. visualize.maps=8, [0,5,9] or all")
    g = torch.Generator().manual_seed(seed)
    return sorted(live[torch.randperm(len(live), generator=g)[: int(maps)]].tolist())


def _show(ax: Any, mosaic: np.ndarray, title: str = "") -> None:
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=8)


def _mosaic(crops: torch.Tensor, signed: bool, ncols: int) -> np.ndarray:
    images = to_display_signed(crops, CONTRAST) if signed else crops.permute(0, 2, 3, 1).squeeze(-1).numpy()
    factor = max(1, math.ceil(DISPLAY_SIDE / max(crops.shape[2:])))
    return tile(upscale(images, factor), ncols=ncols, pad=2)


def top9_figure(layers: dict[str, dict[str, Any]], path: Path, maps_per_row: int = 4, max_maps: int | None = None) -> Path:
    """Fig. 2's layout: for each map, its top-9 projections (left) beside their image patches (right)."""
    rows = []  # (layer, [(map, projection mosaic, patch mosaic)])
    for layer, d in layers.items():
        k = d["projection"].shape[1]
        side = math.ceil(math.sqrt(k))
        cells = [(m, _mosaic(d["projection"][i], True, side), _mosaic(d["patch"][i], False, side))
                 for i, m in enumerate(d["maps"][:max_maps])]
        for lo in range(0, len(cells), maps_per_row):
            rows.append((layer, cells[lo : lo + maps_per_row]))
    ncols = 2 * maps_per_row
    fig, axes = plt.subplots(len(rows), ncols, figsize=(2.0 * ncols, 2.3 * len(rows) + 0.4), squeeze=False, layout="constrained")
    for r, (layer, cells) in enumerate(rows):
        for c in range(maps_per_row):
            ax_p, ax_i = axes[r, 2 * c], axes[r, 2 * c + 1]
            if c >= len(cells):
                ax_p.set_axis_off()
                ax_i.set_axis_off()
                continue
            m, proj, patch = cells[c]
            _show(ax_p, proj, f"{layer} map {m}: projections")
            _show(ax_i, patch, "image patches")
    fig.suptitle("Top-9 activations per feature map, projected to pixels by the deconvnet (Zeiler & Fergus Fig. 2)",
                 fontsize=10)
    return save_figure(fig, path)


def evolution_figure(layers: dict[str, dict[str, Any]], epochs: list[int], path: Path) -> Path:
    """Fig. 4's layout: a block per layer, a row per feature map, in each row the strongest
    activation's projection at each epoch, left to right."""
    nrows = max(len(d["maps"]) for d in layers.values())
    fig, axes = plt.subplots(nrows, len(layers), figsize=(1.1 * len(epochs) * len(layers) + 0.5, 1.3 * nrows + 0.6),
                             squeeze=False, layout="constrained")
    for c, (layer, d) in enumerate(layers.items()):
        for r in range(nrows):
            ax = axes[r, c]
            if r >= len(d["maps"]):
                ax.set_axis_off()
                continue
            _show(ax, _mosaic(d["projection"][r], True, len(epochs)))
            ax.set_ylabel(f"map {d['maps'][r]}", fontsize=8)
        axes[0, c].set_title(f"{layer}: epochs {', '.join(map(str, epochs))}", fontsize=9)
    fig.suptitle("Strongest activation of feature maps as training goes on, projected by the deconvnet "
                 "(Zeiler & Fergus Fig. 4)", fontsize=10)
    return save_figure(fig, path)


def snapshots(where: str | Path) -> list[tuple[int, Path]]:
    """A training run's weights by epoch, final weights last: a run directory's
    checkpoints/snapshots/epoch_NNN.pt and last.pt, or a named model's snapshots/ and model.pt."""
    path = Path(str(where)).expanduser()
    shipped = None if path.exists() else named_checkpoint(str(where))
    if path.is_dir():
        folder, final = path / "checkpoints" / "snapshots", path / "checkpoints" / "last.pt"
    elif shipped is not None:
        folder, final = shipped.parent / "snapshots", shipped
    else:
        folder = final = None
    found = sorted((int(m.group(1)), p) for p in (folder.glob("epoch_*.pt") if folder else [])
                   if (m := re.fullmatch(r"epoch_(\d+)\.pt", p.name)))
    if not found:
        raise UserError(f"--evolution needs a training run with weight snapshots; {where} has none "
                        "(checkpoints/snapshots/epoch_*.pt)",
                        "give the run directory of `paperlab train` (it keeps trainer.snapshot_epochs)")
    if final.is_file():
        epoch = int(load_checkpoint(final).get("trainer", {}).get("epoch", 0))
        if epoch > found[-1][0]:
            found.append((epoch, final))
    return found


def evolution(cfg: DictConfig, subject: Subject, layers: list[tuple[str, int]], epochs: list[tuple[int, Path]],
              tops: dict[int, TopActivations], run: Any) -> dict[str, Any]:
    """Fig. 4: at each epoch snapshot, the strongest activation of chosen maps over the images.
    The maps are sampled among those the final weights use (`tops`: their top activations)."""
    v = cfg.visualize
    dataset = dataset_split(cfg, subject, str(v.evolution_split))
    images_n = min(len(dataset), int(v.max_images or len(dataset)))
    indices = [i for _, i in layers]
    chosen = {name: choose_maps(tops[i], v.evolution_maps, int(v.seed), name) for name, i in layers}
    out: dict[str, dict[str, Any]] = {name: {"maps": chosen[name], "projection": [], "activation": [], "image": []}
                                      for name, _ in layers}
    for epoch, path in epochs:
        snap = load_subject(cfg, path)
        top = top_activations(snap.stack, batches(dataset, v.batch_size, images_n, f"evolution: epoch {epoch}"), indices, k=1)
        for name, i in layers:
            neurons = top[i].neurons(chosen[name])
            crops = project_crops(snap, dataset, i, neurons)
            out[name]["projection"].append(crops["projection"])
            out[name]["activation"].append(crops["activation"])
            out[name]["image"].append(neurons.image)
    arrays: dict[str, Any] = {"epochs": np.array([e for e, _ in epochs])}
    for name, d in out.items():
        d["projection"] = torch.stack(d["projection"], dim=1)  # (maps, epochs, C, h, w)
        arrays.update({f"{name}/maps": np.array(d["maps"]), f"{name}/projection": d["projection"],
                       f"{name}/activation": torch.stack(d["activation"], dim=1),
                       f"{name}/image": torch.stack(d["image"], dim=1)})
    run.save_arrays("evolution", arrays, {"split": str(v.evolution_split), "images": images_n,
                                          "checkpoints": ", ".join(str(p) for _, p in epochs)})
    evolution_figure(out, [e for e, _ in epochs], run.figure("evolution.png"))
    return {"visualize/evolution_epochs": len(epochs)}


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    v = cfg.visualize
    with open_run("visualize", cfg, run_dir) as run:
        subject = load_subject(cfg)
        stack = subject.stack
        layers = [stack.resolve(layer) for layer in (v.layers or stack.layer_names)]
        epochs = snapshots(cfg.checkpoint) if v.evolution else []  # fail before the long part
        dataset = dataset_split(cfg, subject, str(v.split))
        images_n = min(len(dataset), int(v.max_images or len(dataset)))
        tops = top_activations(stack, batches(dataset, v.batch_size, images_n, f"top-{v.top} search"),
                               [i for _, i in layers], k=int(v.top))
        shown: dict[str, dict[str, Any]] = {}
        arrays: dict[str, Any] = {}
        results: dict[str, Any] = {"visualize/images": images_n}
        for name, i in layers:
            top = tops[i]
            maps = choose_maps(top, v.maps, int(v.seed), name)
            k = top.value.shape[1]
            crops = project_crops(subject, dataset, i, top.neurons(maps))
            d = {key: t.view(len(maps), k, *t.shape[1:]) for key, t in crops.items()}
            shown[name] = {"maps": maps, **d}
            arrays.update({f"{name}/top_{f}": t for f, t in vars(top).items()})
            arrays.update({f"{name}/maps": np.array(maps), **{f"{name}/{key}": t for key, t in d.items()}})
            live = int((top.value[:, 0] > 0).sum())
            results[f"visualize/{name}_live_maps"] = f"{live}/{top.value.shape[0]}"
            log.info("%s: %d of %d maps active on some image; showing %d", name, live, top.value.shape[0], len(maps))
        fields = {name: stack.receptive_fields(i)[0][0].size for name, i in layers}
        run.save_arrays("top9", arrays, {"source": subject.source, "split": str(v.split), "images": images_n,
                                         **{f"{name}_receptive_field": s for name, s in fields.items()}})
        for name, d in shown.items():
            top9_figure({name: d}, run.figure(f"top9_{name}.png"))
        top9_figure(shown, run.figure("top9.png"), max_maps=4)
        first = next(m for m in stack.modules if isinstance(m, nn.Conv2d))
        results["visualize/layer1_filter_smoothness"] = layer1_filters(first.weight, run.figure("layer1_filters.png"))
        if v.evolution:
            results.update(evolution(cfg, subject, layers, epochs, tops, run))
        run.save_results(results)
    return results


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title=f"visualize: {HydraConfig.get().runtime.output_dir}")
