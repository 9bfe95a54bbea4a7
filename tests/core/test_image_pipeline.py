"""The image-folder pipeline (paperlab/data/image_pipeline.py, data=imagenet) against the classic
one on a fixture folder of real JPEG files: torchvision's ImageFolder with Pillow decoding and
resizing, the mean subtracted from the float 256x256 centre, torchvision's five_crop plus mirrors
(what the pipeline replaced, and what the torchvision reference scripts do).

Stated tolerance: the decoders agree exactly (both libjpeg-turbo); torch's antialiased bilinear
resize rounds differently from Pillow's by at most 1/255: on a few pixels in a thousand where
torchvision resizes uint8 in torch's uint8 kernel, on about a fifth where it goes through float
(torchvision < 0.24 on AVX-512 CPUs, CPUs without AVX2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
import torchvision.transforms.v2 as T
from conftest import build_in_cache, task_config
from image_folder import write_jpeg_folder
from omegaconf import OmegaConf
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

from paperlab.data.image_pipeline import (
    CROP,
    FolderImages,
    crop,
    crop_offsets,
    take_crops,
    ten_crops,
)
from paperlab.errors import UserError

# torchvision 0.29 announces that its decoders move to TorchCodec; they are what torch >= 2.4 ships with
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
ONE_LEVEL = 1 / 255 + 1e-6  # one step of 8-bit intensity, in the [0, 1] units the model sees
# the share of pixels one level off: torchvision picks torch's uint8 resize kernel by CPU capability
# (AVX-512 counted from 0.24 on) and otherwise resizes in float and rounds
_TORCHVISION = tuple(int(p) for p in torchvision.__version__.split("+")[0].split(".")[:2])
_CPU = torch.backends.cpu.get_cpu_capability()
OFF_SHARE = 0.01 if _CPU == "AVX2" or (_CPU == "AVX512" and _TORCHVISION >= (0, 24)) else 0.25


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jpeg_folder(tmp_path_factory.mktemp("imagenet"))


@pytest.fixture(scope="module")
def data(folder: Path, tmp_path_factory: pytest.TempPathFactory):
    cfg = OmegaConf.create({"name": "imagenet", "root": str(folder), "val_size": 2, "split_seed": 0,
                            "mean_images": 6, "decode": "auto"})
    return build_in_cache(cfg, tmp_path_factory.mktemp("cache"))


def reference_square(path: str) -> torch.Tensor:
    """The classic pipeline's 256x256 centre in [0, 1]: Pillow decode and resize, then float."""
    base = T.Compose([T.Resize(256, antialias=True), T.CenterCrop(256), T.ToImage(), T.ToDtype(torch.float32, scale=True)])
    with Image.open(path) as im:
        return base(im.convert("RGB"))


def reference_ten(square: torch.Tensor) -> torch.Tensor:
    five = torch.stack(T.functional.five_crop(square, [CROP, CROP]))
    return torch.cat([five, five.flip(-1)])


