"""Image features for the VQA and matching models: a frozen CNN run once over every image, keeping
its pooled vector (the "I" of Antol et al. 2015, Sec. 5: VGG fc7) and its grid of region vectors
(Nam et al. 2017, Sec. 3.1: the last convolutional layer, 14x14 regions at 448 px), cached in HDF5
so that training reads them instead of running the CNN.

Encoders (`encoder.*` in the VQA and matching experiments):

* a checkpoint trained by paperlab: `encoder.checkpoint=RUN_DIR|FILE|NAME` (default: the shipped
  `scene_cnn_sort_of_clevr`, pretrained on scene annotations by `experiment=scene_encoder_sort_of_clevr`);
* a torchvision ImageNet CNN with weights the user has (never downloaded):
  `encoder.arch=vgg16 encoder.weights=IMAGENET1K_V1|FILE.pth` (fc7 4096-d, pool5 regions: the
  paper's VGG features) or `encoder.arch=resnet152` (2048-d average pool, res5c regions: DAN's).

The cache is one HDF5 file per (image set, encoder): `image_id` (N,), `features` (N, D) pooled,
`regions` (N, h*w, C), attributes `encoder` (the encoder's identity: its name and a hash of its
weights), `grid` ([h, w]) and `data` (which images). It is also a valid `data.features` file. A
cache whose `encoder` attribute names another encoder is refused, never silently reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from paperlab.config import at_least, config_schema
from paperlab.console import err_console
from paperlab.engine.restore import load_model
from paperlab.errors import UserError
from paperlab.models.torchvision_models import imagenet_weights
from paperlab.papers.vqa.data import CocoImages, H5Features, ImageSource
from paperlab.paths import cache_dir

log = logging.getLogger(__name__)
TORCHVISION_ENCODERS = ("vgg16", "resnet152")
# data keys that change questions or answers but not the images
_NOT_IMAGES = ("top_answers", "min_word_count", "protocol", "question_types", "num_choices", "task")


@config_schema("encoder")
@dataclass
class EncoderConfig:
    checkpoint: str | None = "scene_cnn_sort_of_clevr"  # a paperlab-trained encoder: run dir, .pt file or shipped name
    arch: str | None = None  # or a torchvision ImageNet CNN: vgg16 | resnet152 (needs weights)
    weights: str | None = None  # torchvision weights name (IMAGENET1K_V1) or a local .pth file
    batch_size: int = at_least(1, default=128)  # images per forward pass while extracting
    cache: str | None = None  # the HDF5 feature file; null: <cache>/features/<data>-<images>-<encoder>.h5


class ImageEncoder(nn.Module):
    """A frozen CNN: pixels in [0, 1] (B, 3, H, W) -> (pooled (B, D), regions (B, C, h, w))."""

    def __init__(self, net: nn.Module, name: str, mean: list[float] | None = None, std: list[float] | None = None) -> None:
        super().__init__()
        self.net, self.name = net.eval(), name
        self.mean = None if mean is None else torch.tensor(mean).view(1, -1, 1, 1)
        self.std = None if std is None else torch.tensor(std).view(1, -1, 1, 1)
        self.identity = f"{name}@{weights_hash(net)}"

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = pixels if self.mean is None else (pixels - self.mean.to(pixels)) / self.std.to(pixels)
        return self.net.encode(x)


def weights_hash(module: nn.Module) -> str:
    """A hash of a module's parameters and buffers (names, shapes and values)."""
    h = hashlib.sha1()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class _TorchvisionEncoder(nn.Module):
    """VGG-16: fc7 after its ReLU and the pool5 grid; ResNet-152: the average pool and the res5c grid."""

    def __init__(self, arch: str, weights: str) -> None:
        import torchvision

        super().__init__()
        net = torchvision.models.get_model(arch, weights=None)
        net.load_state_dict(imagenet_weights(arch, weights))
        if arch == "vgg16":
            self.trunk = net.features
            self.head = nn.Sequential(net.avgpool, nn.Flatten(), *net.classifier[:5])  # fc6, ReLU, dropout, fc7, ReLU
        else:
            self.trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
                                       net.layer4)
            self.head = nn.Sequential(net.avgpool, nn.Flatten())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        regions = self.trunk(x)
        return self.head(regions), regions


