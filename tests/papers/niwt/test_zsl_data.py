"""Zero-shot datasets: AWA2 and CUB-200-2011 loaders and Xian et al.'s proposed-split .mat files on
fixtures written in their real layouts; Shapes ZSL; bad class lists and attribute matrices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from omegaconf import OmegaConf
from PIL import Image

from paperlab.config import conf_dir
from paperlab.data import build_data
from paperlab.errors import UserError
from paperlab.papers.niwt.zsl_shapes import class_names, default_unseen, factors

AWA_CLASSES = ["antelope", "grizzly+bear", "killer+whale", "beaver", "dalmatian"]
PREDICATES = ["black", "white", "blue", "brown", "stripes", "water"]


def jpeg(path: Path, seed: int, size: tuple[int, int] = (20, 16)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(path, quality=90)


def write_awa2(root: Path, per_class: int = 5) -> Path:
    """Animals_with_Attributes2/ in miniature: tab-separated index files, space-separated matrices."""
    (root / "classes.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(f"{i + 1}\t{c}\n" for i, c in enumerate(AWA_CLASSES)))
    (root / "predicates.txt").write_text("".join(f"{i + 1}\t{p}\n" for i, p in enumerate(PREDICATES)))
    cont = np.arange(len(AWA_CLASSES) * len(PREDICATES), dtype=float).reshape(len(AWA_CLASSES), -1)
    (root / "predicate-matrix-continuous.txt").write_text(
        "\n".join(" ".join(f"{v:.2f}" for v in row) for row in cont) + "\n")
    (root / "predicate-matrix-binary.txt").write_text(
        "\n".join(" ".join(str(int(v) % 2) for v in row) for row in cont) + "\n")
    (root / "trainclasses.txt").write_text("antelope\ngrizzly+bear\nbeaver\ndalmatian\n")
    (root / "testclasses.txt").write_text("killer+whale\n")
    for c in AWA_CLASSES:
        for n in range(per_class):
            jpeg(root / "JPEGImages" / c / f"{c}_{10001 + n}.jpg", hash((c, n)) % 1000)
    return root


def cfg(name: str, **kw) -> OmegaConf:
    return OmegaConf.merge(OmegaConf.load(conf_dir() / "data" / f"{name}.yaml"),
                           {"image_size": 24, "val_classes": 0.34, **kw})


def cell(strings: list[str]) -> np.ndarray:
    """A MATLAB N x 1 cell array of strings, as scipy.io.savemat writes it."""
    out = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        out[i, 0] = np.array([s])
    return out


def test_awa2_from_its_folder_layout(tmp_path: Path) -> None:
    data = build_data(cfg("awa2", root=str(write_awa2(tmp_path / "AwA2")), test_fraction=0.4, val_fraction=0.34))
    assert data.classes == ["antelope", "grizzly+bear", "beaver", "dalmatian", "killer+whale"]  # seen, then unseen
    assert data.num_seen == 4 and data.unseen_classes == ["killer+whale"]
    assert data.attribute_names == PREDICATES
    assert data.attributes[4, 0] == 12.0  # killer+whale is the third row of the matrix
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 8, "val": 4, "test": 8}
    assert len(data.unseen_test) == 5 and set(data.unseen_test.labels.tolist()) == {4}
    x, y = data.splits["test"][0]
    assert x.shape == (3, 24, 24) and 0 <= int(y) < 4
    assert len(data.val_classes) == 1 and data.val_classes[0] < 4
    binary = build_data(cfg("awa2", root=str(tmp_path / "AwA2"), attributes="binary"))
    assert set(binary.attributes.unique().tolist()) == {0.0, 1.0}


def test_awa2_with_xian_proposed_split(tmp_path: Path) -> None:
    root = write_awa2(tmp_path / "Animals_with_Attributes2", per_class=4)
    files = [f"/BS/xian/work/data/Animals_with_Attributes2//JPEGImages/{c}/{c}_{10001 + n}.jpg"
             for c in AWA_CLASSES for n in range(4)]
    labels = np.repeat(np.arange(1, 6), 4)[:, None]  # 1-based, like the original
    splits = tmp_path / "xlsa17" / "data" / "AWA2"
    splits.mkdir(parents=True)
    scipy.io.savemat(splits / "res101.mat", {"image_files": cell(files), "labels": labels,
                                              "features": np.zeros((8, len(files)))})
    # proposed split: beaver + dalmatian unseen; antelope = train class, grizzly+bear and killer+whale = val classes
    loc = lambda idx: np.array(idx)[:, None] + 1  # noqa: E731
    scipy.io.savemat(splits / "att_splits.mat", {
        "allclasses_names": cell(AWA_CLASSES), "att": np.zeros((6, 5)),
        "trainval_loc": loc([0, 1, 2, 4, 5, 6, 8, 9, 10]), "test_seen_loc": loc([3, 7, 11]),
        "test_unseen_loc": loc(list(range(12, 20))), "train_loc": loc([0, 1, 2]), "val_loc": loc([4, 5, 6, 8, 9, 10]),
    })
    data = build_data(cfg("awa2", root=str(root), splits_dir=str(splits), val_fraction=0.2))
    assert data.seen_classes == ["antelope", "grizzly+bear", "killer+whale"]
    assert data.unseen_classes == ["beaver", "dalmatian"]
    assert data.val_classes == [1, 2]  # grizzly+bear and killer+whale, from val_loc
    assert len(data.splits["test"]) == 3 and len(data.unseen_test) == 8
    assert len(data.splits["train"]) + len(data.splits["val"]) == 9
    assert data.unseen_test.paths[0] == root / "JPEGImages" / "beaver" / "beaver_10001.jpg"
    bad = tmp_path / "bad"
    bad.mkdir()
    scipy.io.savemat(bad / "res101.mat", {"image_files": cell(files[:3]), "labels": labels[:3]})
    (bad / "att_splits.mat").write_bytes((splits / "att_splits.mat").read_bytes())
    with pytest.raises(UserError, match="do not fit res101.mat's 3 images"):
        build_data(cfg("awa2", root=str(root), splits_dir=str(bad)))


def test_awa2_bad_inputs(tmp_path: Path) -> None:
    root = write_awa2(tmp_path / "AwA2", per_class=2)
    with pytest.raises(UserError, match=r"does not exist; expected <root>/JPEGImages"):
        build_data(cfg("awa2", root=str(tmp_path / "nowhere")))
    with pytest.raises(UserError, match="both seen and unseen"):
        build_data(cfg("awa2", root=str(root), seen=["antelope", "beaver"], unseen=["beaver"]))
    (root / "testclasses.txt").write_text("beaver\n")
    with pytest.raises(UserError, match=r"beaver are both seen and unseen \(trainclasses.txt / testclasses.txt\)"):
        build_data(cfg("awa2", root=str(root)))
    (root / "testclasses.txt").write_text("killer+whale\n")
    lines = (root / "predicate-matrix-continuous.txt").read_text().splitlines()
    (root / "predicate-matrix-continuous.txt").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(UserError, match="has 4 rows but there are 5 classes"):
        build_data(cfg("awa2", root=str(root)))


def write_cub(root: Path, classes: int = 4, per_class: int = 4) -> Path:
    """CUB_200_2011/ in miniature, with attributes.txt beside it as in the archive, and Reed's captions."""
    names = [f"{i + 1:03d}.Bird_{i + 1}" for i in range(classes)]
    root.mkdir(parents=True)
    (root / "classes.txt").write_text("".join(f"{i + 1} {n}\n" for i, n in enumerate(names)))
    images, labels, split = [], [], []
    for c, n in enumerate(names):
        for k in range(per_class):
            rel = f"{n}/{n.split('.')[1]}_{k:04d}_{c}.jpg"
            jpeg(root / "images" / rel, c * 10 + k)
            images.append(rel)
            labels.append(c + 1)
            split.append(1 if k < per_class - 1 else 0)
            caption = root.parent / "text_c10" / n / Path(rel).with_suffix(".txt").name
            caption.parent.mkdir(parents=True, exist_ok=True)
            caption.write_text(f"this bird {c} has a short beak.\na small bird number {c}.\n")
    ids = range(1, len(images) + 1)
    (root / "images.txt").write_text("".join(f"{i} {p}\n" for i, p in zip(ids, images, strict=True)))
    (root / "image_class_labels.txt").write_text("".join(f"{i} {y}\n" for i, y in zip(ids, labels, strict=True)))
    (root / "train_test_split.txt").write_text("".join(f"{i} {s}\n" for i, s in zip(ids, split, strict=True)))
    (root / "attributes").mkdir()
    matrix = np.random.default_rng(0).random((classes, 3)) * 100
    (root / "attributes" / "class_attribute_labels_continuous.txt").write_text(
        "\n".join(" ".join(f"{v:.6f}" for v in row) for row in matrix) + "\n")
    (root.parent / "attributes.txt").write_text(
        "1 has_bill_shape::curved\n2 has_wing_color::blue\n3 has_size::small\n")
    return root


