"""`paperlab gradcam`: Grad-CAM (Selvaraju et al. 2017, Sec. 3) of a trained classifier (a `paperlab
train` run, the NIWT classifier of a `paperlab zsl` run, a checkpoint file or a shipped model) on
image files: each image's overlay as a PNG, a captioned grid, and the maps in arrays/gradcam.h5."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from PIL import Image, UnidentifiedImageError

from paperlab.config import at_least, config_schema
from paperlab.data.images import ImageInfo
from paperlab.engine.lifecycle import open_run
from paperlab.engine.restore import load_model
from paperlab.errors import UserError
from paperlab.interpret.cam_figures import cam_grid, denormalize, save_overlay
from paperlab.interpret.gradcam import GradCAM
from paperlab.tasks.report import print_results


@config_schema("gradcam")
@dataclass
class GradCAMConfig:
    """conf/gradcam.yaml's `gradcam` node (its defaults are there)."""

    images: list[str]
    layer: str
    target: Any
    alpha: float = at_least(0)


def load_images(paths: list[str], info: ImageInfo) -> torch.Tensor:
    """Image files -> (N, C, size, size), resized and standardised as the model's training data."""
    if not paths:
        raise UserError("no images given", "paperlab gradcam RUN_DIR IMAGE [IMAGE ...]")
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise UserError(f"image(s) not found: {', '.join(missing)}", "give existing image files")
    size, channels = info.image_size, info.in_channels
    out = []
    for p in paths:
        try:
            with Image.open(p) as im:
                arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255
        except (UnidentifiedImageError, OSError) as err:
            raise UserError(f"cannot read image {p} ({err})", "give PNG, JPEG or another image format PIL reads") from None
        x = torch.from_numpy(arr).reshape(arr.shape[0], arr.shape[1], channels).permute(2, 0, 1)[None]
        out.append(F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0])
    mean = torch.tensor(info.mean).view(1, -1, 1, 1)
    std = torch.tensor(info.std).view(1, -1, 1, 1)
    return (torch.stack(out) - mean) / std


def target_index(target: Any, classes: list[str]) -> int | None:
    if target is None:
        return None
    text = str(target)
    if text in classes:
        return classes.index(text)
    if text.isdigit() and int(text) < len(classes):
        return int(text)
    raise UserError(f"unknown target class '{text}'", f"give a class index 0-{len(classes) - 1} or a name: {', '.join(classes)}")


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    with open_run("gradcam", cfg, run_dir) as run:
        g = cfg.gradcam
        loaded = load_model(str(cfg.checkpoint), "classifier")
        model, info, ckpt = loaded.model, loaded.extras, loaded.path
        x = load_images([str(p) for p in g.images], info)
        classes = list(info.class_names)
        target = target_index(g.get("target"), classes)
        with GradCAM(model, str(g.layer)) as cam:
            out = cam.attribute(x, target)
        probs = out.logits.softmax(1)
        shown = denormalize(x, info.mean, info.std)
        names = [Path(p).stem for p in g.images]
        captions = []
        for i, name in enumerate(names):
            t, p = int(out.targets[i]), int(probs[i].argmax())
            save_overlay(shown[i], out.maps[i].numpy(), run.figure(f"{i:03d}_{name}.png"), alpha=float(g.alpha))
            captions.append(f"{name}\nexplained: {classes[t]}\npredicted: {classes[p]} ({100 * float(probs[i, p]):.0f}%)")
        cam_grid(shown, out.maps.numpy(), captions, run.figure("gradcam.png"), alpha=float(g.alpha),
                 title=f"Grad-CAM at {cam.layer_name} ({Path(ckpt).parent.parent.name})")
        run.save_arrays("gradcam", {"maps": out.maps, "cams": out.cams, "importances": out.weights, "logits": out.logits,
                                    "targets": out.targets, "images": np.array([str(p) for p in g.images])},
                        {"layer": cam.layer_name, "checkpoint": str(ckpt)})
        results = {"images": len(names), "layer": cam.layer_name, "checkpoint": str(ckpt)}
        for i, name in enumerate(names):
            results[f"{name}/predicted"] = classes[int(probs[i].argmax())]
            results[f"{name}/explained"] = classes[int(out.targets[i])]
        run.save_results(results)
        return results


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title=f"gradcam: {HydraConfig.get().runtime.output_dir}")
