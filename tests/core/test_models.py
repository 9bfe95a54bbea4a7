"""The model registry (errors that list the valid names, lazy imports) and torchvision's networks."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from paperlab.errors import UserError
from paperlab.models import MODELS, create_model


def test_registry_errors_list_the_valid_names() -> None:
    assert {"zfnet", "alexnet", "vgg16"} <= set(MODELS.names())
    with pytest.raises(UserError, match="unknown model 'resnet9'.*alexnet, .*vgg16, .*zfnet"):
        create_model("resnet9")
    with pytest.raises(UserError, match="unknown key width.*channels"):
        create_model("zfnet", width=3)
    with pytest.raises(UserError, match="invalid value"):
        create_model("zfnet", dropout="lots")


def test_registries_import_their_families_at_the_first_lookup() -> None:
    """A task that loads one kind of checkpoint imports that family only, not every paper's."""
    code = """
import sys
import paperlab.learners.classifier, paperlab.papers.zeiler_fergus.zfnet
before = {m for m in ("paperlab.papers.vqa.learner", "paperlab.papers.vqa.models") if m in sys.modules}
from paperlab.learners import LEARNERS
from paperlab.models import MODELS
print(sorted(before), "vqa" in LEARNERS.names() and "lstm_q_i" in MODELS.names(), "paperlab.papers.vqa.learner" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "True", "True"]


def test_alexnet_adapts_to_the_data_and_refuses_tiny_inputs() -> None:
    m = create_model("alexnet", num_classes=10, in_channels=1, image_size=64)
    assert m(torch.randn(2, 1, 64, 64)).shape == (2, 10)
    with pytest.raises(UserError, match="data.resize"):
        create_model("alexnet", num_classes=10, in_channels=1, image_size=28)


def test_pretrained_weights_missing_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(UserError, match="never downloads.*vgg16-397923af.pth"):
        create_model("vgg16", weights="IMAGENET1K_V1", num_classes=1000)
    with pytest.raises(UserError, match="unknown weights 'FOO'"):
        create_model("vgg16", weights="FOO")
    with pytest.raises(UserError, match="does not exist"):
        create_model("vgg16", weights=str(tmp_path / "missing.pth"))