def test_cub_from_its_files(tmp_path: Path) -> None:
    root = write_cub(tmp_path / "CUB_200_2011")
    data = build_data(cfg("cub", root=str(root), unseen=["004.Bird_4"], captions_dir=str(tmp_path / "text_c10"),
                          val_fraction=0.34))
    assert data.classes[-1] == "004.Bird_4" and data.num_seen == 3
    assert data.attribute_names == ["has_bill_shape::curved", "has_wing_color::blue", "has_size::small"]
    assert len(data.splits["test"]) == 3  # the train_test_split.txt 0s of the seen classes
    assert len(data.splits["train"]) + len(data.splits["val"]) == 9 and len(data.unseen_test) == 4
    assert data.descriptions[-1][0] == "this bird 3 has a short beak."
    seeded = build_data(cfg("cub", root=str(root), unseen_fraction=0.5))
    assert seeded.num_unseen == 2
    with pytest.raises(UserError, match="unknown class '999.Dodo'"):
        build_data(cfg("cub", root=str(root), unseen=["999.Dodo"]))
    (root / "train_test_split.txt").write_text("1 1\n")
    with pytest.raises(UserError, match="list different image ids"):
        build_data(cfg("cub", root=str(root)))


def shapes_cfg(**kw) -> OmegaConf:
    return OmegaConf.merge(OmegaConf.load(conf_dir() / "data" / "zsl_shapes.yaml"),
                           {"train_per_class": 4, "test_per_class": 2, "val_size": 16, **kw})


