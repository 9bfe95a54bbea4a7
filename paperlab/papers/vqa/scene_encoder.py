"""Pretraining the scene encoder on scene annotations: the stand-in, on the embedded scenes, for the
ImageNet training behind the VQA papers' frozen image features (Antol et al. 2015, Sec. 5: "VGGNet
parameters are frozen to those learned for ImageNet classification"; Nam et al. 2017, Sec. 4).

The labels come from the training split's scene files (`paperlab.papers.vqa.scenes`), never from the
questions: each cell of the encoder's region grid is classified by the kind (colour-shape pair)
of the object covering it, or background, and the pooled fc7 vector by which kinds the image
holds (multi-label). The loss is the cross-entropy plus the binary cross-entropy. Reported: cell
accuracy (all cells, and the cells objects cover) and the share of images whose kinds are all
predicted right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from paperlab.data import build_data
from paperlab.engine.learner import Learner, register_learner
from paperlab.errors import UserError
from paperlab.io.figures import plt, save_figure, training_curves_figure
from paperlab.models import create_model
from paperlab.papers.vqa.data import ImageSource, VQAData
from paperlab.papers.vqa.scenes import Scenes, presence_labels, region_labels


class SceneImages(Dataset):
    """The images of a split with their per-cell and per-image labels, batched by `__getitems__`."""

    def __init__(self, images: ImageSource, scenes: Scenes, grid: int, image_size: int, colors: Sequence[str],
                 shapes: Sequence[str]) -> None:
        self.images = images
        self.image_ids = np.array(sorted(scenes), dtype=np.int64)
        self.region = torch.from_numpy(np.stack([region_labels(scenes[i], grid, image_size, colors, shapes)
                                                 for i in self.image_ids.tolist()]))
        self.presence = torch.from_numpy(np.stack([presence_labels(scenes[i], colors, shapes)
                                                   for i in self.image_ids.tolist()]))

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return {"image": self.images.load_raw(self.image_ids[idx.numpy()]), "region": self.region[idx],
                "presence": self.presence[idx]}

    @staticmethod
    def collate_fn(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return batch


@dataclass
class SceneEncoderExtras:
    """What a pretrained scene encoder comes with: the object kinds its heads name."""

    colors: list[str]
    shapes: list[str]
    pixel_mean: list[float]  # the training images' statistics (also buffers of the model)
    pixel_std: list[float]
    data: str  # the dataset it was pretrained on


@register_learner("scene_encoder")
class SceneEncoderLearner(Learner):
    """Scene CNN pretrained on scene annotations (the object kind of each region, the kinds in the image)."""

    Extras = SceneEncoderExtras

    monitor = "val/loss"
    monitor_mode = "min"

    def __init__(self, cfg: DictConfig) -> None:
        data = build_data(cfg.data)
        if not isinstance(data, VQAData) or not data.scenes.get("train"):
            raise UserError(f"data={cfg.data.name} has no scene annotations to pretrain an encoder on",
                            "use data=sort_of_clevr (it writes scenes_<split>.json in the CLEVR scenes format)")
        if data.info.image_kind != "pixels":
            raise UserError(f"data={cfg.data.name} gives precomputed features, not images", "give the images")
        self.data = data
        objects = [o for scene in data.scenes["train"].values() for o in scene]
        self.colors = sorted({o.color for o in objects})
        self.shapes = sorted({o.shape for o in objects})
        channels, size = data.info.image_shape[0], data.info.image_shape[-1]
        # the encoder standardises pixels itself, with the training images' statistics
        self.mean, self.std = self._statistics(data.splits["train"].images, data.scenes["train"])
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        self.model = create_model(model_kw.pop("name"), **model_kw, image_size=size, in_channels=channels,
                                  num_colors=len(self.colors), num_shapes=len(self.shapes))
        self.model.set_pixel_statistics(self.mean, self.std)
        grid = self.model.grid
        self.splits = {s: SceneImages(data.splits[s].images, data.scenes[s], grid, size, self.colors, self.shapes)
                       for s in ("train", "val", "test") if s in data.scenes}

    @staticmethod
    def _statistics(images: ImageSource, scenes: Scenes, n: int = 1000) -> tuple[list[float], list[float]]:
        ids = np.array(sorted(scenes))[:n]
        x = images.load_raw(ids)
        return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).tolist()

    def datasets(self) -> dict[str, Dataset]:
        return self.splits

    def _losses(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        out = model(batch["image"])
        losses = {"region": F.cross_entropy(out["region"], batch["region"]),
                  "presence": F.binary_cross_entropy_with_logits(out["presence"], batch["presence"])}
        return losses, out

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        losses, _ = self._losses(model, batch)
        return sum(losses.values()), {f"loss_{k}": v.detach() for k, v in losses.items()}

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        losses, out = self._losses(model, batch)
        n = len(batch["image"])
        cell_ok = out["region"].argmax(1) == batch["region"]
        on_object = batch["region"] > 0
        presence_ok = ((out["presence"] > 0).float() == batch["presence"]).all(1)
        return {"loss_sum": sum(losses.values()) * n, "count": torch.tensor(n), "cells": torch.tensor(cell_ok.numel()),
                "cell_ok": cell_ok.sum(), "object_cells": on_object.sum(), "object_cell_ok": (cell_ok & on_object).sum(),
                "presence_ok": presence_ok.sum()}

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        return {"loss": sums["loss_sum"] / max(sums["count"], 1),
                "cell_acc": 100 * sums["cell_ok"] / max(sums["cells"], 1),
                "object_cell_acc": 100 * sums["object_cell_ok"] / max(sums["object_cells"], 1),
                "presence_exact": 100 * sums["presence_ok"] / max(sums["count"], 1)}

    def checkpoint_extras(self) -> SceneEncoderExtras:
        return SceneEncoderExtras(self.colors, self.shapes, self.mean, self.std, self.data.info.name)

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        training_curves_figure(run.read_metrics(), run.figure("training_curves.png"))
        self.predictions_figure(self.splits["val"], run.figure("region_predictions.png"))
        return {}

    @torch.no_grad()
    def predictions_figure(self, split: SceneImages, path: Any, n: int = 6) -> Any:
        """Validation images beside the colour and shape each region predicts (blank: background)."""
        model = self.model.eval()
        batch = split.__getitems__(list(range(n)))
        kinds = model(batch["image"])["region"].argmax(1)
        fig, axes = plt.subplots(2, n, figsize=(1.9 * n, 4.2))
        g = self.model.grid
        for j in range(n):
            axes[0, j].imshow(batch["image"][j].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax = axes[1, j]
            ax.imshow(np.ones((g, g, 3)), extent=(0, g, g, 0))
            for r in range(g):
                for c in range(g):
                    if kinds[j, r, c] > 0:
                        color, shape = divmod(int(kinds[j, r, c]) - 1, len(self.shapes))
                        color, shape = self.colors[color], self.shapes[shape]
                        ax.text(c + 0.5, r + 0.5, shape[0].upper(), ha="center", va="center", fontsize=7,
                                color=color if color != "yellow" else "goldenrod", fontweight="bold")
            ax.set_xlim(0, g)
            ax.set_ylim(g, 0)
            for a in (axes[0, j], ax):
                a.set_xticks([])
                a.set_yticks([])
        axes[0, 0].set_ylabel("validation image")
        axes[1, 0].set_ylabel("per-region prediction\n(letter: shape, colour: colour)")
        return save_figure(fig, path)