def image_encoder(cfg: EncoderConfig) -> ImageEncoder:
    """The encoder a config names (see the module docstring)."""
    if cfg.arch:
        if cfg.arch not in TORCHVISION_ENCODERS:
            raise UserError(f"unknown encoder.arch '{cfg.arch}'", f"choose one of: {', '.join(TORCHVISION_ENCODERS)}")
        if not cfg.weights:
            raise UserError(f"encoder.arch={cfg.arch} needs ImageNet weights (random features answer nothing)",
                            "give encoder.weights=IMAGENET1K_V1 (from torch's cache) or encoder.weights=FILE.pth")
        return ImageEncoder(_TorchvisionEncoder(cfg.arch, cfg.weights), cfg.arch, list(CocoImages.MEAN),
                            list(CocoImages.STD))
    if not cfg.checkpoint:
        raise UserError("no image encoder configured", "give encoder.checkpoint=RUN_DIR|FILE|NAME or encoder.arch=vgg16 "
                        "encoder.weights=...")
    loaded = load_model(cfg.checkpoint, "scene_encoder")
    log.debug("image encoder: %s (%s)", loaded.path, loaded.model.spec.name)
    return ImageEncoder(loaded.model, loaded.model.spec.name)


@dataclass
class ImageFeatures:
    """The cached features of an image set: pooled vectors and region grids as image sources."""

    path: Path
    encoder: str
    pooled: ImageSource
    regions: ImageSource | None
    grid: tuple[int, int] | None


def data_key(data_cfg: DictConfig | Mapping[str, Any]) -> str:
    """Which images a data config gives: its name and a hash of the settings that can change them."""
    cfg = OmegaConf.to_container(data_cfg, resolve=True) if isinstance(data_cfg, DictConfig) else dict(data_cfg)
    kept = {k: v for k, v in cfg.items() if k not in _NOT_IMAGES}
    return f"{cfg.get('name', 'data')}-{hashlib.sha1(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:10]}"


def cache_path(encoder: ImageEncoder, data_cfg: DictConfig) -> Path:
    root = cache_dir("features")
    return root / f"{data_key(data_cfg)}-{encoder.identity.replace('@', '-')}.h5"


def _check_cache(path: Path, identity: str, image_ids: np.ndarray) -> None:
    with h5py.File(path, "r") as f:
        found = str(f.attrs.get("encoder", "unknown"))
        if found != identity:
            raise UserError(f"feature cache {path} was computed by encoder '{found}', not by the configured '{identity}'",
                            "delete the file or give another encoder.cache; features of another encoder are never reused")
        missing = np.setdiff1d(image_ids, f["image_id"][()])
    if len(missing):
        raise UserError(f"feature cache {path} lacks {len(missing)} of the {len(image_ids)} images "
                        f"(e.g. image id {int(missing[0])})", "delete it so that it is computed again")