def test_shapes_zsl_unseen_classes_are_new_combinations_of_seen_attributes() -> None:
    data = build_data(shapes_cfg())
    assert len(class_names()) == 60 and data.num_seen == 48 and data.unseen_classes == default_unseen()
    seen_factors = [set(v) for v in zip(*(factors(c) for c in data.seen_classes), strict=True)]
    for name in data.unseen_classes:
        assert all(f in s for f, s in zip(factors(name), seen_factors, strict=True))
    assert data.attributes.shape == (60, 20) and data.attributes[:, :12].sum(1).eq(3).all()
    assert len(data.unseen_test) == 24 and data.unseen_masks.shape == (24, 32, 32)
    x, y = data.unseen_test.__getitems__([0, 1])
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [48, 48]
    assert 0.05 < data.unseen_masks.float().mean() < 0.5  # one object, not the whole image
    assert len(data.descriptions[0]) == 5 and data.seen_classes[0].split()[0] in data.descriptions[0][0].lower()
    again = build_data(shapes_cfg())
    assert torch.equal(again.unseen_test.images, data.unseen_test.images)  # deterministic


def test_shapes_zsl_bad_splits_and_attribute_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="both seen and unseen"):
        build_data(shapes_cfg(unseen=["red plain circle"], seen=["red plain circle", "blue plain star"]))
    with pytest.raises(UserError, match="unknown class 'pink plain circle'"):
        build_data(shapes_cfg(unseen=["pink plain circle"]))
    matrix = tmp_path / "attributes.txt"
    matrix.write_text("1 0 1\n" * 59)
    with pytest.raises(UserError, match="has 59 rows but there are 60 classes"):
        build_data(shapes_cfg(attributes_file=str(matrix)))


def test_fashion_zsl_attribute_matrix_and_split(idx_root: Path) -> None:
    from paperlab.data.mnist import FASHION_CLASSES
    from paperlab.papers.niwt.zsl_fashion import ATTRIBUTES, DESCRIPTIONS, MATRIX

    assert list(MATRIX) == FASHION_CLASSES and set(DESCRIPTIONS) == set(FASHION_CLASSES)
    assert all(len(row) == len(ATTRIBUTES) for row in MATRIX.values())
    conf = OmegaConf.merge(OmegaConf.load(conf_dir() / "data" / "zsl_fashion.yaml"),
                           {"root": str(idx_root), "val_size": 8})
    data = build_data(conf)
    assert data.unseen_classes == ["Coat", "Sandal", "Dress"] and data.num_seen == 7
    assert data.attributes.shape == (10, 30)
    # the fixture's 40 test images: 4 per class; those of the 3 unseen classes are the unseen test set
    assert len(data.unseen_test) == 12 and len(data.splits["test"]) == 28
    assert data.unseen_masks.shape == (12, 28, 28) and data.unseen_masks.any()
    idx = data.attribute_names.index("worn on the feet")
    assert data.attributes[data.classes.index("Sandal"), idx] == 1
