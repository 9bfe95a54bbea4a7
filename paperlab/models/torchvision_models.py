"""torchvision's ImageNet CNNs (AlexNet, VGG), for comparison with ZFNet and for the analyses.

AlexNet: Krizhevsky et al. 2012 (torchvision's single-GPU version); VGG: Simonyan & Zisserman 2015.
Pretrained weights come from torch's cache or a local file: nothing is downloaded at run time
here, so a missing file is a clear error that says where to put it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from paperlab.config import fraction
from paperlab.errors import UserError
from paperlab.models import register_model


@dataclass
class TorchvisionConfig:
    weights: str | None = None  # torchvision weights name (IMAGENET1K_V1) or a local .pth file
    dropout: float = fraction(default=0.5)
    # filled in from the data by the learner
    num_classes: int = 1000
    in_channels: int = 3
    image_size: int = 224


def imagenet_weights(arch: str, weights: str) -> dict[str, torch.Tensor]:
    """A torchvision network's ImageNet weights: a .pth file, or a weights name (IMAGENET1K_V1) whose
    file is already in torch's cache (never downloaded: paperlab runs offline)."""
    import torchvision  # imported when used: it costs a second at start-up for every other command

    path = Path(os.path.expanduser(weights))
    if path.suffix in (".pth", ".pt") or path.exists():
        if not path.is_file():
            raise UserError(f"model.weights file {path} does not exist", "give an existing .pth file")
        return torch.load(path, map_location="cpu", weights_only=True)
    try:
        enum = torchvision.models.get_model_weights(arch)[weights]
    except KeyError:
        names = ", ".join(w.name for w in torchvision.models.get_model_weights(arch))
        raise UserError(f"unknown weights '{weights}' for {arch}", f"choose one of: {names}, or a .pth file") from None
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(enum.url).name
    if not cached.is_file():
        raise UserError(
            f"the {arch} weights {weights} are not on this machine ({cached} is missing) and paperlab never downloads at run time",
            f"download {enum.url} where you have internet and put it at {cached}, or pass model.weights=/path/to/file.pth",
        )
    return torch.load(cached, map_location="cpu", weights_only=True)


class _Torchvision(nn.Module):
    """A torchvision classifier with `features`/`classifier`, adapted to the data's channels/classes."""

    Config = TorchvisionConfig
    arch = ""
    min_size = 32

    def __init__(self, cfg: TorchvisionConfig) -> None:
        super().__init__()
        if cfg.image_size < self.min_size:
            raise UserError(f"{self.arch} needs inputs of at least {self.min_size} px, the data gives {cfg.image_size}",
                            f"add data.resize={max(64, self.min_size)} (or larger)")
        import torchvision

        net = torchvision.models.get_model(self.arch, weights=None, dropout=cfg.dropout)
        if cfg.weights:
            net.load_state_dict(imagenet_weights(self.arch, cfg.weights))
        if cfg.in_channels != 3:
            old = net.features[0]
            net.features[0] = nn.Conv2d(cfg.in_channels, old.out_channels, old.kernel_size, old.stride, old.padding)
        if cfg.num_classes != net.classifier[-1].out_features:
            net.classifier[-1] = nn.Linear(net.classifier[-1].in_features, cfg.num_classes)
        self.features, self.avgpool, self.classifier = net.features, net.avgpool, net.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@register_model("alexnet")
class AlexNet(_Torchvision):
    """AlexNet (Krizhevsky et al. 2012), torchvision's version: the paper's baseline."""

    arch = "alexnet"
    min_size = 63


@register_model("vgg16")
class VGG16(_Torchvision):
    """VGG-16 (Simonyan & Zisserman 2015), torchvision's version."""

    arch = "vgg16"
    min_size = 32
