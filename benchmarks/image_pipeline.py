"""Images/s of three pipelines for an ImageNet-layout JPEG folder, for the loader alone and
feeding ZFNet-224 training steps (Zeiler & Fergus 2013, Fig. 3; SGD with momentum, batch as given):

  (a) torchvision's ImageFolder with Pillow transforms, as the torchvision classification reference
      scripts train (RandomResizedCrop 224, flip, to float, normalise), float32 batches from the workers;
  (b) ours with data.decode=cpu: workers decode with torchvision's decoder, resize, take the one
      training crop and ship uint8; float conversion and the mean in the main process / on the device;
  (c) ours with data.decode=gpu: workers read the bytes; nvJPEG decodes each batch on the GPU, the
      resize, crop, flip and mean run there as batched tensor ops (skipped without CUDA).

The folder is generated (no download): photo-like images of 300-500 px a side, JPEG quality 90,
read from the page cache after the first pass. Each row streams --images images through one
DataLoader (the workers start once); the clock starts at the first batch, so worker start-up is
not counted. Besides wall-clock images/s, each row gives images per CPU-second, the CPU time of
the main process and of its loader workers together: on a machine shared with other jobs, wall
time follows their load, CPU time far less. Ratios are against (a).

    python benchmarks/image_pipeline.py [--files 384] [--images N] [--batch B] [--workers W] [--steps S] [--bf16]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, RandomSampler

from paperlab.data.image_pipeline import FolderImages, mean_image
from paperlab.models import create_model


def write_folder(root: Path, files: int, classes: int = 8, seed: int = 0) -> Path:
    """files JPEGs in root/train/<class>/: smooth colour fields with edges and grain, 300-500 px."""
    rng = np.random.default_rng(seed)
    for i in range(files):
        h, w = (int(v) for v in rng.integers(300, 501, size=2))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        f = rng.uniform(4, 40, size=(3, 2))
        img = np.stack([128 + 80 * np.sin(xx / f[c, 0]) * np.cos(yy / f[c, 1]) for c in range(3)], -1)
        img[: h // 2] += rng.uniform(-40, 40, size=3)  # an edge: blocks of different content
        img += rng.normal(0, 10, img.shape)
        path = root / "train" / f"c{i % classes:03d}" / f"img_{i:05d}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)
    return root


def reference_dataset(root: Path) -> Any:
    """torchvision's reference-script training preset on ImageFolder (PIL decode and transforms)."""
    import torchvision.transforms.v2 as T
    from torchvision.datasets import ImageFolder

    preset = T.Compose([T.RandomResizedCrop(224, antialias=True), T.RandomHorizontalFlip(), T.PILToTensor(),
                        T.ToDtype(torch.float32, scale=True), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    return ImageFolder(str(root / "train"), transform=preset)


def ours(root: Path, decode: str, cache: Path, device: torch.device) -> FolderImages:
    from torchvision.datasets import ImageFolder

    samples = ImageFolder(str(root / "train")).samples
    dataset = FolderImages(samples, mean_image(samples, 64, cache), train=True, decode=decode)
    dataset.set_device(device)  # as the trainer does: for a CPU model the workers finish the batches
    return dataset


def batches(dataset: Any, n_images: int, batch: int, workers: int, device: torch.device) -> Iterator[tuple]:
    """(x, y) on `device`, float32, for n_images drawn from the folder (several passes if need be)."""
    finish: Callable | None = getattr(dataset, "finish_batch", None)
    collate = getattr(dataset, "collate_fn", None)
    loader = DataLoader(dataset, batch_size=batch, sampler=RandomSampler(dataset, num_samples=n_images),
                        num_workers=workers, collate_fn=collate, pin_memory=device.type == "cuda",
                        prefetch_factor=4 if workers else None, drop_last=True)
    for b in loader:
        if isinstance(b, (tuple, list)):  # finished in the workers
            yield b[0].to(device, non_blocking=True), b[1].to(device, non_blocking=True)
        else:
            on = {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in b.items()}
            yield finish(on)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have exited (the loader's workers, once
    the loader is done)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def loader_rate(dataset: Any, args: argparse.Namespace, device: torch.device) -> tuple[float, float]:
    """(images/s, images per CPU-second) of the loader alone (batches finished on the device)."""
    cpu = cpu_seconds()
    it = batches(dataset, args.images, args.batch, args.workers, device)
    first = len(next(it)[0])
    sync(device)
    t, n = time.perf_counter(), 0
    for x, _ in it:
        n += len(x)
    sync(device)
    wall = time.perf_counter() - t
    return n / wall, (n + first) / (cpu_seconds() - cpu)


def train_rate(dataset: Any, args: argparse.Namespace, device: torch.device, classes: int) -> tuple[float, float]:
    """(images/s, images per CPU-second) of ZFNet-224 training steps fed by the loader (one warm-up
    step not counted in images/s)."""
    torch.manual_seed(0)
    model = create_model("zfnet", num_classes=classes, in_channels=3, image_size=224, variant="imagenet").to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.bf16 and device.type == "cuda")

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with amp:
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    cpu = cpu_seconds()
    it = batches(dataset, (args.steps + 1) * args.batch, args.batch, args.workers, device)
    step(*next(it))
    sync(device)
    t, n = time.perf_counter(), 0
    for x, y in it:
        step(x, y)
        n += len(x)
    sync(device)
    wall = time.perf_counter() - t
    return n / wall, (n + args.batch) / (cpu_seconds() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=384, help="JPEGs written")
    parser.add_argument("--images", type=int, default=None, help="images streamed per loader row (default: 4 passes on CPU, 40k on CUDA)")
    parser.add_argument("--batch", type=int, default=None, help="default: 32 on CPU, 128 (the paper's) on CUDA")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--steps", type=int, default=None, help="training steps timed (default: 3 on CPU, 200 on CUDA)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the CUDA training rows")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    args.batch = args.batch or (128 if cuda else 32)
    args.images = args.images or (40_000 if cuda else 4 * args.files)
    args.steps = args.steps or (200 if cuda else 3)

    with tempfile.TemporaryDirectory() as tmp:
        root = write_folder(Path(tmp), args.files)
        cache = Path(tmp) / "mean.pt"
        rows: dict[str, Callable[[], Any]] = {
            "(a) ImageFolder + PIL transforms": lambda: reference_dataset(root),
            "(b) ours, decode=cpu": lambda: ours(root, "cpu", cache, device),
        }
        if cuda:
            rows["(c) ours, decode=gpu (nvJPEG)"] = lambda: ours(root, "gpu", cache, device)
        where = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
        print(f"{args.files} JPEGs (300-500 px), batch {args.batch}, {args.workers} loader workers, {where}")
        if not cuda:
            print("(c) ours, decode=gpu: skipped, no CUDA device")
        classes = 8
        for what, rate in (("loader alone", lambda ds: loader_rate(ds, args, device)),
                           (f"ZFNet-224 training ({args.steps} steps{', bf16' if args.bf16 and cuda else ''})",
                            lambda ds: train_rate(ds, args, device, classes))):
            print(f"{what}:{'images/s':>35s} {'ratio':>7s} {'img/CPU-s':>10s} {'ratio':>7s}")
            base: tuple[float, float] | None = None
            for name, make in rows.items():
                r = rate(make())
                base = base or r
                print(f"  {name:36s} {r[0]:9.1f} {r[0] / base[0]:6.2f}x {r[1]:10.1f} {r[1] / base[1]:6.2f}x")


if __name__ == "__main__":
    main()
