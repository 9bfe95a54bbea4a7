"""Occlusion maps (Zeiler & Fergus Fig. 7): paperlab's incremental, batched occlusion vs
`captum.attr.Occlusion`.

Same model (random weights, seed 0), same photo (scikit-image's "chelsea", 224 px), same positions
(a 32 px grey square every 8 px: 25 x 25 = 625 positions). Each timed run is a fresh process,
alternating the two sides, so that machine noise hits both and each side's peak memory (resident
set above what the model and image take) is its own. captum batches `--captum-batch` positions per
forward pass; paperlab sizes its batches to a memory budget and, on top of p(target), also maps
the layer-5 activation and the top class. The results must agree: captum's per-pixel attribution
against the same attribution built from paperlab's p(target) map (max abs difference).

    python benchmarks/occlusion.py [--models zfnet,vgg16] [--repeats 1] [--captum-batch 16]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np
import torch
from _measure import isolated

SQUARE, STRIDE, SIZE = 32, 8, 224


def setup(name: str, captum_batch: int) -> dict[str, Any]:
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
    return {"model": model, "stack": stack, "x": x, "target": target, "p": float(p[target]), "batch": captum_batch}


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
    maps = occlusion_maps(stack, s["x"], s["target"], index, 0, SQUARE, STRIDE)
    return pixel_attribution(s["p"] - maps.probability, maps.top, maps.left, SQUARE, SIZE, SIZE).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="zfnet,vgg16")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--captum-batch", type=int, default=16)
    args = parser.parse_args()
    print(f"occlusion maps, {SIZE} px photo, {SQUARE} px square, stride {STRIDE} "
          f"({((SIZE - SQUARE) // STRIDE + 1) ** 2} positions), CPU, random weights")
    print(f"{'model':8} {'captum s':>9} {'paperlab s':>10} {'speed-up':>9} {'captum MB':>10} {'paperlab MB':>11} {'max |diff|':>11}")
    for name in args.models.split(","):
        theirs, ours = [], []
        for _ in range(args.repeats):
            theirs.append(isolated(setup, captum_side, name, args.captum_batch))
            ours.append(isolated(setup, paperlab_side, name, args.captum_batch))
        t_c, t_o = statistics.median(r[0] for r in theirs), statistics.median(r[0] for r in ours)
        m_c, m_o = max(r[1] for r in theirs), max(r[1] for r in ours)
        diff = float(np.abs(theirs[0][2] - ours[0][2]).max())
        print(f"{name:8} {t_c:9.1f} {t_o:10.1f} {t_c / t_o:8.1f}x {m_c:10.0f} {m_o:11.0f} {diff:11.1e}", flush=True)


if __name__ == "__main__":
    main()
