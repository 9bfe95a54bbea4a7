"""A CNN classifier seen as one flat sequence of layers, the view the Zeiler & Fergus 2013 analyses
need (deconvnet, Sec. 2.1; occlusion, Sec. 4.2; invariance, Sec. 4.1): named conv layers, the
rectified feature maps of each, receptive fields, and forward passes that start or stop anywhere.

Works on ZFNet and torchvision's AlexNet/VGG (`features` [+ `avgpool`] + `classifier`) and on any
nn.Sequential. Inplace ReLUs (torchvision's) are replaced by out-of-place ones in the sequence (the
model itself is not changed), so that keeping an intermediate output never sees it overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from paperlab.errors import UserError

# Modules that act on each spatial position on its own (LRN normalises across channels only).
POINTWISE = (nn.ReLU, nn.LocalResponseNorm, nn.Identity, nn.Dropout, nn.BatchNorm2d)


@dataclass(frozen=True)
class Window:
    """Sliding-window geometry of a conv or max-pool along one axis."""

    kernel: int
    stride: int
    padding: int
    dilation: int
    ceil_mode: bool = False

    @property
    def span(self) -> int:
        """Input positions one output position sees."""
        return self.dilation * (self.kernel - 1) + 1

    def out_size(self, n: int) -> int:
        num = n + 2 * self.padding - self.span
        out = (-(-num // self.stride) if self.ceil_mode else num // self.stride) + 1
        if self.ceil_mode and (out - 1) * self.stride >= n + self.padding:
            out -= 1  # PyTorch: the last window must start inside the input or the left padding
        return out


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def windows(module: nn.Module) -> tuple[Window, Window] | None:
    """(rows, cols) geometry of a Conv2d or MaxPool2d; None for any other module."""
    if isinstance(module, nn.Conv2d):
        if isinstance(module.padding, str) or module.padding_mode != "zeros":
            return None
        k, s, p, d = (_pair(v) for v in (module.kernel_size, module.stride, module.padding, module.dilation))
        return Window(k[0], s[0], p[0], d[0]), Window(k[1], s[1], p[1], d[1])
    if isinstance(module, nn.MaxPool2d):
        k, s, p, d = (_pair(v) for v in (module.kernel_size, module.stride or module.kernel_size,
                                         module.padding, module.dilation))
        return (Window(k[0], s[0], p[0], d[0], module.ceil_mode), Window(k[1], s[1], p[1], d[1], module.ceil_mode))
    return None


def _leaves(module: nn.Module) -> list[nn.Module]:
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _leaves(child)]
    if isinstance(module, nn.ReLU) and module.inplace:
        return [nn.ReLU()]
    return [module]


def flatten_model(model: nn.Module) -> list[nn.Module]:
    """The model's forward pass as a list of modules applied in order."""
    if isinstance(model, nn.Sequential):
        return _leaves(model)
    features, classifier = getattr(model, "features", None), getattr(model, "classifier", None)
    if not isinstance(features, nn.Module) or not isinstance(classifier, nn.Module):
        raise UserError(f"cannot analyse {type(model).__name__}: it is not a plain CNN",
                        "use a model with `features` and `classifier` stages (zfnet, alexnet, vgg16) or an nn.Sequential")
    mods = _leaves(features)
    if isinstance(getattr(model, "avgpool", None), nn.Module):
        mods += [model.avgpool]
    head = _leaves(classifier)
    if not isinstance(head[0], nn.Flatten):
        head = [nn.Flatten(), *head]
    return mods + head


class LayerStack:
    """A classifier as `modules[0] -> modules[1] -> ...`, with the conv layers named conv1, conv2...

    Layer `convK`'s feature maps are the output of the K-th conv's ReLU (the rectified maps the
    paper projects), or of the conv itself when no ReLU follows it."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.modules = flatten_model(model)
        self.layers: dict[str, int] = {}
        convs = [i for i, m in enumerate(self.modules) if isinstance(m, nn.Conv2d)]
        for k, i in enumerate(convs, start=1):
            after = i + 1 < len(self.modules) and isinstance(self.modules[i + 1], nn.ReLU)
            self.layers[f"conv{k}"] = i + 1 if after else i
        linears = [i for i, m in enumerate(self.modules) if isinstance(m, nn.Linear)]
        # the penultimate layer: what the last Linear reads (fc7 after its ReLU, Fig. 5's "layer 7")
        self.penultimate = linears[-1] - 1 if linears else None

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    def resolve(self, layer: str | int) -> tuple[str, int]:
        """('conv3', module index of its output) for 'conv3', 3 or '3'; unknown -> UserError."""
        name = f"conv{layer}" if str(layer).isdigit() else str(layer)
        if name == "penultimate" and self.penultimate is not None:
            return name, self.penultimate
        if name not in self.layers:
            raise UserError(f"the model has no layer '{layer}'",
                            f"valid layers: {', '.join(self.layer_names)} (or their numbers 1-{len(self.layers)})")
        return name, self.layers[name]

    def forward(self, x: torch.Tensor, start: int = 0, stop: int | None = None,
                keep: Iterable[int] = ()) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Run modules[start:stop] on x; also return the outputs of the modules listed in `keep`."""
        keep = set(keep)
        kept: dict[int, torch.Tensor] = {}
        stop = len(self.modules) if stop is None else stop
        for i in range(start, stop):
            x = self.modules[i](x)
            if i in keep:
                kept[i] = x
        return x, kept

    def receptive_fields(self, index: int) -> list[tuple[Span, Span]]:
        """Where one position of modules[index]'s output looks: (rows, cols) spans, entry i at the
        input of module i (i = 0..index), entry index+1 the position itself. Entry 0 is in image
        pixels: the receptive field (the image patch shown beside a projection in Fig. 2)."""
        spans = [(Span(1, 0, 1), Span(1, 0, 1))]
        for module in reversed(self.modules[: index + 1]):
            geometry = windows(module)
            if geometry is None and not isinstance(module, POINTWISE):
                raise UserError(f"cannot trace a receptive field through {type(module).__name__}",
                                "analyse a conv layer of a plain CNN (conv, ReLU, max-pool, LRN, batch norm)")
            rows, cols = spans[0]
            if geometry is not None:
                rows, cols = rows.through(geometry[0]), cols.through(geometry[1])
            spans.insert(0, (rows, cols))
        return spans


@dataclass(frozen=True)
class Span:
    """Along one axis, output position p looks at input positions [scale*p + offset, ... + size)."""

    scale: int
    offset: int
    size: int

    def through(self, w: Window) -> Span:
        """The same span one conv/pool further down (at that module's input)."""
        return Span(self.scale * w.stride, self.offset * w.stride - w.padding, (self.size - 1) * w.stride + w.span)

    def start(self, p: torch.Tensor) -> torch.Tensor:
        return self.scale * p + self.offset
