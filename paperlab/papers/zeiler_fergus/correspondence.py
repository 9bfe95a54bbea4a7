"""Correspondence analysis, Zeiler & Fergus 2013, Sec. 4.3 ("Correspondence Analysis", in arXiv v3
and the ECCV version; Sec. 5.2 there is "Feature Generalization") and Table 1.

Does the network relate the same part of different objects of a class? The paper masks one part
(left eye, right eye, nose) in each of 5 images of dogs in frontal pose and, for each image i and
layer l, takes the change the mask makes to the feature vector,

    eps_i^l = x_i^l - x~_i^l                (original minus occluded),

then measures how alike these changes are across the images by the signs of their components:

    Delta_l = sum over pairs i != j of H(sign(eps_i^l), sign(eps_j^l)),

H the Hamming distance. A lower Delta means the mask changes the representation the same way in
every image: the part is encoded consistently. Random regions of the objects, masked the same
way, are the control (Fig. 8 shows several random masks per image). Table 1 gives, for layers 5
and 7, a "mean feature sign change" per part, lower for the eyes and nose than for random regions
at layer 5 and closer to random at layer 7.

Here H is divided by the vector's length (the fraction of units whose sign of change differs, as
Table 1's numbers read) and averaged over the image pairs: `mean_sign_change` =
Delta_l / (N (N - 1) d). Signs take three values: a unit the mask leaves unchanged (most rectified
units of a sparse layer) has sign 0, and counts as agreeing with another image's unchanged unit.
`pair_sign_change` keeps the value of each pair (the spread beside the mean in Table 1).

Features are read with `LayerStack.forward(keep=...)` (no hooks to remove); the model-agnostic
occlusion of a square grid is paperlab/interpret/occlusion.py, this is its per-part counterpart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from paperlab.errors import UserError
from paperlab.interpret.stack import LayerStack

RANDOM = "random"  # the control's name, beside the parts' names


@dataclass(frozen=True)
class Box:
    """A rectangle of an image in input pixels: rows top..top+height-1, columns left..left+width-1."""

    top: int
    left: int
    height: int
    width: int

    def check(self, height: int, width: int, where: str) -> None:
        """A UserError unless the box lies inside a `height` x `width` image."""
        if self.height < 1 or self.width < 1:
            raise UserError(f"{where}: a {self.height}x{self.width} box is empty", "give a box side >= 1")
        if self.top < 0 or self.left < 0 or self.top + self.height > height or self.left + self.width > width:
            raise UserError(f"{where}: the {self.height}x{self.width} box at [top={self.top}, left={self.left}] "
                            f"reaches outside the {height}x{width} px image",
                            f"keep 0 <= top <= {height - self.height} and 0 <= left <= {width - self.width}")


def occlude(images: torch.Tensor, boxes: Sequence[Box], fill: float = 0.0) -> torch.Tensor:
    """A copy of `images` (N, C, H, W) with box i of image i set to `fill` (network input units)."""
    if len(boxes) != len(images):
        raise UserError(f"{len(boxes)} boxes for {len(images)} images", "give one box per image")
    out = images.clone()
    for x, b in zip(out, boxes, strict=True):
        x[:, b.top : b.top + b.height, b.left : b.left + b.width] = fill
    return out


@torch.no_grad()
def features(stack: LayerStack, images: torch.Tensor, layers: Mapping[str, int]) -> dict[str, torch.Tensor]:
    """Each layer's output (module index) as one flat vector per image, (N, d)."""
    _, kept = stack.forward(images, keep=layers.values())
    return {name: kept[i].flatten(1) for name, i in layers.items()}


def occlusion_effects(stack: LayerStack, images: torch.Tensor, original: Mapping[str, torch.Tensor],
                      boxes: Sequence[Box], layers: Mapping[str, int], fill: float = 0.0) -> dict[str, torch.Tensor]:
    """eps_i^l = x_i^l - x~_i^l per layer, (N, d): `original` (the unoccluded images' features)
    minus the features with box i masked in image i."""
    occluded = features(stack, occlude(images, boxes, fill), layers)
    return {name: original[name] - occluded[name] for name in layers}


def pair_sign_change(eps: torch.Tensor) -> torch.Tensor:
    """H(sign(eps_i), sign(eps_j)) / d for each pair i < j of the rows of `eps` (N, d), in the
    order of torch.combinations: (N (N - 1) / 2,)."""
    if eps.ndim != 2 or len(eps) < 2:
        raise UserError(f"correspondence needs at least 2 images (got {len(eps)})", "give 2 or more images")
    signs = eps.sign()
    i, j = torch.combinations(torch.arange(len(eps)), 2).T
    return (signs[i] != signs[j]).double().mean(dim=1)


def consistency(eps: torch.Tensor) -> float:
    """The paper's Delta_l with H as a fraction of d: the sum over ordered pairs i != j (each
    unordered pair twice, H being symmetric)."""
    return 2 * float(pair_sign_change(eps).sum())


