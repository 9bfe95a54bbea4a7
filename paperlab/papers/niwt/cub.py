"""Caltech-UCSD Birds-200-2011 (Wah et al. 2011): 200 bird species, 312 attributes, 11,788 images;
the CUB benchmark of NIWT (Selvaraju et al. 2018, Sec. 4; 150 seen / 50 unseen classes).

Layout of data.root (CUB_200_2011/):
  images.txt ("1 001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg")
  image_class_labels.txt ("1 1")   train_test_split.txt ("1 0": 1 = training image)
  classes.txt ("1 001.Black_footed_Albatross")   images/<class>/<file>.jpg
  attributes/class_attribute_labels_continuous.txt (200 rows x 312, % of images with the attribute)
  attributes.txt ("1 has_bill_shape::curved_(up_or_down)"; in the archive beside CUB_200_2011/,
  also looked for in data.root and data.root/attributes/)
`data.splits_dir` (xlsa17's data/CUB) gives the proposed GZSL split of Xian et al.; without it,
data.unseen names the unseen classes (default: a seeded data.unseen_fraction of the classes), and
train_test_split.txt separates the seen classes' training and test images.
`data.captions_dir` (Reed et al. 2016's text_c10/<class>/<image>.txt, ten sentences per image)
gives the captions that the paper embeds as domain knowledge.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.niwt.xian_splits import zsl_from_xian_split
from paperlab.papers.niwt.zsl_data import ZSLData, read_matrix, require_files, zsl_from_files

LAYOUT = ("<root>/images.txt, image_class_labels.txt, train_test_split.txt, classes.txt, images/<class>/*.jpg "
          "and attributes/class_attribute_labels_continuous.txt (CUB_200_2011/)")
MATRIX = "attributes/class_attribute_labels_continuous.txt"


def read_pairs(path: Path) -> dict[int, str]:
    """"<id> <value>" lines -> {id: value}."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            key, value = line.split(maxsplit=1)
            out[int(key)] = value.strip()
    return out


def attribute_names(root: Path, count: int) -> list[str]:
    for candidate in (root / "attributes.txt", root / "attributes" / "attributes.txt", root.parent / "attributes.txt"):
        if candidate.is_file():
            names = list(read_pairs(candidate).values())
            if len(names) == count:
                return names
    return [f"attribute {i + 1}" for i in range(count)]


def read_captions(captions_dir: Path, folders: list[str], per_class: int) -> list[list[str]]:
    """Reed et al.'s captions, text_c10/<class>/<image>.txt: up to `per_class` sentences per class."""
    out = []
    for folder in folders:
        sentences: list[str] = []
        for f in sorted((captions_dir / folder).glob("*.txt")):
            sentences += [s.strip() for s in f.read_text().splitlines() if s.strip()]
            if len(sentences) >= per_class:
                break
        if not sentences:
            raise UserError(f"no captions for class {folder} in {captions_dir}",
                            "data.captions_dir must be Reed et al.'s text_c10/ folder (text_c10/<class>/<image>.txt)")
        out.append(sentences[:per_class])
    return out


@register_data("cub")
def cub(cfg: DictConfig) -> ZSLData:
    """CUB-200-2011: 200 bird classes, 312 attributes (data.root; data.splits_dir for Xian's split)."""
    if not cfg.get("root"):
        raise UserError("data=cub needs data.root", f"give data.root=DIR holding {LAYOUT}")
    root = Path(os.path.expanduser(str(cfg.root)))
    require_files(root, ["images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt", "images",
                         MATRIX], LAYOUT)
    classes = list(read_pairs(root / "classes.txt").values())
    attributes = read_matrix(root / MATRIX)
    names = attribute_names(root, attributes.shape[1])
    captions = read_captions(Path(str(cfg.captions_dir)), classes, int(cfg.captions_per_class)) \
        if cfg.get("captions_dir") else None
    where = f"{root / MATRIX} (vs classes.txt)"
    if cfg.get("splits_dir"):
        return zsl_from_xian_split(cfg, root, "images", "CUB", classes, attributes, names, where, captions)
    images = read_pairs(root / "images.txt")
    labels = {k: int(v) - 1 for k, v in read_pairs(root / "image_class_labels.txt").items()}
    is_train = {k: v == "1" for k, v in read_pairs(root / "train_test_split.txt").items()}
    if set(images) != set(labels) or set(images) != set(is_train):
        raise UserError("images.txt, image_class_labels.txt and train_test_split.txt list different image ids",
                        "use the files of one CUB_200_2011 release")
    ids = sorted(images)
    if cfg.get("unseen"):
        unseen = list(cfg.unseen)
    else:
        k = max(1, round(len(classes) * float(cfg.unseen_fraction)))
        unseen = sorted(random.Random(int(cfg.split_seed)).sample(classes, k), key=classes.index)
    test_seen = [i for i, image_id in enumerate(ids) if not is_train[image_id]]  # unseen ones are dropped
    return zsl_from_files([root / "images" / images[i] for i in ids], [labels[i] for i in ids], classes, attributes,
                          names, unseen, cfg, seen=list(cfg.seen) if cfg.get("seen") else None, test_seen=test_seen,
                          descriptions=captions, attributes_from=where,
                          split_from="data.seen / data.unseen")
