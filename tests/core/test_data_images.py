"""Image loaders on fixtures written in each dataset's real on-disk format."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_idx_set, write_idx
from omegaconf import OmegaConf

from paperlab.data import build_data
from paperlab.data.mnist import read_idx
from paperlab.errors import UserError


def cfg(**kw):
    base = {"name": "fashion_mnist", "root": None, "download": False, "val_size": 8, "split_seed": 0,
            "flip": False, "pad_crop": 0, "resize": None}
    return OmegaConf.create({**base, **kw})


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_roundtrip(tmp_path: Path, gz: bool) -> None:
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), x, gz=gz)
    np.testing.assert_array_equal(read_idx(path), x)


def test_read_idx_rejects_bad_magic_and_truncation(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04" + b"\x00" * 10)
    with pytest.raises(UserError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    good = write_idx(tmp_path / "t", np.zeros((5, 4, 4), np.uint8), gz=False)
    good.write_bytes(good.read_bytes()[:-3])
    with pytest.raises(UserError, match="truncated"):
        read_idx(good)


def test_fashion_mnist_from_idx_fixture(idx_root: Path) -> None:
    data = build_data(cfg(root=str(idx_root)))
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 88, "val": 8, "test": 40}
    assert data.info.num_classes == 10 and data.info.in_channels == 1 and data.info.image_size == 28
    assert data.info.class_names[0] == "T-shirt/top"
    x, y = data.splits["train"].__getitems__([0, 1, 2])
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.long
    # standardised with the training split's statistics
    all_x, _ = data.splits["train"].__getitems__(list(range(88)))
    assert abs(all_x.mean().item()) < 1e-4 and abs(all_x.std().item() - 1) < 1e-2


def test_mnist_torchvision_layout_and_raw_files(tmp_path: Path) -> None:
    make_idx_set(tmp_path / "MNIST" / "raw", gz=False)
    data = build_data(cfg(name="mnist", root=str(tmp_path)))
    assert data.info.class_names == [str(d) for d in range(10)]
    assert len(data.splits["test"]) == 40


def test_missing_root_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist.*train-images-idx3-ubyte"):
        build_data(cfg(root=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no FashionMNIST IDX files"):
        build_data(cfg(root=str(tmp_path / "empty")))


def test_augmentation_is_a_function_of_seed_epoch_index(idx_root: Path) -> None:
    ds = build_data(cfg(root=str(idx_root), flip=True, pad_crop=2)).splits["train"]
    ds.set_epoch(3)
    a, _ = ds.__getitems__([5, 6, 7])
    b, _ = ds.__getitems__([7, 5])  # other order, other batch: same images
    assert torch.equal(a[2], b[0]) and torch.equal(a[0], b[1])
    ds.set_epoch(4)
    c, _ = ds.__getitems__(list(range(40)))
    ds.set_epoch(3)
    d, _ = ds.__getitems__(list(range(40)))
    assert not torch.equal(c, d)  # a new epoch draws new flips/crops


def _cifar_batch(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n)),
         b"batch_label": b"x", b"filenames": [b"f"] * n}
    path.write_bytes(pickle.dumps(d))


def test_cifar10_from_pickle_fixture(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        _cifar_batch(folder / f"data_batch_{i}", 6, i)
    _cifar_batch(folder / "test_batch", 5, 9)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    data = build_data(cfg(name="cifar10", root=str(tmp_path), val_size=4))
    assert len(data.splits["train"]) == 26 and len(data.splits["test"]) == 5
    assert data.info.in_channels == 3 and data.info.image_size == 32 and data.info.class_names[-1] == "truck"
    # pixel layout: the pickle's row 0 is image 0, channel-major
    raw = pickle.loads((folder / "test_batch").read_bytes())[b"data"][0].reshape(3, 32, 32)
    assert torch.equal(data.splits["test"].images[0], torch.from_numpy(raw))
    (folder / "data_batch_3").unlink()
    with pytest.raises(UserError, match="data_batch_3"):
        build_data(cfg(name="cifar10", root=str(tmp_path)))
