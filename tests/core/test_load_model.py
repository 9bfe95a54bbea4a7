"""`load_model`: every shipped model comes back from its checkpoint alone and gives the outputs the
models gave before scripts/upgrade_checkpoints.py converted them (recorded then, on fixed inputs,
through the loaders each learner used to have), and a run's checkpoint round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from paperlab.data.images import ImageInfo
from paperlab.engine.checkpoint import load_checkpoint, save_checkpoint
from paperlab.engine.restore import load_model
from paperlab.errors import UserError

RECORDED = Path(__file__).resolve().parent / "fixtures" / "shipped_model_outputs.npz"


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    with np.load(RECORDED) as z:
        return dict(z)


def _same(got: torch.Tensor, want: np.ndarray) -> None:
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=0, atol=1e-5)


@torch.no_grad()
def test_shipped_classifier_and_char_lm(recorded: dict[str, np.ndarray]) -> None:
    zf = load_model("zfnet_fashion_mnist", "classifier")
    assert isinstance(zf.extras, ImageInfo) and zf.extras.class_names[7] == "Sneaker"
    _same(zf.model(torch.from_numpy(recorded["zfnet_fashion_mnist/x"])), recorded["zfnet_fashion_mnist/y"])
    lm = load_model("graves_text", "char_lm")
    assert len(lm.extras.symbols) == lm.model.cfg.vocab_size
    _same(lm.model(torch.from_numpy(recorded["graves_text/x"]))[0], recorded["graves_text/y"])


@torch.no_grad()
def test_shipped_handwriting_networks_and_readers(recorded: dict[str, np.ndarray]) -> None:
    x = torch.from_numpy(recorded["graves_prediction/x"])
    _same(load_model("graves_prediction", "handwriting").model(x)[0], recorded["graves_prediction/y"])
    synthesis = load_model("graves_synthesis", "handwriting")
    assert synthesis.extras.kind == "synthesis" and synthesis.extras.styles
    text = torch.from_numpy(recorded["graves_synthesis/text"])
    _same(synthesis.model(x, text).y_hat, recorded["graves_synthesis/y"])
    for name in ("handwriting_recognizer", "handwriting_judge"):
        reader = load_model(name, "handwriting_recognition")
        _same(reader.model(x, torch.tensor([12, 9]))[0], recorded[f"{name}/y"])


@torch.no_grad()
def test_shipped_scene_encoder(recorded: dict[str, np.ndarray]) -> None:
    encoder = load_model("scene_cnn_sort_of_clevr", "scene_encoder")
    pixels = torch.from_numpy(recorded["scene_cnn_sort_of_clevr/x"])
    pooled, regions = encoder.model.encode(pixels)
    _same(pooled, recorded["scene_cnn_sort_of_clevr/pooled"])
    _same(regions, recorded["scene_cnn_sort_of_clevr/regions"])
    _same(encoder.model(pixels)["region"], recorded["scene_cnn_sort_of_clevr/logits"])


def test_wrong_kind_and_old_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="holds a 'classifier' model, not a 'char_lm' one"):
        load_model("zfnet_fashion_mnist", "char_lm")
    ckpt = load_checkpoint(load_model("zfnet_fashion_mnist").path)
    old = {k: v for k, v in ckpt.items() if k not in ("model_name", "model_args")}
    save_checkpoint(tmp_path / "old.pt", old)
    with pytest.raises(UserError, match="older paperlab.*upgrade_checkpoints.py"):
        load_model(tmp_path / "old.pt")
