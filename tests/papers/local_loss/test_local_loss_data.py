"""The datasets of Nøkland & Eidnes 2019 beyond (Fashion-)MNIST and CIFAR-10: K-MNIST, CIFAR-100,
SVHN and STL-10, each read from a fixture written in the real on-disk format torchvision keeps
(IDX, python pickles, MATLAB .mat, STL-10's column-major .bin), with the augmentation of the
reference code, and downloaded only when asked."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, make_idx_set
from omegaconf import OmegaConf

from paperlab.data import build_data
from paperlab.errors import UserError


def data_cfg(name: str, **kw):
    """conf/data/<name>.yaml, as `data=<name>` composes it, with overrides."""
    cfg = OmegaConf.load(REPO / "conf" / "data" / f"{name}.yaml")
    cfg.merge_with({"val_size": 4, **kw})
    return cfg


@pytest.mark.parametrize(("name", "pad_crop", "flip"), [("kmnist", 0, False), ("cifar100", 4, True),
                                                        ("svhn", 0, False), ("stl10", 0, False)])
def test_augmentation_defaults_follow_the_reference(name, pad_crop, flip):
    # train.py:259-262 (K-MNIST), 306-307 (CIFAR-100), 329-331 (SVHN), 353-355 (STL-10)
    cfg = OmegaConf.load(REPO / "conf" / "data" / f"{name}.yaml")
    assert (cfg.name, cfg.pad_crop, cfg.flip, cfg.download) == (name, pad_crop, flip, False)


def test_kmnist_from_torchvisions_idx_layout(tmp_path):
    make_idx_set(tmp_path / "KMNIST" / "raw", gz=False)
    data = build_data(data_cfg("kmnist", root=str(tmp_path)))
    assert data.info.class_names == ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 92, "val": 4, "test": 40}


def test_kmnist_default_root_is_paths_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLAB_DATA", str(tmp_path))
    with pytest.raises(UserError, match=f"no KMNIST IDX files in {tmp_path / 'kmnist'}"):
        build_data(data_cfg("kmnist"))
    make_idx_set(tmp_path / "kmnist")  # the four .gz files straight in <paths.data>/kmnist
    assert len(build_data(data_cfg("kmnist")).splits["test"]) == 40


def _pickle(path: Path, obj: dict) -> None:
    path.write_bytes(pickle.dumps(obj))


def test_cifar100_from_pickle_fixture(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("test", 6)):
        _pickle(folder / split, {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                                 b"fine_labels": list(rng.integers(0, 100, n)),
                                 b"coarse_labels": list(rng.integers(0, 20, n)), b"filenames": [b"f"] * n})
    names = [f"class{i}".encode() for i in range(100)]
    _pickle(folder / "meta", {b"fine_label_names": names, b"coarse_label_names": [b"c"] * 20})
    data = build_data(data_cfg("cifar100", root=str(tmp_path)))
    assert data.info.num_classes == 100 and data.info.class_names[7] == "class7"
    assert len(data.splits["train"]) == 16 and data.info.image_size == 32 and data.info.in_channels == 3
    test = pickle.loads((folder / "test").read_bytes())
    assert torch.equal(data.splits["test"].images[2], torch.from_numpy(test[b"data"][2].reshape(3, 32, 32)))
    assert data.splits["test"].labels.tolist() == test[b"fine_labels"]  # the 100 fine labels
    (folder / "meta").unlink()
    with pytest.raises(UserError, match="cifar-100-python lacks meta"):
        build_data(data_cfg("cifar100", root=str(tmp_path)))


def _svhn_mat(path: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # height, width, channel, image
    y = rng.integers(1, 11, (n, 1)).astype(np.uint8)  # 1..10, 10 standing for the digit 0
    savemat(path, {"X": x, "y": y})
    return x, y


def test_svhn_from_mat_fixture(tmp_path):
    x, y = _svhn_mat(tmp_path / "train_32x32.mat", 12, 0)
    tx, ty = _svhn_mat(tmp_path / "test_32x32.mat", 5, 1)
    _svhn_mat(tmp_path / "extra_32x32.mat", 8, 2)
    data = build_data(data_cfg("svhn", root=str(tmp_path)))
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 8, "val": 4, "test": 5}
    assert torch.equal(data.splits["test"].images[3], torch.from_numpy(tx[:, :, :, 3].transpose(2, 0, 1)))
    assert data.splits["test"].labels.tolist() == [0 if v == 10 else int(v) for v in ty[:, 0]]
    assert data.info.class_names == [str(d) for d in range(10)]
    with_extra = build_data(data_cfg("svhn", root=str(tmp_path), extra=True))
    assert len(with_extra.splits["train"]) + len(with_extra.splits["val"]) == 12 + 8  # train + extra
    (tmp_path / "extra_32x32.mat").unlink()
    with pytest.raises(UserError, match="lacks extra_32x32.mat"):
        build_data(data_cfg("svhn", root=str(tmp_path), extra=True))


def _stl10(folder: Path, split: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)  # rows first
    labels = rng.integers(1, 11, n).astype(np.uint8)
    # the files store each channel column-major (MATLAB's order)
    np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tofile(folder / f"{split}_X.bin")
    labels.tofile(folder / f"{split}_y.bin")
    return images, labels


def test_stl10_from_binary_fixture(tmp_path):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    _stl10(folder, "train", 10, 0)
    images, labels = _stl10(folder, "test", 3, 1)
    data = build_data(data_cfg("stl10", root=str(tmp_path)))
    assert data.info.image_size == 96 and data.info.class_names[2] == "car"
    assert torch.equal(data.splits["test"].images[1], torch.from_numpy(images[1]))  # rows first again
    assert data.splits["test"].labels.tolist() == (labels.astype(int) - 1).tolist()
    (folder / "class_names.txt").write_text("\n".join(f"thing{i}" for i in range(10)) + "\n")
    assert build_data(data_cfg("stl10", root=str(tmp_path))).info.class_names[0] == "thing0"
    (folder / "test_y.bin").write_bytes(b"\x01\x02")  # two labels for three images
    with pytest.raises(UserError, match="do not match"):
        build_data(data_cfg("stl10", root=str(tmp_path)))


@pytest.mark.parametrize(("name", "cls"), [("kmnist", "KMNIST"), ("cifar100", "CIFAR100"), ("svhn", "SVHN"),
                                           ("stl10", "STL10")])
def test_download_only_when_asked(tmp_path, monkeypatch, name, cls):
    import torchvision

    calls = []

    def fake(root, *args, **kwargs):
        calls.append((root, kwargs))
        raise RuntimeError("no network in tests")

    monkeypatch.setattr(torchvision.datasets, cls, fake)
    with pytest.raises(UserError):  # the files are missing, and nothing was fetched
        build_data(data_cfg(name, root=str(tmp_path)))
    assert calls == []
    with pytest.raises(RuntimeError, match="no network"):
        build_data(data_cfg(name, root=str(tmp_path), download=True))
    assert calls[0][0] == str(tmp_path) and calls[0][1]["download"] is True
