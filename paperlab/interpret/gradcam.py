"""Grad-CAM (Selvaraju et al., ICCV 2017, Sec. 3), as used for the explanations of NIWT
(Selvaraju et al., ECCV 2018, "Choose Your Neuron", Sec. 3.1 and Sec. 5.3).

For a class score y_c (the logit, before the softmax) and the feature maps A^k of a conv layer:

    alpha_k^c = 1/Z sum_ij d y_c / d A^k_ij          (Grad-CAM Eq. 1; NIWT's neuron importance)
    L^c       = ReLU(sum_k alpha_k^c A^k)             (Grad-CAM Eq. 2)

The map is upsampled to the input size (bilinear) and min-max scaled to [0, 1] per image, exactly as
pytorch-grad-cam's `GradCAM` does (its `scale_cam_image` is applied before and after resizing), so
the two agree to float precision.

`GradCAM` is a context manager: it hooks the layer on entry and always removes the hook on exit,
also when an exception is raised. It differs from pytorch-grad-cam in how the gradient is taken:
`torch.autograd.grad(score, A)` differentiates only down to the hooked layer and computes no
parameter gradients, and the whole batch stays in torch (no per-image numpy/OpenCV loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from paperlab.errors import UserError

_LAYER_KINDS = (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.LocalResponseNorm,
                nn.BatchNorm2d, nn.Identity)


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if n and not list(m.children())]


def conv_aliases(model: nn.Module) -> dict[str, str]:
    """`convN` -> the module holding the rectified output of the N-th conv layer (the ReLU that
    follows it, else the conv itself): the "conv5_3" of the papers is the ReLU's output."""
    leaves = _leaves(model)
    aliases: dict[str, str] = {}
    for i, (name, module) in enumerate(leaves):
        if isinstance(module, nn.Conv2d):
            target = name
            if i + 1 < len(leaves) and isinstance(leaves[i + 1][1], nn.ReLU):
                target = leaves[i + 1][0]
            aliases[f"conv{len(aliases) + 1}"] = target
    return aliases


def spatial_layer_names(model: nn.Module) -> list[str]:
    """Leaf modules that produce feature maps: everything of a conv-stack kind before the first
    fully connected layer (the candidates for `layer=`)."""
    names = []
    for name, module in _leaves(model):
        if isinstance(module, (nn.Linear, nn.Flatten)):
            break
        if isinstance(module, _LAYER_KINDS):
            names.append(name)
    return names


def resolve_layer(model: nn.Module, spec: str | nn.Module) -> tuple[str, nn.Module]:
    """A layer by alias (`conv5`, `last`: the last conv layer), module name (`features.13`) or module."""
    if isinstance(spec, nn.Module):
        for name, module in model.named_modules():
            if module is spec:
                return name, module
        raise ValueError("the layer module is not part of the model")
    aliases = conv_aliases(model)
    if not aliases:
        raise UserError("the model has no conv layer", "Grad-CAM needs a CNN")
    key = str(spec)
    if key == "last":
        key = list(aliases)[-1]
    name = aliases.get(key, key)
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        listed = ", ".join(f"{a} ({n})" for a, n in aliases.items())
        raise UserError(f"unknown layer '{spec}'",
                        f"choose a conv layer: last, {listed}, or a module name: {', '.join(spatial_layer_names(model))}")
    return name, modules[name]


@dataclass
class CAMResult:
    maps: torch.Tensor  # (B, H, W) in [0, 1] at the input's size
    cams: torch.Tensor  # (B, h, w) ReLU(sum_k alpha_k A^k) at the layer's size, unscaled
    weights: torch.Tensor  # (B, K) alpha_k^c: the neuron importances of the target class
    logits: torch.Tensor  # (B, classes)
    targets: torch.Tensor  # (B,) the class explained for each image


def minmax_scale(x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Per image (first dim): (x - min) / (eps + max(x - min)), pytorch-grad-cam's `scale_cam_image`."""
    flat = x.flatten(1)
    flat = flat - flat.min(1, keepdim=True).values
    return (flat / (eps + flat.max(1, keepdim=True).values)).view_as(x)


class GradCAM:
    """Grad-CAM for any conv layer of a classifier, over a batch, for any target classes.

        with GradCAM(model, "conv5") as cam:
            out = cam.attribute(images, targets)  # maps, raw cams, neuron importances, logits

    The model is put in eval mode inside the block (its mode is restored on exit)."""

    def __init__(self, model: nn.Module, layer: str | nn.Module = "last") -> None:
        self.model = model
        self.layer_name, self.layer = resolve_layer(model, layer)
        self._handle: Any = None
        self._activation: torch.Tensor | None = None
        self._was_training = model.training

    # -- hooks ----------------------------------------------------------------------------------
    def _keep(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
        if not isinstance(output, torch.Tensor) or output.dim() != 4:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise UserError(f"layer '{self.layer_name}' outputs {shape}, not (B, K, H, W) feature maps",
                            f"choose a conv layer: {', '.join(conv_aliases(self.model))}")
        if not output.requires_grad:  # frozen weights: differentiate from this layer up
            output = output.detach().requires_grad_()
            self._activation = output
            return output
        self._activation = output
        return None

    def __enter__(self) -> GradCAM:
        self._was_training = self.model.training
        self.model.eval()
        self._handle = self.layer.register_forward_hook(self._keep)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._activation = None
        self.model.train(self._was_training)

    @property
    def activation(self) -> torch.Tensor:
        """The layer's output in the last forward pass inside the block (part of the graph)."""
        if self._handle is None:
            raise RuntimeError("use GradCAM inside a `with` block (it installs its hook there)")
        if self._activation is None:
            raise RuntimeError(f"layer '{self.layer_name}' did not run in the forward pass")
        return self._activation

    # -- Grad-CAM -------------------------------------------------------------------------------
    def activations_and_gradients(self, x: torch.Tensor, targets: torch.Tensor | int | None = None
                                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(A, dy_c/dA, logits, targets) for a batch; targets None: each image's predicted class."""
        with torch.enable_grad():
            logits = self.model(x)
            if targets is None:
                targets = logits.argmax(1)
            targets = torch.as_tensor(targets, device=logits.device).long().expand(len(logits))
            activation = self.activation
            score = logits.gather(1, targets[:, None]).sum()  # images are independent in eval mode
            (grad,) = torch.autograd.grad(score, activation)
        return activation.detach(), grad, logits.detach(), targets

    @torch.no_grad()
    def _maps(self, activation: torch.Tensor, grad: torch.Tensor, size: tuple[int, int]
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        weights = grad.mean(dim=(2, 3))
        cams = torch.einsum("bk,bkhw->bhw", weights, activation).clamp_min(0)
        up = F.interpolate(minmax_scale(cams)[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        return minmax_scale(up), cams, weights

    def attribute(self, x: torch.Tensor, targets: torch.Tensor | int | None = None) -> CAMResult:
        activation, grad, logits, targets = self.activations_and_gradients(x, targets)
        maps, cams, weights = self._maps(activation, grad, tuple(x.shape[-2:]))
        return CAMResult(maps=maps, cams=cams, weights=weights, logits=logits, targets=targets)

    def __call__(self, x: torch.Tensor, targets: torch.Tensor | int | None = None) -> torch.Tensor:
        """The (B, H, W) maps in [0, 1]."""
        return self.attribute(x, targets).maps
