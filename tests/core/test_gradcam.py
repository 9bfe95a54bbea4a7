"""Grad-CAM and neuron importance: against pytorch-grad-cam, hand-computed and finite-difference
gradients; hooks always removed; `paperlab gradcam` end to end and its bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import raises_user_error, run_cli, task_config
from PIL import Image
from torch import nn

from paperlab.engine.checkpoint import save_checkpoint
from paperlab.errors import UserError
from paperlab.interpret.gradcam import GradCAM, conv_aliases, resolve_layer
from paperlab.interpret.importance import importance_jacobian, neuron_importances
from paperlab.models import create_model


def tiny_zfnet(classes: int = 5, channels: int = 3, size: int = 32) -> nn.Module:
    torch.manual_seed(0)
    return create_model("zfnet", channels=[4, 6, 8, 8, 6], hidden=12, num_classes=classes, in_channels=channels,
                        image_size=size).eval()


@pytest.mark.parametrize("layer", ["conv5", "conv3", "features.12"])
@pytest.mark.parametrize("targets", ["given", "predicted"])
def test_gradcam_equals_pytorch_grad_cam(layer: str, targets: str) -> None:
    from pytorch_grad_cam import GradCAM as ReferenceGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = tiny_zfnet()
    x = torch.randn(6, 3, 32, 32)
    t = torch.tensor([0, 1, 2, 3, 4, 2]) if targets == "given" else None
    with GradCAM(model, layer) as cam:
        ours = cam(x, t)
    module = dict(model.named_modules())[conv_aliases(model).get(layer, layer)]
    with ReferenceGradCAM(model, target_layers=[module]) as ref:
        theirs = ref(x, targets=None if t is None else [ClassifierOutputTarget(int(c)) for c in t])
    assert ours.shape == (6, 32, 32)
    assert np.abs(ours.numpy() - theirs).max() <= 1e-5
    assert ours.min() >= 0 and ours.max() <= 1


def test_importance_of_a_linear_readout_is_its_weight_over_the_map_area() -> None:
    # y = W avgpool(A) + b  =>  dy_c/dA_kij = W_ck / (H W) everywhere  =>  alpha_ck = W_ck / (H W)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(3, 4))
    x = torch.randn(5, 2, 6, 7)
    y = torch.tensor([0, 1, 2, 3, 1])
    alpha = neuron_importances(model, "1", [(x, y)])
    expected = model[4].weight[y] / (6 * 7)
    torch.testing.assert_close(alpha, expected.detach(), rtol=1e-6, atol=1e-9)


def test_importance_matches_finite_differences() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 2, 3), nn.Tanh(), nn.Flatten(),
                          nn.Linear(2 * 3 * 3, 4)).double()
    x = torch.randn(2, 1, 5, 5, dtype=torch.float64)
    alpha = neuron_importances(model, "1", [(x, 2)])
    delta = {"value": None}
    model[1].register_forward_hook(lambda m, i, out: out + delta["value"] if delta["value"] is not None else None)
    eps, numeric = 1e-6, torch.zeros_like(alpha)
    with torch.no_grad():
        for k in range(3):
            for i in range(5):
                for j in range(5):
                    bump = torch.zeros(1, 3, 5, 5, dtype=torch.float64)
                    bump[0, k, i, j] = eps
                    delta["value"] = bump
                    up = model(x)[:, 2]
                    delta["value"] = -bump
                    down = model(x)[:, 2]
                    numeric[:, k] += (up - down) / (2 * eps) / 25
    torch.testing.assert_close(alpha, numeric, rtol=1e-5, atol=1e-8)


def test_importance_jacobian_gives_the_importance_of_any_new_class_row() -> None:
    model = tiny_zfnet()
    x = torch.randn(4, 3, 32, 32)
    jac = importance_jacobian(model, "conv5", x)
    head = model.classifier[-1]
    for c in range(3):
        with GradCAM(model, "conv5") as cam:
            direct = cam.attribute(x, c).weights
        torch.testing.assert_close(torch.einsum("bdk,d->bk", jac, head.weight[c].detach()), direct, rtol=1e-4, atol=1e-7)


def test_hooks_are_removed_after_use_and_after_an_exception() -> None:
    model = tiny_zfnet()
    model.train()
    layer = dict(model.named_modules())["features.13"]
    with GradCAM(model, "conv5") as cam:
        assert len(layer._forward_hooks) == 1 and not model.training
        cam(torch.randn(2, 3, 32, 32))
    assert len(layer._forward_hooks) == 0 and model.training
    with pytest.raises(RuntimeError, match="boom"), GradCAM(model, "conv5"):
        raise RuntimeError("boom")
    assert len(layer._forward_hooks) == 0
    with pytest.raises(RuntimeError), GradCAM(model, "conv5") as cam:
        cam(torch.randn(2, 5, 32, 32))  # wrong channel count fails inside the forward pass
    assert len(layer._forward_hooks) == 0
    with pytest.raises(RuntimeError):
        importance_jacobian(model, "conv5", torch.randn(1, 7, 32, 32))
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_unknown_and_non_spatial_layers_are_clear_errors() -> None:
    model = tiny_zfnet()
    with pytest.raises(UserError, match=r"unknown layer 'conv9'.*conv1 \(features.1\).*conv5 \(features.13\)"):
        resolve_layer(model, "conv9")
    assert resolve_layer(model, "last")[0] == "features.13"
    with pytest.raises(UserError, match="not .* feature maps"), GradCAM(model, "classifier.2") as cam:
        cam(torch.randn(1, 3, 32, 32))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier checkpoint as `paperlab train` writes it (untrained tiny ZFNet on 28 px grey)."""
    where = tmp_path_factory.mktemp("ckpt")
    model = tiny_zfnet(classes=3, channels=1, size=28)
    info = {"num_classes": 3, "in_channels": 1, "image_size": 28, "class_names": ["boot", "bag", "shirt"],
            "mean": [0.3], "std": [0.3]}
    config = {"learner": "classifier", "model": {"name": "zfnet", "channels": [4, 6, 8, 8, 6], "hidden": 12}}
    save_checkpoint(where / "run" / "checkpoints" / "best.pt",
                    {"learner": "classifier", "model": model.state_dict(), "model_name": model.spec.name,
                     "model_args": model.spec.args, "config": config, "extras": info})
    for k, size in enumerate((28, 40)):
        Image.fromarray((np.random.default_rng(k).random((size, size, 3)) * 255).astype(np.uint8)).save(where / f"im{k}.png")
    return where


