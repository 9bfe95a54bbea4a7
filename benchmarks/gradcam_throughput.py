"""Grad-CAM throughput: paperlab.interpret.GradCAM vs pytorch-grad-cam's GradCAM, same model, layer,
batch and targets, in one process, alternating the two so that machine noise hits both. Also
checks that the maps agree (max abs difference). Prints images/s and the ratio ours/theirs.

    python benchmarks/gradcam_throughput.py [--model zfnet|vgg16] [--batch 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from pytorch_grad_cam import GradCAM as ReferenceGradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from paperlab.interpret.gradcam import GradCAM, resolve_layer
from paperlab.models import create_model

SETUPS = {  # model, input size, classes
    "zfnet": ("zfnet", 32, 60),  # the small ZFNet of `paperlab zsl` on Shapes ZSL
    "vgg16": ("vgg16", 112, 50),  # VGG-16 (the paper's CNN) at half its ImageNet input size
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SETUPS), default="zfnet")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    name, size, classes = SETUPS[args.model]
    torch.manual_seed(0)
    model = create_model(name, num_classes=classes, in_channels=3, image_size=size).eval()
    layer_name, layer = resolve_layer(model, "last")
    x = torch.randn(args.batch, 3, size, size)
    targets = torch.randint(0, classes, (args.batch,))
    ref_targets = [ClassifierOutputTarget(int(t)) for t in targets]

    with GradCAM(model, layer) as ours, ReferenceGradCAM(model, target_layers=[layer]) as theirs:
        diff = np.abs(ours(x, targets).numpy() - theirs(x, targets=ref_targets)).max()  # also warms up both
        t_ours, t_theirs = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            ours(x, targets)
            t_ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs(x, targets=ref_targets)
            t_theirs.append(time.perf_counter() - t)
    o, r = args.batch / statistics.median(t_ours), args.batch / statistics.median(t_theirs)
    print(f"Grad-CAM, {name} at {size} px, layer {layer_name}, batch {args.batch}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"  paperlab         {o:9.1f} images/s")
    print(f"  pytorch-grad-cam {r:9.1f} images/s")
    print(f"  ratio paperlab / pytorch-grad-cam: {o / r:.2f}x   (max abs map difference {diff:.2e})")


if __name__ == "__main__":
    main()
