"""Image-caption loaders in their standard on-disk formats (Flickr30k's token file, COCO's
captions_*.json, Karpathy's split files), each on a tiny fixture written here in that format, and
the embedded scenes' captions as matching data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from paperlab.data import build_data
from paperlab.errors import UserError
from paperlab.papers.dan.captions import caption_data
from paperlab.papers.vqa.captions_json import (
    read_coco_captions,
    read_flickr_tokens,
    read_karpathy_split,
)


def _jpg(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((12, 16, 3), shade, dtype=np.uint8)).save(path)


def _flickr(cfg: dict) -> object:
    base = {"name": "flickr30k", "features": None, "image_size": 8, "val_images": 1, "test_images": 1,
            "split_seed": 0, "min_word_count": 1}
    return build_data(OmegaConf.create({**base, **cfg}))


def test_flickr30k_token_file_and_images(tmp_path: Path) -> None:
    ids = [1000092795, 10002456, 1000268201, 1000344755]
    lines = [f"{i}.jpg#{k}\t{'A dog runs .' if n % 2 else 'Two men talk .'} ({k})"
             for n, i in enumerate(ids) for k in range(5)]
    (tmp_path / "results_20130124.token").write_text("\n".join(lines) + "\n")
    for n, i in enumerate(ids):
        _jpg(tmp_path / "flickr30k-images" / f"{i}.jpg", 40 * n)
    assert read_flickr_tokens(tmp_path / "results_20130124.token")[10002456][4] == "A dog runs . (4)"
    data = _flickr({"root": str(tmp_path)})
    assert {s: len(d) for s, d in data.splits.items()} == {"train": 2, "val": 1, "test": 1}
    held = {int(i) for s in ("val", "test") for i in data.splits[s].image_ids}
    assert held | {int(i) for i in data.splits["train"].image_ids} == set(ids)
    test = data.splits["test"]
    assert len(test.captions[0]) == 5 and test.captions[0][0].endswith("(0)")
    pixels = test.images.load_raw(test.image_ids)
    shade = ids.index(int(test.image_ids[0])) * 40 / 255
    assert pixels.shape == (1, 3, 8, 8) and np.allclose(pixels.numpy(), shade, atol=1 / 255)


def test_flickr30k_karpathy_split_and_missing_layout(tmp_path: Path) -> None:
    images = [{"filename": f"{i}.jpg", "split": s, "sentences": [{"raw": f"caption {i} {k}"} for k in range(5)]}
              for i, s in [(11, "train"), (12, "restval"), (13, "val"), (14, "test")]]
    (tmp_path / "dataset_flickr30k.json").write_text(json.dumps({"images": images, "dataset": "flickr30k"}))
    captions, split_of = read_karpathy_split(tmp_path / "dataset_flickr30k.json")
    assert split_of == {11: "train", 12: "train", 13: "val", 14: "test"} and captions[13][2] == "caption 13 2"
    with pytest.raises(UserError, match="no image folder"):
        _flickr({"root": str(tmp_path)})
    with pytest.raises(UserError, match="results_20130124.token"):
        _flickr({"root": str(tmp_path / "nowhere")})
    with pytest.raises(UserError, match="needs data.root"):
        _flickr({"root": None})


def test_coco_captions_files(tmp_path: Path) -> None:
    for subset, ids in (("train2014", [9, 25, 30]), ("val2014", [42, 73, 74, 75])):
        anns = [{"image_id": i, "id": 10 * i + k, "caption": f" a {subset} photo {i}-{k} "} for i in ids for k in range(5)]
        (tmp_path / "annotations").mkdir(exist_ok=True)
        (tmp_path / "annotations" / f"captions_{subset}.json").write_text(json.dumps(
            {"info": {}, "images": [{"id": i, "file_name": f"COCO_{subset}_{i:012d}.jpg"} for i in ids],
             "annotations": anns}))
        for i in ids:
            _jpg(tmp_path / subset / f"COCO_{subset}_{i:012d}.jpg", i)
    assert read_coco_captions(tmp_path / "annotations" / "captions_val2014.json")[42][0] == "a val2014 photo 42-0"
    cfg = {"name": "coco_captions", "root": str(tmp_path), "features": None, "image_size": 8, "val_images": 2,
           "test_images": 1, "split_seed": 0, "min_word_count": 1}
    data = build_data(OmegaConf.create(cfg))
    assert data.splits["train"].image_ids.tolist() == [9, 25, 30]
    assert sorted([*data.splits["val"].image_ids, *data.splits["test"].image_ids]) != []
    assert len(data.splits["val"]) == 2 and len(data.splits["test"]) == 1
    i = int(data.splits["test"].image_ids[0])
    assert data.splits["test"].captions[0][4] == f"a val2014 photo {i}-4"
    assert np.allclose(data.splits["test"].images.load_raw(np.array([i])).numpy(), i / 255, atol=1 / 255)
    (tmp_path / "annotations" / "captions_val2014.json").write_text('{"images": []}')
    with pytest.raises(UserError, match="not a COCO captions file"):
        build_data(OmegaConf.create(cfg))


def test_embedded_scenes_have_five_captions_per_image(tiny_sort_of_clevr: object) -> None:
    data = caption_data(tiny_sort_of_clevr)
    assert set(data.splits) == {"train", "val", "test"}
    test = data.splits["test"]
    assert all(len(c) == 5 for c in test.captions) and len(test) == len(data.scenes["test"])
    # every caption names only colours of objects in its scene
    colors = {"red", "green", "blue", "orange", "gray", "yellow", "purple", "cyan"}
    for image_id, caps in zip(test.image_ids.tolist(), test.captions, strict=True):
        present = {o.color for o in data.scenes["test"][image_id]}
        for c in caps:
            assert {w.strip(".,") for w in c.lower().split()} & colors <= present, c
