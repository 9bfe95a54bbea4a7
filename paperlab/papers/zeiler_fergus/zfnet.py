"""ZFNet: Zeiler & Fergus 2013, "Visualizing and Understanding Convolutional Networks", Sec. 3, Fig. 3.

AlexNet with the changes the deconvnet visualisations suggested: conv1 7x7 stride 2 (AlexNet:
11x11 stride 4), dense (not split) connections in layers 3-5. Five conv layers, max pooling 3x3
stride 2 after layers 1, 2 and 5, local contrast normalisation after layers 1 and 2, two
4096-unit fully connected layers with dropout 0.5, and a softmax classifier.

Sizes (224 input): conv1 110x110x96 -> pool 55 -> conv2 26x26x256 -> pool 13 -> conv3/4 13x13x384
-> conv5 13x13x256 -> pool 6x6 -> fc6 4096 -> fc7 4096 -> classes.

The "small" variant keeps all five conv layers (so every layer can be visualised) for 28-64 px
inputs: stride-1 convolutions (5x5, 5x5, 3x3, 3x3, 3x3), the same pooling and normalisation. On
inputs of 56 px and more, layer 1 is the paper's 7x7 stride 2 instead, so 56 px images (Fashion-MNIST
upsampled 2x, the default recipe) reach layer 2 at 28x28 as 28 px images do through the 5x5.

Layer 1 starts from the paper's N(0, 1e-2) (`layer1_init_std`) even when the others use He's
initialisation: He's 0.2-RMS noise sits at spatial frequencies the images barely excite, so no
gradient removes it, and the learnt filters stay noisy (layer-1 smoothness 0.5 vs 0.75 at 7 epochs).

Filter RMS renormalisation (Sec. 3): "we renormalize each filter in the convolutional layers whose
RMS value exceeds a fixed radius of 10^-1 to this fixed radius" — `renormalize_filters()`, called
after every optimizer step when `filter_rms` is set.

Modules are nn.ReLU / nn.MaxPool2d objects (not functional calls) so the deconvnet and Grad-CAM
can hook them; `features` holds the conv stack, `classifier` the dense layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from paperlab.config import fraction
from paperlab.errors import UserError
from paperlab.models import register_model


@dataclass
class ZFNetConfig:
    variant: str = "auto"  # "imagenet" (224 px, Fig. 3), "small" (28-64 px), "auto": by image_size
    channels: list[int] | None = None  # conv1-5 widths; None: Fig. 3's for imagenet, SMALL_CHANNELS for small
    hidden: int | None = None  # fc6, fc7 width; None: 4096 (Fig. 3) for imagenet, SMALL_HIDDEN for small
    dropout: float = fraction(default=0.5)  # Sec. 3: "Dropout is used in the fully connected layers (6 and 7) with a rate of 0.5"
    lrn: bool = True  # "contrast normalized across feature maps" after layers 1 and 2 (Fig. 3)
    filter_rms: float | None = 0.1  # Sec. 3: renormalise conv filters whose RMS exceeds 0.1
    init: str = "kaiming"  # "kaiming" (He et al. 2015), "normal" (N(0, init_std), Sec. 3), "default" (PyTorch's)
    init_std: float = 0.01  # Sec. 3: "All weights are initialized to 10^-2 and biases are set to 0"
    layer1_init_std: float | None = 0.01  # layer 1 from N(0, this) whatever `init` says (Sec. 3's 10^-2); None: as `init`
    # filled in from the data by the learner
    num_classes: int = 1000
    in_channels: int = 3
    image_size: int = 224


IMAGENET_CHANNELS = [96, 256, 384, 384, 256]  # Fig. 3
IMAGENET_HIDDEN = 4096  # Fig. 3
# The small variant's default widths: a third of Fig. 3's conv widths (the full widths on 28 px
# images cost ~10x the compute for no gain on Fashion-MNIST) and 256-unit dense layers.
SMALL_CHANNELS = [32, 64, 96, 96, 64]
SMALL_HIDDEN = 256


@register_model("zfnet")
class ZFNet(nn.Module):
    """ZFNet (Zeiler & Fergus 2013): the ImageNet net, or a small variant for 28-64 px images."""

    Config = ZFNetConfig

    def __init__(self, cfg: ZFNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        variant = cfg.variant
        if variant == "auto":
            variant = "imagenet" if cfg.image_size >= 128 else "small"
        if variant not in ("imagenet", "small"):
            raise UserError(f"unknown ZFNet variant '{cfg.variant}'", "use model.variant=auto, imagenet or small")
        channels = cfg.channels or (IMAGENET_CHANNELS if variant == "imagenet" else SMALL_CHANNELS)
        hidden = cfg.hidden or (IMAGENET_HIDDEN if variant == "imagenet" else SMALL_HIDDEN)
        if len(channels) != 5:
            raise UserError(f"model.channels needs 5 widths (one per conv layer), got {len(channels)}",
                            "e.g. model.channels=[96,256,384,384,256]")
        self.variant = variant
        c1, c2, c3, c4, c5 = channels
        # (kernel, stride, padding) of conv1 and conv2
        if variant == "imagenet":
            k1, k2 = (7, 2, 1), (5, 2, 0)
        else:
            k1, k2 = ((7, 2, 3) if cfg.image_size >= 56 else (5, 1, 2)), (5, 1, 2)

        def norm() -> nn.Module:
            # AlexNet's local response normalisation constants
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0) if cfg.lrn else nn.Identity()

        def pool() -> nn.MaxPool2d:
            # ceil_mode gives the paper's sizes: 110 -> 55 and 26 -> 13
            return nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.features = nn.Sequential(
            nn.Conv2d(cfg.in_channels, c1, k1[0], k1[1], k1[2]), nn.ReLU(), pool(), norm(),
            nn.Conv2d(c1, c2, k2[0], k2[1], k2[2]), nn.ReLU(), pool(), norm(),
            nn.Conv2d(c2, c3, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(c3, c4, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(c4, c5, 3, 1, 1), nn.ReLU(), pool(),
        )
        with torch.no_grad():
            side = self.features(torch.zeros(1, cfg.in_channels, cfg.image_size, cfg.image_size)).shape[-1]
        if side < 1:
            raise UserError(f"{cfg.image_size} px inputs are too small for ZFNet ({variant})",
                            "use model.variant=small for 28-64 px images")
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(cfg.dropout), nn.Linear(c5 * side * side, hidden), nn.ReLU(),
            nn.Dropout(cfg.dropout), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, cfg.num_classes),
        )
        self._init_weights(cfg.init, cfg.init_std)
        if cfg.layer1_init_std is not None:
            nn.init.normal_(self.conv_layers()[0].weight, std=cfg.layer1_init_std)
        self.renormalize_filters()

    def _init_weights(self, scheme: str, std: float) -> None:
        if scheme not in ("kaiming", "normal", "default"):
            raise UserError(f"unknown init '{scheme}'", "use model.init=kaiming, normal or default")
        if scheme == "default":
            return
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if scheme == "normal":
                    nn.init.normal_(m.weight, std=std)
                else:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def conv_layers(self) -> list[nn.Conv2d]:
        """The five conv layers, in order (layer 1 = index 0)."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)]

    @torch.no_grad()
    def renormalize_filters(self) -> None:
        """Rescale every conv filter whose RMS exceeds `filter_rms` to RMS `filter_rms` (Sec. 3)."""
        if self.cfg.filter_rms is None:
            return
        for conv in self.conv_layers():
            rms = conv.weight.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
            conv.weight.mul_(torch.clamp(self.cfg.filter_rms / rms.clamp_min(1e-12), max=1.0))
