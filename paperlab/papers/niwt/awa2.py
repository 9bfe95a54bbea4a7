"""Animals with Attributes 2 (Xian et al. 2018): 50 animal classes, 85 predicates, 37,322 images; the
AWA2 benchmark of NIWT (Selvaraju et al. 2018, Sec. 4: 40 seen / 10 unseen classes).

Layout of data.root (AwA2-data.zip, Animals_with_Attributes2/):
  JPEGImages/<class>/<class>_<n>.jpg   classes.txt ("1\tantelope")   predicates.txt ("1\tblack")
  predicate-matrix-{binary,continuous}.txt (50 rows x 85)   trainclasses.txt / testclasses.txt
`data.splits_dir` (xlsa17's data/AWA2) switches to the proposed GZSL split of Xian et al.
(paperlab/papers/niwt/xian_splits.py); without it the dataset's trainclasses/testclasses are used and a
seeded data.test_fraction of each seen class's images is held out as the seen test set.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.niwt.xian_splits import zsl_from_xian_split
from paperlab.papers.niwt.zsl_data import ZSLData, read_matrix, require_files, zsl_from_files

LAYOUT = ("<root>/JPEGImages/<class>/*.jpg, classes.txt, predicates.txt, predicate-matrix-continuous.txt "
          "(or -binary), trainclasses.txt and testclasses.txt (Animals_with_Attributes2/)")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def read_index_file(path: Path) -> list[str]:
    """classes.txt / predicates.txt: "<1-based index> <name>" per line (tab or spaces)."""
    names = []
    for line in path.read_text().splitlines():
        if line.strip():
            parts = line.split(maxsplit=1)
            names.append(parts[-1].strip())
    return names


def read_names(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@register_data("awa2")
def awa2(cfg: DictConfig) -> ZSLData:
    """Animals with Attributes 2: 50 classes, 85 predicates (data.root; data.splits_dir for Xian's split)."""
    if not cfg.get("root"):
        raise UserError("data=awa2 needs data.root", f"give data.root=DIR holding {LAYOUT}")
    root = Path(os.path.expanduser(str(cfg.root)))
    matrix_file = f"predicate-matrix-{cfg.attributes}.txt"
    require_files(root, ["JPEGImages", "classes.txt", "predicates.txt", matrix_file], LAYOUT)
    classes = read_index_file(root / "classes.txt")
    predicates = read_index_file(root / "predicates.txt")
    attributes = read_matrix(root / matrix_file)
    if attributes.shape[1] != len(predicates):
        raise UserError(f"{matrix_file} has {attributes.shape[1]} columns but predicates.txt lists {len(predicates)}",
                        "use the files of one AwA2 release")
    where = f"{root / matrix_file} (vs classes.txt)"
    if cfg.get("splits_dir"):
        return zsl_from_xian_split(cfg, root, "JPEGImages", "AWA2", classes, attributes, predicates, where)
    require_files(root, ["trainclasses.txt", "testclasses.txt"], LAYOUT)
    seen = list(cfg.seen) if cfg.get("seen") else read_names(root / "trainclasses.txt")
    unseen = list(cfg.unseen) if cfg.get("unseen") else read_names(root / "testclasses.txt")
    paths, labels = [], []
    for k, name in enumerate(classes):
        folder = root / "JPEGImages" / name
        if not folder.is_dir():
            raise UserError(f"{root / 'JPEGImages'} has no folder for class '{name}'", f"expected {LAYOUT}")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [k] * len(files)
    return zsl_from_files(paths, labels, classes, attributes, predicates, unseen, cfg, seen=seen, attributes_from=where,
                          split_from="data.seen/unseen" if cfg.get("unseen") else "trainclasses.txt / testclasses.txt")
