"""Scene annotations (CLEVR scenes format), the labels that pretrain the scene encoder, and the
HDF5 feature cache: computed once, reused, and never reused for another encoder."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from paperlab.errors import UserError
from paperlab.models import create_model
from paperlab.papers.vqa.data import H5Features, InMemoryImages
from paperlab.papers.vqa.image_features import ImageEncoder, image_features
from paperlab.papers.vqa.scenes import (
    SceneObject,
    named_object_mask,
    presence_labels,
    read_scenes,
    region_labels,
    write_scenes,
)

COLORS, SHAPES = ["blue", "red"], ["circle", "square"]


def test_scenes_round_trip_and_region_labels(tmp_path: Path) -> None:
    scene = [SceneObject("red", "square", 12.0, 4.0, 3.0), SceneObject("blue", "circle", 4.0, 12.0, 3.0)]
    write_scenes(tmp_path / "scenes_val.json", {7: scene}, "val")
    assert read_scenes(tmp_path / "scenes_val.json") == {7: scene}
    # a 2x2 grid of 8-pixel cells over a 16x16 image: red square in the top right, blue circle bottom left
    labels = region_labels(scene, 2, 16, COLORS, SHAPES)
    kind = {("blue", "circle"): 1, ("blue", "square"): 2, ("red", "circle"): 3, ("red", "square"): 4}
    assert labels.tolist() == [[0, kind["red", "square"]], [kind["blue", "circle"], 0]]
    assert presence_labels(scene, COLORS, SHAPES).tolist() == [1, 0, 0, 1]
    assert named_object_mask("what shape is the red object?", scene, 2, 16).tolist() == [[False, True], [False, False]]
    with pytest.raises(UserError, match="CLEVR scenes format"):
        (tmp_path / "bad.json").write_text('{"scenes": [{"objects": []}]}')
        read_scenes(tmp_path / "bad.json")


def _encoder(seed: int) -> ImageEncoder:
    torch.manual_seed(seed)
    return ImageEncoder(create_model("scene_cnn", channels=[4, 4], fc_dim=8, image_size=16, num_colors=2,
                                     num_shapes=2), "scene_cnn")


def _pixels(n: int = 6) -> InMemoryImages:
    images = torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8)
    return InMemoryImages(np.arange(100, 100 + n), images, [0.5] * 3, [0.25] * 3)


def test_feature_cache_is_computed_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperlab.papers.vqa import image_features as module

    encoder = _encoder(0)
    monkeypatch.setattr(module, "image_encoder", lambda cfg: encoder)
    calls = []
    forward = ImageEncoder.forward
    monkeypatch.setattr(ImageEncoder, "forward", lambda self, x: calls.append(len(x)) or forward(self, x))
    pixels = _pixels()
    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path))
    data_cfg = OmegaConf.create({"name": "tiny", "seed": 0})
    sources = {"train": (pixels, np.array([100, 101, 102, 101])), "test": (pixels, np.array([103, 104, 105]))}
    cfg = module.EncoderConfig(checkpoint="any", batch_size=4)
    first = image_features(sources, cfg, data_cfg)
    assert calls == [3, 3]  # each image once (101 twice in train), a split at a time
    pooled, grid = forward(encoder, pixels.load_raw(np.array([104])))
    assert torch.allclose(first.pooled.load(np.array([104])), pooled, atol=1e-6)
    assert torch.allclose(first.regions.load(np.array([104]))[0], grid[0].flatten(1).T, atol=1e-6)
    assert first.grid == (4, 4) and first.encoder == encoder.identity
    with h5py.File(first.path) as f:
        assert f.attrs["encoder"] == encoder.identity and list(f["image_id"][()]) == [100, 101, 102, 103, 104, 105]
    again = image_features(sources, cfg, data_cfg)
    assert calls == [3, 3] and again.path == first.path  # read back, not computed again
    # another encoder gets its own cache file; given the first file explicitly, it is refused
    other = _encoder(1)
    monkeypatch.setattr(module, "image_encoder", lambda cfg: other)
    assert image_features(sources, cfg, data_cfg).path != first.path
    explicit = module.EncoderConfig(checkpoint="any", cache=str(first.path))
    with pytest.raises(UserError, match="computed by encoder .* not by the configured"):
        image_features(sources, explicit, data_cfg)
    # ... and so is data.features made by another encoder
    with pytest.raises(UserError, match="data.features was computed by encoder"):
        image_features({"train": (H5Features(first.path), np.array([100]))}, cfg, data_cfg)
    # the same file without an encoder check is used as it is (pooled = its features)
    plain = image_features({"train": (H5Features(first.path), np.array([100]))}, module.EncoderConfig(checkpoint=None),
                           data_cfg)
    assert plain.regions is None and plain.pooled.shape == (8,)


def test_weights_identity_changes_with_the_weights() -> None:
    a, b = _encoder(0), _encoder(0)
    assert a.identity == b.identity
    with torch.no_grad():
        next(b.net.parameters()).add_(1e-3)
    assert ImageEncoder(b.net, "scene_cnn").identity != a.identity
