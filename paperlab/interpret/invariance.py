"""Feature invariance, Zeiler & Fergus 2013, Sec. 4.1 (Fig. 5): transform a few images by vertical
translation, scaling and rotation, and follow, as the transformation grows, the Euclidean distance
between the feature vectors of the original and the transformed image at layer 1 and at the
penultimate layer (the paper's layer 7), and the probability of the true class.

The paper finds small transformations change layer 1 a lot and the top layers far less (nearly
linearly in translation and scale), and the output stable to translation and scaling but not to
rotation, except for objects with rotational symmetry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from paperlab.errors import UserError
from paperlab.interpret.stack import LayerStack

TRANSFORMS = ("translate", "scale", "rotate")


def transform(pixels: torch.Tensor, kind: str, amount: float, fill: float = 0.0) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1], moved down by `amount` pixels (translate), zoomed by
    `amount` about the centre (scale) or turned clockwise by `amount` degrees (rotate); uncovered pixels
    get `fill`. Bilinear interpolation."""
    if kind not in TRANSFORMS:
        raise UserError(f"unknown transformation '{kind}'", f"use one of: {', '.join(TRANSFORMS)}")
    angle, shift, scale = {"translate": (0.0, float(amount), 1.0), "scale": (0.0, 0.0, float(amount)),
                           "rotate": (float(amount), 0.0, 1.0)}[kind]
    if (angle, shift, scale) == (0.0, 0.0, 1.0):
        return pixels.clone()  # exactly the original (resampling would blur it slightly)
    return TF.affine(pixels, angle=angle, translate=[0.0, shift], scale=scale, shear=[0.0, 0.0],
                     interpolation=InterpolationMode.BILINEAR, fill=fill)


@dataclass
class SweepResult:
    """One transformation swept over `amounts` (A,) for N images."""

    amounts: torch.Tensor
    distance: dict[str, torch.Tensor]  # layer name -> (N, A) ||f(x) - f(T x)||
    norm: dict[str, torch.Tensor]  # layer name -> (N,) ||f(x)||, to compare layers on one scale
    probability: torch.Tensor  # (N, A) p(true class)
    top_class: torch.Tensor  # (N, A)


@torch.no_grad()
def sweep(stack: LayerStack, pixels: torch.Tensor, mean: Sequence[float], std: Sequence[float],
          labels: torch.Tensor, kind: str, amounts: Sequence[float], layers: Mapping[str, int],
          fill: float = 0.0) -> SweepResult:
    """Transform `pixels` (N, C, H, W in [0, 1]) by each amount, standardise with (mean, std), and
    measure the feature distance to the untransformed image at each layer (module index) of
    `layers` and p(labels)."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)

    def features(x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        logits, kept = stack.forward((x - m) / s, keep=layers.values())
        return logits.softmax(dim=-1), {i: f.flatten(1) for i, f in kept.items()}

    _, original = features(pixels)
    rows = torch.arange(len(labels))
    dist: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    probs, classes = [], []
    for amount in amounts:
        p, feats = features(transform(pixels, kind, amount, fill))
        for name, i in layers.items():
            dist[name].append((feats[i] - original[i]).norm(dim=1))
        probs.append(p[rows, labels])
        classes.append(p.argmax(dim=-1))
    return SweepResult(torch.tensor(list(amounts), dtype=torch.float32),
                       {name: torch.stack(d, dim=1) for name, d in dist.items()},
                       {name: original[i].norm(dim=1) for name, i in layers.items()},
                       torch.stack(probs, dim=1), torch.stack(classes, dim=1))
