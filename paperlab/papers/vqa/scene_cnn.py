"""A small VGG-style CNN for the embedded 64x64 scenes: the stand-in for the ImageNet CNNs whose
features the VQA papers read (Antol et al. 2015, Sec. 5: VGG fc7; Nam et al. 2017, Sec. 4: the
last convolutional layer as a grid of region vectors).

Three blocks of 3x3 convolutions, batch norm, ReLU and 2x2 max-pooling turn a 64x64 image into an
8x8 grid of region vectors (the "pool5" of this net); two fully connected ReLU layers give the
pooled vector (its "fc7"). VGG's fc6 reads the whole 7x7 grid; with a few thousand training images
(not ImageNet's 1.2M) such a layer does not learn to find an object wherever it is, so fc6 here
reads a spatial pyramid of max-pools of the grid (the whole grid, and its four quadrants), which
keeps where things are at quadrant precision. The net is pretrained on the training split's
scene annotations (`paperlab.papers.vqa.scene_encoder`): every region predicts the kind of object
that covers it (one of the colour-shape pairs, or background), and fc7 predicts which kinds the
image holds -- object recognition, as ImageNet training is, and never the questions or their
answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from paperlab.config import fraction
from paperlab.errors import UserError
from paperlab.models import register_model


@dataclass
class SceneCNNConfig:
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # per block; the last is the region size
    fc_dim: int = 256  # width of fc6 and fc7 (the pooled "I" vector)
    pyramid: list[int] = field(default_factory=lambda: [1, 2])  # fc6 reads max-pools of the grid into 1x1 and 2x2 cells
    dropout: float = fraction(default=0.0)  # after fc6 and fc7 (VGG: 0.5; here it slows the presence head down for nothing)
    # filled in from the data by the learner
    image_size: int = 64
    in_channels: int = 3
    num_colors: int = 6
    num_shapes: int = 3


def _block(c_in: int, c_out: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k in range(convs):
        layers += [nn.Conv2d(c_in if k == 0 else c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                   nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


@register_model("scene_cnn")
class SceneCNN(nn.Module):
    """VGG-style scene encoder: an 8x8 grid of region vectors and a pooled fc7 vector (64x64 input)."""

    Config = SceneCNNConfig

    def __init__(self, cfg: SceneCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.grid = cfg.image_size // 2 ** len(cfg.channels)
        if self.grid < 1 or cfg.image_size % 2 ** len(cfg.channels):
            raise UserError(f"scene_cnn with {len(cfg.channels)} blocks needs images whose side is a multiple of "
                            f"{2 ** len(cfg.channels)}, not {cfg.image_size}", "change model.channels or the image size")
        chans = [cfg.in_channels, *cfg.channels]
        self.features = nn.Sequential(*(_block(a, b, 1 if i == 0 else 2)
                                        for i, (a, b) in enumerate(zip(chans, chans[1:], strict=False))))
        self.region_dim = cfg.channels[-1]
        self.fc = nn.Sequential(
            nn.Linear(self.region_dim * sum(k * k for k in cfg.pyramid), cfg.fc_dim), nn.ReLU(), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.fc_dim, cfg.fc_dim), nn.ReLU(), nn.Dropout(cfg.dropout))
        # pretraining heads: the object kind (colour-shape pair) of each region (0: background), and
        # the kinds present in the image
        kinds = cfg.num_colors * cfg.num_shapes
        self.region_head = nn.Conv2d(self.region_dim, kinds + 1, 1)
        self.presence_head = nn.Linear(cfg.fc_dim, kinds)
        # the net reads pixels in [0, 1] and standardises them with its training images' statistics
        self.register_buffer("pixel_mean", torch.zeros(1, cfg.in_channels, 1, 1))
        self.register_buffer("pixel_std", torch.ones(1, cfg.in_channels, 1, 1))

    def set_pixel_statistics(self, mean: list[float], std: list[float]) -> None:
        self.pixel_mean.copy_(torch.tensor(mean).view_as(self.pixel_mean))
        self.pixel_std.copy_(torch.tensor(std).view_as(self.pixel_std))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels in [0, 1] (B, C, H, W) -> (pooled fc7 (B, fc_dim), regions (B, region_dim, grid, grid))."""
        regions = self.features((x - self.pixel_mean) / self.pixel_std)
        pyramid = torch.cat([F.adaptive_max_pool2d(regions, k).flatten(1) for k in self.cfg.pyramid], 1)
        return self.fc(pyramid), regions

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pixels in [0, 1] -> the pretraining heads' logits: region kinds (B, C*S+1, g, g) and
        presence (B, C*S), kind k = 1 + colour x S + shape."""
        pooled, regions = self.encode(x)
        return {"region": self.region_head(regions), "presence": self.presence_head(pooled)}
