"""Image-caption data for image-text matching (Nam et al. 2017, Sec. 4.2: Flickr30K, five
captions per image, 1,000 test images), in the standard layouts (`paperlab.papers.vqa.captions_json`):

    data=flickr30k data.root=DIR       DIR/results_20130124.token (or DIR/dataset_flickr30k.json,
                                       Karpathy's split) and the images DIR/flickr30k-images/<id>.jpg
    data=coco_captions data.root=DIR   DIR/annotations/captions_{train,val}2014.json (or
                                       DIR/dataset_coco.json) and DIR/{train,val}2014/COCO_<subset>_<id>.jpg

Splits: Karpathy's split file when there is one; otherwise Flickr30k holds out `val_images` and
`test_images` images at random (seeded), COCO takes train2014 for training and splits val2014's
images into validation and test. Instead of images, `data.features=FILE.h5` gives precomputed
features, as for VQA.

The embedded default is not here: `data=sort_of_clevr` (paperlab.papers.vqa.sort_of_clevr) writes five
captions per scene in the COCO captions format, and `caption_data` turns any VQA set that has
captions into this form.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.vqa.captions_json import (
    read_coco_captions,
    read_flickr_tokens,
    read_karpathy_split,
)
from paperlab.papers.vqa.data import CocoImages, H5Features, ImageSource, VQAData
from paperlab.papers.vqa.scenes import Scenes


@dataclass
class CaptionSplit:
    """The images of one split (ids, and where their pixels or features come from) and their captions."""

    image_ids: np.ndarray
    captions: list[list[str]]  # per image, in image_ids order
    images: ImageSource

    def __len__(self) -> int:
        return len(self.image_ids)


@dataclass
class CaptionData:
    name: str
    splits: dict[str, CaptionSplit]
    scenes: dict[str, Scenes] = field(default_factory=dict)  # split -> image id -> objects, where known


def caption_data(data: VQAData | CaptionData) -> CaptionData:
    """Caption splits of a caption dataset, or of a VQA dataset that has captions (embedded sets)."""
    if isinstance(data, CaptionData):
        return data
    if not data.captions:
        raise UserError(f"data={data.info.name} has no captions", "use data=sort_of_clevr, flickr30k or coco_captions")
    splits = {}
    for split, caps in data.captions.items():
        ids = np.array(sorted(caps), dtype=np.int64)
        splits[split] = CaptionSplit(ids, [caps[i] for i in ids.tolist()], data.splits[split].images)
    return CaptionData(data.info.name, splits, data.scenes)


class FileImages(CocoImages):
    """Image files named <id>.jpg in one folder (Flickr30k), resized and standardised as CocoImages."""

    def path(self, image_id: int) -> Path:
        return self.folder / f"{int(image_id)}.jpg"


def _root(cfg: DictConfig, layout: str) -> Path:
    if not cfg.get("root"):
        raise UserError(f"data={cfg.name} needs data.root", f"give data.root=DIR holding {layout}")
    root = Path(os.path.expanduser(str(cfg.root)))
    if not root.is_dir():
        raise UserError(f"data.root '{root}' does not exist", f"give the folder that holds {layout}")
    return root


def _random_split(ids: np.ndarray, n_val: int, n_test: int, seed: int) -> dict[str, np.ndarray]:
    if n_val + n_test >= len(ids):
        raise UserError(f"cannot hold out {n_val} + {n_test} of {len(ids)} images", "lower data.val_images / data.test_images")
    perm = np.random.default_rng(seed).permutation(np.sort(ids))
    return {"train": np.sort(perm[n_val + n_test :]), "val": np.sort(perm[:n_val]), "test": np.sort(perm[n_val : n_val + n_test])}


def _assemble(name: str, captions: dict[int, list[str]], split_ids: dict[str, np.ndarray],
              images: dict[str, ImageSource], cfg: DictConfig) -> CaptionData:
    if cfg.get("features"):
        features = H5Features(Path(os.path.expanduser(str(cfg.features))))
        images = dict.fromkeys(split_ids, features)
    splits = {}
    for split, ids in split_ids.items():
        probe = ids[:: max(1, len(ids) // 50)]
        missing = [int(i) for i in probe if int(i) not in images[split]]
        if missing:
            raise UserError(f"{name} {split}: images of {len(missing)} sampled image ids are missing (e.g. {missing[:3]})",
                            "check data.root's image folder or data.features")
        splits[split] = CaptionSplit(ids, [captions[int(i)] for i in ids], images[split])
    return CaptionData(name, splits)


@register_data("flickr30k")
def flickr30k(cfg: DictConfig) -> CaptionData:
    """Flickr30k (Young et al. 2014): 31,783 images, 5 captions each, from data.root (token file or Karpathy's split)."""
    layout = "results_20130124.token (or dataset_flickr30k.json) and flickr30k-images/<id>.jpg"
    root = _root(cfg, layout)
    karpathy, tokens = root / "dataset_flickr30k.json", root / "results_20130124.token"
    if karpathy.is_file():
        captions, split_of = read_karpathy_split(karpathy)
        ids = np.array(sorted(captions), dtype=np.int64)
        split_ids = {s: ids[[split_of[int(i)] == s for i in ids]] for s in ("train", "val", "test")}
    elif tokens.is_file():
        captions = read_flickr_tokens(tokens)
        split_ids = _random_split(np.array(list(captions), dtype=np.int64), int(cfg.val_images), int(cfg.test_images),
                                  int(cfg.split_seed))
    else:
        raise UserError(f"{root} has neither {tokens.name} nor {karpathy.name}", f"data.root must hold {layout}")
    images: dict[str, ImageSource] = {}
    if not cfg.get("features"):
        folder = root / "flickr30k-images"
        if not folder.is_dir():
            raise UserError(f"no image folder {folder}", f"data.root must hold {layout}, or give data.features=FILE.h5")
        images = dict.fromkeys(split_ids, FileImages(folder, "", int(cfg.image_size)))
    return _assemble("flickr30k", captions, split_ids, images, cfg)


@register_data("coco_captions")
def coco_captions(cfg: DictConfig) -> CaptionData:
    """MS-COCO captions (Chen et al. 2015): ~5 captions per image, from data.root (annotations/captions_*.json or Karpathy's split)."""
    layout = "annotations/captions_{train,val}2014.json (or dataset_coco.json) and {train,val}2014/COCO_<subset>_<id>.jpg"
    root = _root(cfg, layout)
    karpathy = root / "dataset_coco.json"
    subset_of: dict[int, str] = {}
    if karpathy.is_file():
        captions, split_of = read_karpathy_split(karpathy)
        ids = np.array(sorted(captions), dtype=np.int64)
        split_ids = {s: ids[[split_of[int(i)] == s for i in ids]] for s in ("train", "val", "test")}
    else:
        captions = {}
        for subset in ("train2014", "val2014"):
            found = next((p for p in (root / "annotations" / f"captions_{subset}.json", root / f"captions_{subset}.json")
                          if p.is_file()), None)
            if found is None:
                raise UserError(f"{root} has no annotations/captions_{subset}.json", f"data.root must hold {layout}")
            part = read_coco_captions(found)
            captions.update(part)
            subset_of.update(dict.fromkeys(part, subset))
        train = np.array(sorted(i for i, s in subset_of.items() if s == "train2014"), dtype=np.int64)
        held = _random_split(np.array(sorted(i for i, s in subset_of.items() if s == "val2014"), dtype=np.int64),
                             int(cfg.val_images), int(cfg.test_images), int(cfg.split_seed))
        split_ids = {"train": train, "val": held["val"], "test": held["test"]}
    images: dict[str, ImageSource] = {}
    if not cfg.get("features"):
        folders = {s: next((f for f in (root / s, root / "images" / s) if f.is_dir()), None) for s in ("train2014", "val2014")}
        if any(f is None for f in folders.values()):
            raise UserError(f"no COCO image folders train2014/ and val2014/ under {root}",
                            f"data.root must hold {layout}, or give data.features=FILE.h5")
        sources = {s: CocoImages(f, s, int(cfg.image_size)) for s, f in folders.items()}
        images = dict.fromkeys(split_ids, _CocoSubsets(sources, subset_of or None))
    return _assemble("coco_captions", captions, split_ids, images, cfg)


class _CocoSubsets(ImageSource):
    """COCO images from train2014/ or val2014/, whichever holds the id (known, or looked up)."""

    kind = "pixels"

    def __init__(self, sources: dict[str, CocoImages], subset_of: dict[int, str] | None) -> None:
        self.sources, self.subset_of = sources, subset_of
        self.shape = next(iter(sources.values())).shape

    def _source(self, image_id: int) -> CocoImages:
        if self.subset_of is not None:
            return self.sources[self.subset_of[int(image_id)]]
        return next((s for s in self.sources.values() if s.path(image_id).is_file()), next(iter(self.sources.values())))

    def load_raw(self, image_ids: np.ndarray) -> torch.Tensor:
        return torch.cat([self._source(i).load_raw(np.array([i])) for i in image_ids])

    def load(self, image_ids: np.ndarray) -> torch.Tensor:
        return torch.cat([self._source(i).load(np.array([i])) for i in image_ids])

    def __contains__(self, image_id: int) -> bool:
        return int(image_id) in self._source(image_id)