def extract(encoder: ImageEncoder, sources: Mapping[str, tuple[ImageSource, np.ndarray]], path: Path,
            batch_size: int = 128, device: str | torch.device = "cpu", data: str = "") -> Path:
    """Run the encoder over every image of `sources` (name -> (pixel source, image ids)) and write
    the cache file atomically."""
    jobs = [(src, np.unique(ids)) for src, ids in sources.values()]
    total = sum(len(ids) for _, ids in jobs)
    encoder = encoder.to(device)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    try:
        with h5py.File(tmp, "w") as f, Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task(f"image features ({encoder.name})", total=total)
            done = 0
            for src, ids in jobs:
                for start in range(0, len(ids), batch_size):
                    batch = ids[start : start + batch_size]
                    pooled, grid = encoder(src.load_raw(batch).to(device))
                    regions = grid.flatten(2).transpose(1, 2)  # (B, h*w, C)
                    if done == 0:
                        f.create_dataset("image_id", (total,), dtype=np.int64)
                        f.create_dataset("features", (total, pooled.shape[1]), dtype=np.float32, chunks=True,
                                         compression="gzip")
                        f.create_dataset("regions", (total, *regions.shape[1:]), dtype=np.float32,
                                         chunks=(min(64, total), *regions.shape[1:]), compression="gzip")
                        f.attrs["grid"] = [int(grid.shape[2]), int(grid.shape[3])]
                    f["image_id"][done : done + len(batch)] = batch
                    f["features"][done : done + len(batch)] = pooled.float().cpu().numpy()
                    f["regions"][done : done + len(batch)] = regions.float().cpu().numpy()
                    done += len(batch)
                    progress.advance(task, len(batch))
            f.attrs["encoder"] = encoder.identity
            f.attrs["data"] = data
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def image_features(sources: Mapping[str, tuple[ImageSource, np.ndarray]], cfg: EncoderConfig,
                   data_cfg: DictConfig, device: str | torch.device = "cpu") -> ImageFeatures:
    """The features of every image in `sources` (split -> (image source, image ids)): read from the
    cache, or computed and cached first. Sources that already hold features (`data.features`)
    are used as they are, after checking that the configured encoder made them."""
    ids = np.unique(np.concatenate([np.asarray(i) for _, i in sources.values()]))
    first = next(iter(sources.values()))[0]
    if first.kind == "features":
        return _given_features(first, cfg)
    encoder = image_encoder(cfg)
    path = Path(os.path.expanduser(cfg.cache)) if cfg.cache else cache_path(encoder, data_cfg)
    if path.is_file():
        _check_cache(path, encoder.identity, ids)
        log.info("image features: %s (cached)", path)
    else:
        log.info("image features: computing %s", path)
        extract(encoder, sources, path, cfg.batch_size, device, data=data_key(data_cfg))
    return _open(path)


def _open(path: Path) -> ImageFeatures:
    with h5py.File(path, "r") as f:
        grid = tuple(int(g) for g in f.attrs["grid"]) if "grid" in f.attrs else None
        has_regions = "regions" in f
    pooled = H5Features(path, "features")
    regions = H5Features(path, "regions") if has_regions else None
    return ImageFeatures(path, pooled.encoder, pooled, regions, grid)


def _given_features(source: ImageSource, cfg: EncoderConfig) -> ImageFeatures:
    """`data.features=FILE.h5`: (N, D) pooled vectors or (N, R, D) regions (pooled = their mean)."""
    assert isinstance(source, H5Features)
    if cfg.checkpoint or cfg.arch:
        identity = image_encoder(cfg).identity
        if source.encoder != identity:
            raise UserError(f"data.features was computed by encoder '{source.encoder}', not by the configured '{identity}'",
                            "set encoder.checkpoint=null to use the file as it is, or drop data.features to compute new ones")
    if source.features.dim() == 2:
        return ImageFeatures(Path(), source.encoder, source, None, None)
    pooled = _MeanOfRegions(source)
    side = int(round(source.features.shape[1] ** 0.5))
    grid = (side, side) if side * side == source.features.shape[1] else None
    return ImageFeatures(Path(), source.encoder, pooled, source, grid)


class _MeanOfRegions(ImageSource):
    kind = "features"

    def __init__(self, regions: H5Features) -> None:
        self.regions = regions
        self.shape = (regions.shape[-1],)

    def load(self, image_ids: np.ndarray) -> torch.Tensor:
        return self.regions.load(image_ids).mean(1)

    def __contains__(self, image_id: int) -> bool:
        return image_id in self.regions
