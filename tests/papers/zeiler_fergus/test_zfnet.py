"""ZFNet's architecture (Zeiler & Fergus Fig. 3) and its filter renormalisation (Sec. 3)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from paperlab.models import create_model


def _conv_and_pool_sizes(model: nn.Module, x: torch.Tensor) -> list[tuple[str, int, int]]:
    sizes = []
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            sizes.append((type(layer).__name__, x.shape[1], x.shape[-1]))
    return sizes


def test_zfnet_imagenet_matches_figure_3() -> None:
    m = create_model("zfnet", num_classes=1000, in_channels=3, image_size=224)
    assert m.variant == "imagenet"
    conv1 = m.conv_layers()[0]
    assert conv1.kernel_size == (7, 7) and conv1.stride == (2, 2)
    with torch.no_grad():
        sizes = _conv_and_pool_sizes(m, torch.zeros(1, 3, 224, 224))
    assert sizes == [("Conv2d", 96, 110), ("MaxPool2d", 96, 55), ("Conv2d", 256, 26), ("MaxPool2d", 256, 13),
                     ("Conv2d", 384, 13), ("Conv2d", 384, 13), ("Conv2d", 256, 13), ("MaxPool2d", 256, 6)]
    fcs = [layer for layer in m.classifier if isinstance(layer, nn.Linear)]
    assert [(f.in_features, f.out_features) for f in fcs] == [(256 * 36, 4096), (4096, 4096), (4096, 1000)]
    # dense layers 3-5: no grouped convolutions (AlexNet's two-GPU split)
    assert all(c.groups == 1 for c in m.conv_layers())


@pytest.mark.parametrize("size,in_ch", [(28, 1), (32, 3), (64, 3)])
def test_zfnet_small_keeps_five_conv_layers(size: int, in_ch: int) -> None:
    m = create_model("zfnet", num_classes=10, in_channels=in_ch, image_size=size)
    assert m.variant == "small" and len(m.conv_layers()) == 5
    assert m(torch.randn(2, in_ch, size, size)).shape == (2, 10)


def test_filter_renormalisation_caps_rms_at_0_1() -> None:
    m = create_model("zfnet", num_classes=10, in_channels=1, image_size=28, channels=[4, 4, 4, 4, 4], hidden=8)
    conv = m.conv_layers()[0]
    with torch.no_grad():
        conv.weight.normal_(std=1.0)
        conv.weight[0].mul_(0.01)  # this filter's RMS is ~0.01: untouched
        small = conv.weight[0].clone()
        direction = conv.weight[1] / conv.weight[1].norm()
    m.renormalize_filters()
    rms = conv.weight.pow(2).mean(dim=(1, 2, 3)).sqrt()
    assert torch.allclose(rms[1:], torch.full_like(rms[1:], 0.1), atol=1e-6)
    assert torch.equal(conv.weight[0], small)
    assert torch.allclose(conv.weight[1] / conv.weight[1].norm(), direction, atol=1e-6)  # rescaled, not changed
    off = create_model("zfnet", num_classes=10, in_channels=1, image_size=28, channels=[4, 4, 4, 4, 4],
                       hidden=8, filter_rms=None)
    with torch.no_grad():
        off.conv_layers()[0].weight.fill_(1.0)
    off.renormalize_filters()
    assert off.conv_layers()[0].weight.max().item() == 1.0