def mean_sign_change(eps: torch.Tensor) -> float:
    """Table 1's number: Delta_l / (N (N - 1)), the mean fraction of units whose sign of change
    differs between two images."""
    n = len(eps)
    return consistency(eps) / (n * (n - 1))


def random_boxes(pixels: torch.Tensor, height: int, width: int, threshold: float,
                 generator: torch.Generator) -> list[Box]:
    """One `height` x `width` box per image (N, C, H, W in [0, 1]), centred on a pixel of the
    object drawn at random (a pixel brighter than `threshold` in some channel: the control masks
    random parts of the object, not the background), moved inside the image where it would
    cross an edge."""
    _, _, side_h, side_w = pixels.shape
    boxes = []
    for x in pixels:
        rows, cols = (x.amax(dim=0) > threshold).nonzero(as_tuple=True)
        if len(rows) == 0:
            raise UserError(f"an image has no pixel brighter than {threshold}: no object to place random boxes on",
                            "lower correspond.object_threshold")
        k = int(torch.randint(len(rows), (1,), generator=generator))
        top = min(max(int(rows[k]) - height // 2, 0), side_h - height)
        left = min(max(int(cols[k]) - width // 2, 0), side_w - width)
        boxes.append(Box(top, left, height, width))
    return boxes


@dataclass
class Correspondence:
    """Table 1 for one network: per part (and RANDOM) and layer, the occlusion effects and the
    pairwise sign changes. RANDOM holds `draws` sets of boxes, its arrays a leading draw axis."""

    eps: dict[str, dict[str, torch.Tensor]]  # part -> layer -> (N, d); RANDOM: (draws, N, d)
    pairs: dict[str, dict[str, torch.Tensor]]  # part -> layer -> (P,); RANDOM: (draws, P)
    boxes: dict[str, list[Box]]  # part -> one box per image
    random_boxes: list[list[Box]]  # draw -> one box per image

    def mean(self, part: str, layer: str) -> float:
        """Table 1's mean feature sign change (RANDOM: over every pair of every draw)."""
        return float(self.pairs[part][layer].mean())

    def std(self, part: str, layer: str) -> float:
        """Its spread over the image pairs (RANDOM: over every pair of every draw)."""
        return float(self.pairs[part][layer].std(unbiased=False))

    def changed(self, part: str, layer: str) -> float:
        """The mean fraction of units the mask changes at all (eps != 0): sign agreement is easy
        where few units change, so this is the context of each mean."""
        return float((self.eps[part][layer] != 0).double().mean())

    def random_below(self, part: str, layer: str) -> float:
        """The fraction of random draws whose mean sign change is below the part's (0: the part is
        more consistent than every draw)."""
        draws = self.pairs[RANDOM][layer].mean(dim=1)
        return float((draws < self.mean(part, layer)).double().mean())


def correspondence(stack: LayerStack, images: torch.Tensor, pixels: torch.Tensor, parts: Mapping[str, Sequence[Box]],
                   layers: Mapping[str, int], fill: float = 0.0, draws: int = 20, box: tuple[int, int] = (12, 12),
                   threshold: float = 0.1, seed: int = 0) -> Correspondence:
    """Sec. 4.3 on `images` (N, C, H, W, network inputs; `pixels` the same in [0, 1]): mask each
    part's boxes (one per image) and `draws` sets of random `box` = (height, width) boxes on the
    objects, and measure the sign changes at each layer (name -> module index)."""
    if RANDOM in parts:
        raise UserError(f"'{RANDOM}' is the control's name, not a part's", "rename that part")
    _, _, height, width = images.shape
    for part, boxes in parts.items():
        if len(boxes) != len(images):
            raise UserError(f"part '{part}' has {len(boxes)} boxes for {len(images)} images", "give one box per image")
        for i, b in enumerate(boxes):
            b.check(height, width, f"part '{part}', image {i}")
    original = features(stack, images, layers)
    eps = {part: occlusion_effects(stack, images, original, boxes, layers, fill) for part, boxes in parts.items()}
    generator = torch.Generator().manual_seed(seed)
    random = [random_boxes(pixels, box[0], box[1], threshold, generator) for _ in range(draws)]
    effects = [occlusion_effects(stack, images, original, boxes, layers, fill) for boxes in random]
    eps[RANDOM] = {layer: torch.stack([e[layer] for e in effects]) for layer in layers}
    pairs = {part: {layer: pair_sign_change(e) for layer, e in by_layer.items()}
             for part, by_layer in eps.items() if part != RANDOM}
    pairs[RANDOM] = {layer: torch.stack([pair_sign_change(e) for e in eps[RANDOM][layer]]) for layer in layers}
    return Correspondence(eps, pairs, {part: list(boxes) for part, boxes in parts.items()}, random)
