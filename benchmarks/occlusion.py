"""Occlusion maps (Zeiler & Fergus Fig. 7): paperlab's incremental, batched occlusion vs
`captum.attr.Occlusion`.

Same model (random weights, seed 0), same photo (scikit-image's "chelsea", 224 px), same positions
(a 32 px grey square every 8 px: 25 x 25 = 625 positions). Each timed run is a fresh process,
alternating the two sides, so that machine noise hits both and each side's peak memory (resident
set above what the model and image take) is its own. captum batches `--captum-batch` positions per
forward pass; paperlab sizes its batches to a memory budget (128 MB; rerun with 16 MB to show the
peak follows the budget) and, on top of p(target), also maps the last conv layer's activation and
the top class. The results must agree: captum's per-pixel attribution
against the same attribution built from paperlab's p(target) map (max abs difference).

    python benchmarks/occlusion.py [--models zfnet,vgg16] [--repeats 1] [--captum-batch 16]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from _measure import HEADER, isolated, row

SQUARE, STRIDE, SIZE = 32, 8, 224


def setup(name: str, captum_batch: int, max_mb: int = 128) -> dict[str, Any]:
    from skimage.data import chelsea

    from paperlab.interpret.stack import LayerStack
    from paperlab.models import create_model

    torch.manual_seed(0)
    model = create_model(name, num_classes=1000, in_channels=3, image_size=SIZE).eval()
    photo = torch.from_numpy(chelsea()).permute(2, 0, 1).float()[None] / 255
    photo = torch.nn.functional.interpolate(photo, size=(SIZE, SIZE), mode="bilinear", antialias=True)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (photo - mean) / std
    stack = LayerStack(model)
    with torch.no_grad():
        p = model(x).softmax(-1)[0]
    target = int(p.argmax())
    return {"model": model, "stack": stack, "x": x, "target": target, "p": float(p[target]), "batch": captum_batch,
            "max_bytes": max_mb * 2**20}


def captum_side(s: dict[str, Any]) -> np.ndarray:
    from captum.attr import Occlusion

    model, target = s["model"], s["target"]

    def p_target(x: torch.Tensor) -> torch.Tensor:
        return model(x).softmax(-1)[:, target]

    with torch.no_grad():
        attr = Occlusion(p_target).attribute(s["x"], sliding_window_shapes=(3, SQUARE, SQUARE),
                                             strides=(3, STRIDE, STRIDE), baselines=0.0, perturbations_per_eval=s["batch"])
    return attr[0, 0].numpy()


def paperlab_side(s: dict[str, Any]) -> np.ndarray:
    from paperlab.interpret.occlusion import occlusion_maps, pixel_attribution

    stack = s["stack"]
    _, index = stack.resolve(stack.layer_names[-1])
    maps = occlusion_maps(stack, s["x"], s["target"], index, 0, SQUARE, STRIDE, max_bytes=s["max_bytes"])
    return pixel_attribution(s["p"] - maps.probability, maps.top, maps.left, SQUARE, SIZE, SIZE).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="zfnet,vgg16")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--captum-batch", type=int, default=16)
    args = parser.parse_args()
    print(f"occlusion maps, {SIZE} px photo, {SQUARE} px square, stride {STRIDE} "
          f"({((SIZE - SQUARE) // STRIDE + 1) ** 2} positions), CPU, random weights")
    print(f"{'model':8} {HEADER}")
    for name in args.models.split(","):
        theirs, ours = [], []
        for _ in range(args.repeats):
            theirs.append(isolated(setup, captum_side, name, args.captum_batch))
            ours.append(isolated(setup, paperlab_side, name, args.captum_batch))
        diff = float(np.abs(theirs[0].result - ours[0].result).max())
        print(f"{name:8} {row(theirs, ours, diff)}", flush=True)
        small = isolated(setup, paperlab_side, name, args.captum_batch, 16)
        print(f"{'':8} paperlab with a 16 MB batch budget (default 128): {small.seconds:.2f} s, "
              f"{small.cpu_seconds:.2f} s CPU, peak {small.peak_mb:.0f} MB, "
              f"max |diff| {float(np.abs(small.result - ours[0].result).max()):.1e}", flush=True)


if __name__ == "__main__":
    main()