def finish(ds: FolderImages, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    return ds.finish_batch(ds.collate_fn([ds[i] for i in indices]))


def test_crops_are_torchvisions_five_and_their_mirrors() -> None:
    x = torch.arange(3 * 256 * 256, dtype=torch.float32).view(3, 256, 256)
    assert torch.equal(ten_crops(x), reference_ten(x))
    assert crop_offsets() == [(0, 0), (0, 32), (32, 0), (32, 32), (16, 16)]
    # the batched gather takes the same windows as slicing, mirrored for 5-9
    batch = torch.stack([x, x + 1, x + 2])
    k = torch.tensor([0, 7, 4])
    assert torch.equal(take_crops(batch, k), torch.stack([crop(b, int(i)) for b, i in zip(batch, k, strict=True)]))
    assert torch.equal(take_crops(batch, k)[1], (x + 1)[:, 32:, :224].flip(-1))  # 7: bottom-left, mirrored


def test_training_crop_matches_the_classic_pipeline(data) -> None:
    train = data.splits["train"]
    mean = train.mean_image
    ks, worst, off = [], 0.0, 0
    for i in range(len(train)):
        x, y = finish(train, [i])
        k = train.crop_index(i)
        want = reference_ten(reference_square(train.samples[i][0]) - mean)[k]
        diff = (x[0] - want).abs()
        worst, off = max(worst, float(diff.max())), off + int((diff > 1e-6).sum())
        assert int(y) == train.samples[i][1] and x.shape == (1, 3, CROP, CROP)
        ks.append(k)
    assert worst <= ONE_LEVEL and off / (len(train) * 3 * CROP * CROP) < OFF_SHARE
    # items ship uint8 and only the drawn crop: what crosses between processes is 1 byte a pixel
    item = train[0]
    assert item["pixels"].dtype == torch.uint8 and item["pixels"].shape == (3, CROP, CROP)
    assert item["pixels"].untyped_storage().nbytes() == 3 * CROP * CROP


def test_ten_test_crops_match_the_classic_pipeline(data) -> None:
    test = data.splits["test"]
    x, y = finish(test, [0, 1, 2])
    assert x.shape == (3, 10, 3, CROP, CROP) and x.dtype == torch.float32
    for j in range(3):
        want = reference_ten(reference_square(test.samples[j][0]) - test.mean_image)
        assert float((x[j] - want).abs().max()) <= ONE_LEVEL


def test_mean_image_is_the_mean_centre_square_and_cached(data, folder: Path) -> None:
    train = ImageFolder(str(folder / "train"))
    want = torch.stack([reference_square(p) for p, _ in train.samples]).mean(0)
    assert float((data.splits["train"].mean_image - want).abs().max()) <= ONE_LEVEL
    # the greyscale JPEG and the PNG under a .JPEG name decode to three channels like the rest
    assert data.splits["train"].mean_image.shape == (3, 256, 256)


def test_crop_is_drawn_by_seed_epoch_index(data) -> None:
    train = data.splits["train"]
    train.set_epoch(0)
    first = [train.crop_index(i) for i in range(len(train))]
    assert first == [train.crop_index(i) for i in range(len(train))]
    assert torch.equal(train[1]["pixels"], train[1]["pixels"])
    draws = set()
    for epoch in range(12):
        train.set_epoch(epoch)
        draws.update(train.crop_index(i) for i in range(len(train)))
    train.set_epoch(0)
    assert draws == set(range(10))  # every crop, flips included, over a few epochs


def test_bytes_decoded_in_the_main_process_give_the_same_batch(data) -> None:
    """decode=gpu's path (the workers read bytes; the batch is decoded, resized and cropped as a
    batch) run on the CPU: the same numbers as the workers' path."""
    for split in ("train", "test"):
        ds = data.splits[split]
        idx = list(range(len(ds)))[:5]
        ds.mode = "cpu"
        a, ya = finish(ds, idx)
        ds.mode = "gpu"
        try:
            batch = ds.collate_fn([ds[i] for i in idx])
            assert len(batch["encoded"]) == len(idx) and batch["encoded"].data[0].dtype == torch.uint8
            b, yb = ds.finish_batch(batch)
        finally:
            ds.mode = "cpu"
        assert torch.equal(ya, yb) and a.shape == b.shape
        assert float((a - b).abs().max()) <= ONE_LEVEL  # batched and one-by-one resizes round alike but for ties


def test_decode_modes_and_errors(data) -> None:
    train = data.splits["train"]
    train.set_device(torch.device("cpu"))
    assert train.mode == "cpu"
    gpu = FolderImages(train.samples, train.mean_image, train=True, decode="gpu")
    with pytest.raises(UserError, match="data.decode=gpu but the model is on cpu"):
        gpu.set_device(torch.device("cpu"))
    with pytest.raises(UserError, match="use data.decode=auto, cpu, gpu"):
        FolderImages(train.samples, train.mean_image, train=True, decode="nvjpeg")


def test_worker_processes_ship_the_batches(data) -> None:
    """For a CPU model the workers finish the batches; for a GPU model they ship uint8 crops that
    finish_batch completes on the device: the same numbers either way."""
    train = data.splits["train"]
    direct = finish(train, list(range(len(train))))
    for in_workers in (True, False):
        train.finish_in_workers = in_workers
        loader = DataLoader(train, batch_size=3, num_workers=2, collate_fn=train.collate_fn)
        shipped = list(loader)
        train.finish_in_workers = True
        assert all(isinstance(b, tuple) if in_workers else b["pixels"].dtype == torch.uint8 for b in shipped)
        assert torch.equal(torch.cat([train.finish_batch(b)[0] for b in shipped]), direct[0])


def test_train_command_runs_on_the_folder(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`paperlab train` with data=imagenet: the trainer finishes each batch on the device."""
    from paperlab.tasks import train

    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path / "cache"))
    cfg = task_config("train", ["data=imagenet", f"data.root={folder}", "data.val_size=2", "data.mean_images=4",
                                "model.variant=imagenet", "model.channels=[4,4,4,4,4]", "model.hidden=8",
                                "trainer.max_epochs=1", "trainer.batch_size=2", "trainer.eval_batch_size=2",
                                "trainer.progress=false", "trainer.channels_last=true"])
    results = train.run(cfg, run_dir=tmp_path / "run")
    assert results["steps"] == 2 and 0 <= results["test/top1_err"] <= 100
