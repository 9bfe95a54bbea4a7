"""What the Zeiler & Fergus analysis commands (visualize, occlude, invariance) share: the network
under study, the images it is shown, the run directory and progress bars.

The network is a paperlab checkpoint (`checkpoint=RUN_DIR`, a .pt file, or a shipped model name)
or, with `model=vgg16 model.weights=IMAGENET1K_V1` (or alexnet, or a local .pth file), a
torchvision network with ImageNet weights. Images come from the checkpoint's own dataset (the
split the paper uses), from `data=<name> data.root=...`, or from image files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from omegaconf import DictConfig, OmegaConf
from PIL import Image, UnidentifiedImageError
from torch import nn

from paperlab.config import at_least
from paperlab.console import track
from paperlab.data import build_data
from paperlab.data.images import ImageData, ImageInfo
from paperlab.data.tensor_images import TensorImages
from paperlab.engine.restore import load_model
from paperlab.errors import UserError
from paperlab.interpret.stack import LayerStack
from paperlab.models import create_model

log = logging.getLogger(__name__)

# torchvision's ImageNet preprocessing (the statistics its pretrained weights expect)
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass
class Subject:
    """The network under study and what its inputs are."""

    model: nn.Module
    stack: LayerStack
    info: ImageInfo
    source: str  # where the weights came from (checkpoint path, or torchvision weights)
    data: DictConfig | None  # the dataset it was trained on (None: torchvision weights)


def _imagenet_info(arch: str, weights: str) -> ImageInfo:
    try:
        names = list(torchvision.models.get_model_weights(arch)[weights].meta["categories"])
    except KeyError:  # a local .pth file: ImageNet's classes, in torchvision's order
        names = list(torchvision.models.get_model_weights(arch)["IMAGENET1K_V1"].meta["categories"])
    return ImageInfo(num_classes=len(names), in_channels=3, image_size=224, class_names=names,
                     mean=IMAGENET_MEAN, std=IMAGENET_STD)


def load_subject(cfg: DictConfig, checkpoint: str | Path | None = None) -> Subject:
    """The network named by the config: `model=...` with pretrained weights, else `checkpoint`."""
    if cfg.get("model") is not None:
        kw = OmegaConf.to_container(cfg.model, resolve=True)
        arch = kw.pop("name")
        if arch not in ("alexnet", "vgg16"):
            raise UserError(f"model={arch} has no pretrained weights to analyse",
                            "analyse a trained run with checkpoint=RUN_DIR, or use model=alexnet/vgg16 model.weights=...")
        if not kw.get("weights"):
            raise UserError(f"model={arch} needs pretrained weights (random weights show nothing)",
                            f"add model.weights=IMAGENET1K_V1 (torchvision's, in torch's cache) or model.weights=/path/{arch}.pth")
        info = _imagenet_info(arch, str(kw["weights"]))
        model = create_model(arch, **kw, num_classes=info.num_classes, in_channels=3, image_size=224).eval()
        return Subject(model, LayerStack(model), info, f"{arch} ({kw['weights']})", None)
    where = checkpoint or cfg.checkpoint
    loaded = load_model(where, "classifier")
    model = loaded.model
    return Subject(model, LayerStack(model), loaded.extras, str(loaded.path), OmegaConf.create(loaded.config["data"]))


def dataset_split(cfg: DictConfig, subject: Subject, split: str) -> TensorImages:
    """A split of `data=...` if given, else of the dataset the checkpoint was trained on."""
    data_cfg = cfg.get("data") or subject.data
    if data_cfg is None:
        raise UserError(f"{subject.source} comes with no dataset",
                        "give images (e.g. data=imagenet data.root=DIR, or the command's images=[...] option)")
    data = build_data(data_cfg)
    if not isinstance(data, ImageData):
        raise UserError(f"data={data_cfg.name} is not an image dataset", "use an image-classification dataset")
    got, want = data.info, subject.info
    if (got.in_channels, got.image_size) != (want.in_channels, want.image_size):
        raise UserError(f"data={data_cfg.name} gives {got.in_channels}x{got.image_size}px images, the model takes "
                        f"{want.in_channels}x{want.image_size}px", "use the model's own data (drop data=...) or set data.resize")
    if split not in data.splits:
        raise UserError(f"data={data_cfg.name} has no '{split}' split", f"use one of: {', '.join(data.splits)}")
    dataset = data.splits[split]
    # the model's own standardisation (the training split's statistics it was trained with)
    dataset.mean = torch.tensor(want.mean).view(1, -1, 1, 1)
    dataset.std = torch.tensor(want.std).view(1, -1, 1, 1)
    return dataset


def load_image_files(paths: Sequence[str], info: ImageInfo) -> torch.Tensor:
    """Image files -> the network's inputs (N, C, S, S): grey or RGB as the network takes them,
    short side resized to S, centre crop, standardised. An unreadable file is a UserError."""
    out = []
    for p in paths:
        path = Path(str(p)).expanduser()
        try:
            with Image.open(path) as im:
                im = im.convert("L" if info.in_channels == 1 else "RGB")
                s = info.image_size
                w, h = im.size
                scale = s / min(w, h)
                im = im.resize((max(s, round(w * scale)), max(s, round(h * scale))), Image.BILINEAR)
                left, top = (im.size[0] - s) // 2, (im.size[1] - s) // 2
                arr = np.asarray(im.crop((left, top, left + s, top + s)), dtype=np.float32) / 255
        except (OSError, UnidentifiedImageError) as err:
            reason = "no such file" if not path.exists() else (str(err).splitlines()[0] or type(err).__name__)
            raise UserError(f"cannot read image {path} ({reason})", "give PNG or JPEG files") from None
        x = torch.from_numpy(arr).reshape(s, s, -1).permute(2, 0, 1)
        out.append(x)
    x = torch.stack(out)
    return (x - torch.tensor(info.mean).view(1, -1, 1, 1)) / torch.tensor(info.std).view(1, -1, 1, 1)


def spread_over_classes(labels: torch.Tensor, n: int) -> list[int]:
    """The first image of each of n classes spread evenly over the class list (the paper shows a
    few images of different classes)."""
    classes = labels.unique()
    chosen = classes[np.linspace(0, len(classes) - 1, min(n, len(classes))).round().astype(int)]
    return [int((labels == c).nonzero()[0]) for c in chosen]


@dataclass
class ImageChoice:
    """The images of a per-image analysis (`occlude`, `invariance` nodes; see chosen_images)."""

    images: list[str] | None
    labels: list[Any] | None
    indices: list[int] | None = at_least(0)
    num_images: int = at_least(1)
    split: str


def chosen_images(cfg: DictConfig, node: DictConfig, subject: Subject) -> tuple[torch.Tensor, list[int | None], list[str]]:
    """The images a per-image analysis runs on, from the task's config `node`: `images` files
    (true classes from `labels`, else unknown), or images of the dataset split `split` (`indices`,
    default: `num_images` images, one per class, spread over the classes).

    Returns (inputs, true class or None, a name per image)."""
    files = list(node.get("images") or [])
    if files:
        x = load_image_files(files, subject.info)
        labels = list(node.get("labels") or [])
        if labels and len(labels) != len(files):
            raise UserError(f"{len(labels)} labels for {len(files)} images", "give one label (class index or name) per image")
        return x, [class_index(label, subject.info) for label in labels] or [None] * len(files), [Path(f).stem for f in files]
    split = str(node.split)
    dataset = dataset_split(cfg, subject, split)
    indices = list(node.get("indices") or spread_over_classes(dataset.labels, int(node.num_images)))
    bad = [i for i in indices if not 0 <= int(i) < len(dataset)]
    if bad:
        raise UserError(f"image indices {bad} are outside the {split} split (0..{len(dataset) - 1})", "pick indices in range")
    x, y = dataset.__getitems__([int(i) for i in indices])
    return x, [int(v) for v in y], [f"{split}{int(i)}" for i in indices]


def class_index(label: int | str, info: ImageInfo) -> int:
    """A class given by index or by name."""
    if isinstance(label, int) or str(label).isdigit():
        if not 0 <= int(label) < info.num_classes:
            raise UserError(f"class {label} does not exist", f"use 0..{info.num_classes - 1} or a class name")
        return int(label)
    if label not in info.class_names:
        raise UserError(f"unknown class '{label}'", f"use a class index or one of: {', '.join(info.class_names[:20])}...")
    return info.class_names.index(label)


def to_pixels(x: torch.Tensor, info: ImageInfo) -> torch.Tensor:
    """Standardised inputs back to [0, 1] pixels."""
    mean = torch.tensor(info.mean).view(1, -1, 1, 1)
    std = torch.tensor(info.std).view(1, -1, 1, 1)
    return (x * std + mean).clamp(0, 1)


def batches(dataset: TensorImages, batch_size: int, limit: int | None, description: str) -> Iterator[torch.Tensor]:
    """The dataset's first `limit` images (all if None), in order, as input batches, with a progress bar."""
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    for lo in track(range(0, n, batch_size), description):
        yield dataset.__getitems__(list(range(lo, min(lo + batch_size, n))))[0]