def test_gradcam_command_writes_overlays_and_maps(checkpoint: Path) -> None:
    from paperlab.io.arrays import load_arrays

    r = run_cli("gradcam", str(checkpoint / "run"), str(checkpoint / "im0.png"), str(checkpoint / "im1.png"),
                "--layer", "conv4", "--target", "bag", "gradcam.alpha=0.4", cwd=checkpoint)
    assert r.returncode == 0, r.stderr[-2000:]
    (run,) = (checkpoint / "outputs" / "gradcam" / "gradcam").iterdir()
    assert {p.name for p in (run / "figures").iterdir()} == {"000_im0.png", "001_im1.png", "gradcam.png"}
    arrays, attrs = load_arrays(run / "arrays" / "gradcam.h5")
    assert arrays["maps"].shape == (2, 28, 28) and attrs["layer"] == "features.11"
    assert (arrays["targets"] == 1).all()
    results = json.loads((run / "results.json").read_text())
    assert results["im0/explained"] == "bag"


def gradcam_config(where: Path, images: list[Path], layer: str = "last"):
    """The config of `paperlab gradcam WHERE IMAGES... --layer LAYER` (its overrides, as the CLI writes them)."""
    from paperlab.overrides import quoted, quoted_list

    return task_config("gradcam", [f"checkpoint={quoted(str(where))}", f"gradcam.images={quoted_list([str(p) for p in images])}",
                                   f"gradcam.layer={quoted(layer)}"])


def test_gradcam_command_bad_inputs(checkpoint: Path, tmp_path: Path) -> None:
    from paperlab.tasks import gradcam

    with raises_user_error("image(s) not found", "missing.png"):
        gradcam.run(gradcam_config(checkpoint / "run", [checkpoint / "missing.png"]), run_dir=tmp_path / "a")
    with raises_user_error("unknown layer 'conv7'", "conv5 (features.13)"):
        gradcam.run(gradcam_config(checkpoint / "run", [checkpoint / "im0.png"], "conv7"), run_dir=tmp_path / "b")
