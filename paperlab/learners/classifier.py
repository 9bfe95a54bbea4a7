"""Image classification with cross-entropy, scored by top-1/top-5 error as in Zeiler & Fergus
2013 (Sec. 3, Table 2); multi-crop evaluation averages the softmax over crops (Sec. 3: 10 crops)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from paperlab.data import build_data_as
from paperlab.data.images import ImageData, ImageInfo
from paperlab.engine.learner import Learner, register_learner
from paperlab.interpret.filters import layer1_filters
from paperlab.io.figures import training_curves_figure
from paperlab.models import create_model


def multicrop_logprobs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Log-probabilities (B, classes); for (B, crops, C, H, W) input, log of the mean softmax."""
    if x.dim() == 4:
        return F.log_softmax(model(x), dim=-1)
    b, n = x.shape[:2]
    probs = F.softmax(model(x.flatten(0, 1)), dim=-1).view(b, n, -1).mean(1)
    return probs.clamp_min(1e-12).log()


def topk_correct(logits: torch.Tensor, y: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[int, torch.Tensor]:
    k_max = min(max(ks), logits.shape[-1])
    top = logits.topk(k_max, dim=-1).indices
    hit = top == y[:, None]
    return {k: hit[:, : min(k, k_max)].any(dim=-1).sum() for k in ks}


@register_learner("classifier")
class Classifier(Learner):
    """Image classifier (ZFNet, AlexNet, VGG) on an image dataset; top-1/top-5 error."""

    monitor = "val/top1_err"
    monitor_mode = "min"
    Extras = ImageInfo  # classes, input size and standardisation: what feeding the model needs

    def __init__(self, cfg: DictConfig, data: ImageData | None = None) -> None:
        if data is None:  # else already built: e.g. by `paperlab zsl`
            data = build_data_as(cfg.data, ImageData, "an image-classification dataset",
                                 "data=fashion_mnist, mnist, cifar10 or imagenet with learner=classifier")
        self.data = data
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        name = model_kw.pop("name")
        info = data.info
        self.model = create_model(name, **model_kw, num_classes=info.num_classes,
                                  in_channels=info.in_channels, image_size=info.image_size)

    def datasets(self) -> dict[str, Dataset]:
        return self.data.splits

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch
        return F.cross_entropy(model(x), y), {}

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = batch
        logp = multicrop_logprobs(model, x)
        hits = topk_correct(logp, y)
        return {"loss_sum": F.nll_loss(logp.float(), y, reduction="sum"), "correct1": hits[1],
                "correct5": hits[5], "count": torch.tensor(len(y))}

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1)
        return {"loss": sums["loss_sum"] / n, "top1_err": 100 * (1 - sums["correct1"] / n),
                "top5_err": 100 * (1 - sums["correct5"] / n)}

    def on_after_optimizer_step(self) -> None:
        renorm = getattr(self.model, "renormalize_filters", None)
        if renorm is not None:
            renorm()

    def checkpoint_extras(self) -> ImageInfo:
        return self.data.info

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        training_curves_figure(run.read_metrics(), run.figure("training_curves.png"),
                               error_keys=("val/top1_err", "val/top5_err"))
        first_conv = next(m for m in self.model.modules() if isinstance(m, nn.Conv2d))
        return {"layer1/filter_smoothness": layer1_filters(first_conv.weight, run.figure("layer1_filters.png"))}
