"""The proposed GZSL splits of Xian et al. ("Zero-Shot Learning - A Comprehensive Evaluation of the
Good, the Bad and the Ugly", TPAMI 2018), which Selvaraju et al. 2018 evaluate on (Sec. 4).

xlsa17's data/<DATASET>/ folder holds two MATLAB files:
  res101.mat      image_files (N x 1 cell of paths on the authors' disk), labels (N x 1, 1-based),
                  features (2048 x N ResNet-101 features; not used: NIWT needs its own CNN)
  att_splits.mat  allclasses_names (C x 1 cell), att (A x C), and 1-based image indices into
                  res101.mat: trainval_loc, test_seen_loc, test_unseen_loc, train_loc, val_loc
                  (val_loc: images of the validation classes, disjoint from train_loc's classes)
The image paths are mapped onto data.root by what follows the dataset's image folder
(JPEGImages/ for AWA2, images/ for CUB)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paperlab.errors import UserError

LAYOUT = "a folder with res101.mat and att_splits.mat (xlsa17: data/<DATASET>/)"


@dataclass
class XianSplit:
    paths: list[Path]  # every image, in res101.mat order
    labels: list[int]  # 0-based class indices into `classes`
    classes: list[str]  # allclasses_names
    seen: list[str]
    unseen: list[str]
    val_classes: list[str]  # classes of val_loc
    test_seen: list[int]  # indices into paths
    trainval: list[int]
    test_unseen: list[int]


def _strings(cell: np.ndarray) -> list[str]:
    """A MATLAB cell array of strings, as scipy.io.loadmat returns it, -> list of str."""
    return [str(np.asarray(c).ravel()[0]) for c in np.asarray(cell, dtype=object).ravel()]


def _loadmat(path: Path) -> dict[str, Any]:
    import scipy.io

    if not path.is_file():
        raise UserError(f"{path} does not exist", f"data.splits_dir must be {LAYOUT}")
    try:
        return scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises several types for files that are not MATLAB v5
        raise UserError(f"cannot read {path} ({str(err).splitlines()[0][:120]})", "download xlsa17 again") from None


def read_xian_split(splits_dir: Path, root: Path, image_folder: str) -> XianSplit:
    res = _loadmat(splits_dir / "res101.mat")
    att = _loadmat(splits_dir / "att_splits.mat")
    for key, mat, name in (("image_files", res, "res101.mat"), ("labels", res, "res101.mat"),
                           ("allclasses_names", att, "att_splits.mat"), ("trainval_loc", att, "att_splits.mat"),
                           ("test_seen_loc", att, "att_splits.mat"), ("test_unseen_loc", att, "att_splits.mat")):
        if key not in mat:
            raise UserError(f"{splits_dir / name} has no '{key}'", f"data.splits_dir must be {LAYOUT}")
    marker = f"{image_folder}/"
    paths = []
    for f in _strings(res["image_files"]):
        f = f.replace("\\", "/")
        if marker not in f:
            raise UserError(f"image path '{f}' in res101.mat has no '{marker}'",
                            f"the split files do not match this dataset (expected paths with {marker})")
        paths.append(root / image_folder / f.split(marker, 1)[1])
    labels = (np.asarray(res["labels"]).ravel().astype(np.int64) - 1).tolist()
    classes = _strings(att["allclasses_names"])

    def loc(key: str) -> list[int]:
        return (np.asarray(att[key]).ravel().astype(np.int64) - 1).tolist() if key in att else []

    trainval, test_seen, test_unseen = loc("trainval_loc"), loc("test_seen_loc"), loc("test_unseen_loc")
    n = len(paths)
    if len(labels) != n or any(i < 0 or i >= n for i in trainval + test_seen + test_unseen):
        raise UserError(f"the indices in {splits_dir / 'att_splits.mat'} do not fit res101.mat's {n} images",
                        "use the two files of the same xlsa17 dataset folder")
    seen = sorted({classes[labels[i]] for i in trainval}, key=classes.index)
    unseen = sorted({classes[labels[i]] for i in test_unseen}, key=classes.index)
    val_classes = sorted({classes[labels[i]] for i in loc("val_loc")}, key=classes.index)
    return XianSplit(paths, labels, classes, seen, unseen, val_classes, test_seen, trainval, test_unseen)


def zsl_from_xian_split(cfg: Any, root: Path, image_folder: str, dataset: str, classes: list[str],
                        attributes: np.ndarray, attribute_names: list[str], attributes_from: str,
                        descriptions: Any = None) -> Any:
    """The ZSL bundle of a dataset on Xian et al.'s proposed split (cfg.splits_dir), its class list
    checked against the dataset's own classes.txt."""
    from paperlab.papers.niwt.zsl_data import zsl_from_files

    split = read_xian_split(Path(os.path.expanduser(str(cfg.splits_dir))), root, image_folder)
    if split.classes != classes:
        raise UserError("att_splits.mat's allclasses_names differ from classes.txt",
                        f"use xlsa17's {dataset} folder with this {dataset} release")
    return zsl_from_files(split.paths, split.labels, classes, attributes, attribute_names, split.unseen, cfg,
                          seen=split.seen, test_seen=split.test_seen, val_classes=split.val_classes,
                          descriptions=descriptions, attributes_from=attributes_from, split_from="att_splits.mat")
