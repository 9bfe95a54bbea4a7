"""Top-9 deconvnet projections for all maps of a layer (Zeiler & Fergus Fig. 2): paperlab's batched
deconvnet vs looping `captum.attr.NeuronDeconvolution` one neuron at a time.

Same model (random weights, seed 0, no LRN: captum backpropagates through LRN's normalisation,
the paper's deconvnet does not), same images, same neurons: the top 9 activations of every map of
the layer over the images (found once, not timed). Each timed side runs in a fresh process,
alternating, so that its time and peak memory (resident set above what the model and images take)
are its own. The projections must agree: captum's (a unit signal) against paperlab's divided by
the activation (the paper projects the activation itself), max abs difference over the neurons
that fire (a neuron at zero projects nothing in the paper's deconvnet).

    python benchmarks/deconvnet.py [--repeats 1] [--maps-224 32]

Cases: the 28 px ZFNet of `paperlab train model=zfnet` (Fashion-MNIST shape), layers 1 and 5,
all maps, top 9 over 256 images; the 224 px ZFNet (Fig. 3), layers 2 and 5, top 9 over 16 images
of the first `--maps-224` maps (captum needs ~0.1-0.3 s a neuron there; `--maps-224 0` for all).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from _measure import HEADER, isolated, row

CASES = [  # (label, image size, channels, images, layer)
    ("zfnet-28", 28, 1, 256, "conv1"),
    ("zfnet-28", 28, 1, 256, "conv5"),
    ("zfnet-224", 224, 3, 16, "conv2"),
    ("zfnet-224", 224, 3, 16, "conv5"),
]


def setup(size: int, channels: int, n_images: int, layer: str, max_maps: int) -> dict[str, Any]:
    from paperlab.interpret.deconvnet import top_activations
    from paperlab.interpret.stack import LayerStack
    from paperlab.models import create_model

    torch.manual_seed(0)
    model = create_model("zfnet", num_classes=10, in_channels=channels, image_size=size, lrn=False).eval()
    x = torch.randn(n_images, channels, size, size)
    stack = LayerStack(model)
    _, index = stack.resolve(layer)
    top = top_activations(stack, [x[i : i + 32] for i in range(0, n_images, 32)], [index], k=9)[index]
    maps = range(top.value.shape[0] if max_maps <= 0 else min(max_maps, top.value.shape[0]))
    return {"model": model, "stack": stack, "x": x, "index": index, "neurons": top.neurons(maps), "maps": len(maps)}


def captum_side(s: dict[str, Any]) -> np.ndarray:
    import warnings

    from captum.attr import NeuronDeconvolution

    warnings.filterwarnings("ignore", category=UserWarning)  # captum: "setting backward hooks on ReLU"
    n = s["neurons"]
    # ZFNet's ReLUs are not inplace: the stack holds the model's own modules, which captum hooks
    deconv = NeuronDeconvolution(s["model"], s["stack"].modules[s["index"]])
    out = []
    for j in range(len(n)):
        i = int(n.image[j])
        out.append(deconv.attribute(s["x"][i : i + 1], neuron_selector=(int(n.channel[j]), int(n.row[j]), int(n.col[j]))))
    return torch.cat(out).numpy()


def paperlab_side(s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    from paperlab.interpret.deconvnet import deconv_project

    proj = deconv_project(s["stack"], s["x"], s["index"], s["neurons"])
    return proj.full(*s["x"].shape[2:]).numpy(), proj.activation.numpy()


def difference(theirs: np.ndarray, ours: tuple[np.ndarray, np.ndarray]) -> float:
    """Max |captum - paperlab / activation| over neurons that fire; a neuron at 0 projects nothing
    (the paper's rule; captum's unit signal does not look at the activation)."""
    full, act = ours
    live = act > 0
    assert not np.abs(full[~live]).any()
    return float(np.abs(theirs[live] - full[live] / act[live].reshape(-1, 1, 1, 1)).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--maps-224", type=int, default=32)
    args = parser.parse_args()
    print("top-9 deconvnet projections of the maps of a layer, CPU, random weights")
    print(f"{'model':10} {'layer':6} {'neurons':>7} {HEADER}")
    for label, size, channels, n_images, layer in CASES:
        setup_args = (size, channels, n_images, layer, args.maps_224 if size == 224 else 0)
        theirs, ours = [], []
        for _ in range(args.repeats):
            theirs.append(isolated(setup, captum_side, *setup_args))
            ours.append(isolated(setup, paperlab_side, *setup_args))
        diff = difference(theirs[0].result, ours[0].result)
        print(f"{label:10} {layer:6} {len(ours[0].result[1]):7d} {row(theirs, ours, diff)}", flush=True)


if __name__ == "__main__":
    main()
