"""`paperlab visualize`, `occlude` and `invariance` on a tiny trained run (IDX fixture): what each
writes and that it is right, and one clear line for each kind of bad input. `visualize` and the
typed options of `occlude` go through the command line; the rest runs each task in process on the
config the command line composes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import (
    assert_user_error,
    make_idx_set,
    raises_user_error,
    run_cli,
    task_config,
    tiny_train_overrides,
)
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image

from paperlab.config import conf_dir
from paperlab.data import build_data
from paperlab.engine.restore import load_model
from paperlab.errors import UserError
from paperlab.interpret.occlusion import positions
from paperlab.io.arrays import load_arrays
from paperlab.papers.zeiler_fergus import invariance, occlude, visualize
from paperlab.tasks import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch tiny ZFNet run with a snapshot after epoch 1 (for --evolution)."""
    tmp = tmp_path_factory.mktemp("zf")
    root = make_idx_set(tmp / "data")
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("train", [*tiny_train_overrides(root, epochs=2), "trainer.snapshot_epochs=[1]"])
    train.run(cfg, run_dir=tmp / "run")
    return tmp / "run"


def only_run(cwd: Path, task: str) -> Path:
    runs = list((cwd / "outputs" / task).glob("*/*"))
    assert len(runs) == 1, runs
    return runs[0]


def test_visualize_writes_fig2_top9_and_fig4_evolution(trained: Path, tmp_path: Path) -> None:
    r = run_cli("visualize", str(trained), "--evolution", "visualize.maps=2", "visualize.evolution_maps=1",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    run = only_run(tmp_path, "visualize")
    for name in ("top9.png", "layer1_filters.png", "evolution.png", *(f"top9_conv{k}.png" for k in range(1, 6))):
        assert (run / "figures" / name).stat().st_size > 5000, name
    arrays, attrs = load_arrays(run / "arrays" / "top9.h5")
    assert attrs["images"] == 16 and attrs["conv1_receptive_field"] == 5
    assert arrays["conv3/top_value"].shape == (8, 9) and arrays["conv3/maps"].shape == (2,)
    assert arrays["conv3/projection"].shape[:3] == (2, 9, 1)
    # each patch is the image's window at its origin, in pixels: check one against the dataset
    ckpt = torch.load(trained / "checkpoints" / "best.pt", weights_only=True)
    val = build_data(OmegaConf.create(ckpt["config"]["data"])).splits["val"]
    for layer in ("conv1", "conv4"):
        m, k = 1, 4
        image = int(arrays[f"{layer}/top_image"][arrays[f"{layer}/maps"][m], k])
        top, left = arrays[f"{layer}/origin"][m, k]
        h, w = arrays[f"{layer}/patch"].shape[-2:]
        pixels = val.images[image, 0].float() / 255
        assert np.allclose(arrays[f"{layer}/patch"][m, k, 0], pixels[top : top + h, left : left + w], atol=1e-5)
        assert np.abs(arrays[f"{layer}/projection"][m, k]).max() > 0
    evo, evo_attrs = load_arrays(run / "arrays" / "evolution.h5")
    assert evo["epochs"].tolist() == [1, 2]  # the epoch-1 snapshot, then last.pt
    assert evo["conv5/projection"].shape[:3] == (1, 2, 1)
    assert (evo["conv5/activation"] > 0).all()
    results = json.loads((run / "results.json").read_text())
    assert results["visualize/images"] == 16 and results["visualize/evolution_epochs"] == 2


def test_occlude_writes_fig7_maps(trained: Path, tmp_path: Path) -> None:
    # `paperlab occlude RUN --size 8 --stride 4 occlude.num_images=2`
    cfg = task_config("occlude", ["occlude.num_images=2", f"checkpoint={trained}", "occlude.size=8", "occlude.stride=4"])
    run = tmp_path / "run"
    occlude.run(cfg, run_dir=run)
    assert (run / "figures" / "occlusion.png").stat().st_size > 5000
    arrays, attrs = load_arrays(run / "arrays" / "occlusion.h5")
    names = sorted({k.split("/")[0] for k in arrays})
    assert len(names) == 2 and attrs["size"] == 8 and attrs["layer"] == "conv5"
    n = len(positions(28, 8, 4))
    model = load_model(trained, "classifier").model
    for name in names:
        prob = arrays[f"{name}/probability"]
        assert prob.shape == (n, n) and ((prob >= 0) & (prob <= 1)).all()
        assert arrays[f"{name}/top_class"].shape == (n, n)
        # one position checked against the model on the occluded image
        x = torch.from_numpy(arrays[f"{name}/image"])[None].clone()
        x[:, :, 4:12, 8:16] = 0.0
        with torch.no_grad():
            p = model(x).softmax(-1)[0, int(attrs[f"{name}_target"])]
        assert abs(float(p) - prob[1, 2]) < 1e-5
    results = json.loads((run / "results.json").read_text())
    assert all(results[f"occlude/{name}_p_min"] <= results[f"occlude/{name}_p_clean"] + 1e-6 for name in names)


def test_invariance_writes_fig5_curves(trained: Path, tmp_path: Path) -> None:
    # `paperlab invariance RUN invariance.steps=3 invariance.num_images=2`
    cfg = task_config("invariance", ["invariance.steps=3", "invariance.num_images=2", f"checkpoint={trained}"])
    run = tmp_path / "run"
    invariance.run(cfg, run_dir=run)
    assert (run / "figures" / "invariance.png").stat().st_size > 5000
    arrays, _ = load_arrays(run / "arrays" / "invariance.h5")
    assert np.allclose(arrays["translate/amount"], [-7.56, 0.0, 7.56])
    assert np.allclose(arrays["rotate/amount"], [0.0, 175.0, 350.0])
    for kind in ("translate", "scale", "rotate"):
        assert arrays[f"{kind}/conv1_distance"].shape == (2, 3)
        assert arrays[f"{kind}/penultimate_distance"].shape == (2, 3)
    assert np.allclose(arrays["translate/conv1_distance"][:, 1], 0)  # the untransformed image
    assert np.allclose(arrays["scale/penultimate_distance"][:, 0], 0)


def test_typed_options_reach_the_task_and_bad_ones_are_one_clear_line(trained: Path, tmp_path: Path) -> None:
    """--image and --size become overrides of the task (the command line's own work): a bad value
    of each is the task's one line on stderr, exit code 2."""
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert_user_error(run_cli("occlude", str(trained), "--image", str(broken), cwd=tmp_path),
                      f"cannot read image {broken}")
    assert_user_error(run_cli("occlude", str(trained), "--size", "40", cwd=tmp_path),
                      "occluder (40 px) is larger than the image (28 px)")


def test_bad_input_is_one_clear_line(trained: Path, tmp_path: Path) -> None:
    cfg = task_config("visualize", ["visualize.layers=[conv9]", f"checkpoint={trained}"])
    with raises_user_error("no layer 'conv9'", "conv1, conv2, conv3, conv4, conv5"):
        visualize.run(cfg, run_dir=tmp_path / "a")
    (tmp_path / "empty_run").mkdir()
    with raises_user_error("has no checkpoint"):
        invariance.run(task_config("invariance", [f"checkpoint={tmp_path / 'empty_run'}"]), run_dir=tmp_path / "b")


@pytest.mark.parametrize("task,module,overrides,message", [
    ("visualize", visualize, ["visualize.maps=[99]"], "conv1 has no feature map 99"),
    ("visualize", visualize, ["visualize.evolution=true", "checkpoint={best}"], "--evolution needs a training run"),
    ("occlude", occlude, ["occlude.images=[{missing}]"], "(no such file)"),
    ("occlude", occlude, ["occlude.indices=[5000]"], "outside the val split"),
    ("invariance", invariance, ["invariance.labels=[Hat]", "invariance.images=[{png}]"], "unknown class 'Hat'"),
    ("invariance", invariance, ["invariance.layers=[fc9]"], "no layer 'fc9'"),
    ("occlude", occlude, ["model=alexnet"], "model=alexnet needs pretrained weights"),
    ("occlude", occlude, ["model=alexnet", "model.weights=IMAGENET1K_V1"], "are not on this machine"),
])
def test_more_bad_input(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task, module, overrides,
                        message) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached ImageNet weights
    png = tmp_path / "shirt.png"
    Image.fromarray(np.full((28, 28), 200, dtype=np.uint8)).save(png)
    fill = {"best": trained / "checkpoints" / "best.pt", "missing": tmp_path / "nope.png", "png": png}
    cfg = task_config(task, [f"checkpoint={trained}", *(o.format(**fill) for o in overrides)])
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        module.run(cfg, run_dir=tmp_path / "out")
    assert json.loads((tmp_path / "out" / "run.json").read_text())["status"] == "failed"


def test_image_files_are_read_in_the_model_format(trained: Path, tmp_path: Path) -> None:
    """A colour image of another size becomes a grey 28 px input; no label: the predicted class."""
    png = tmp_path / "wide.png"
    rgb = np.zeros((40, 60, 3), dtype=np.uint8)
    rgb[5:35, 20:40] = (255, 255, 255)
    Image.fromarray(rgb).save(png)
    cfg = task_config("occlude", [f"checkpoint={trained}", f"occlude.images=[{png}]", "occlude.stride=4"])
    results = occlude.run(cfg, run_dir=tmp_path / "out")
    arrays, attrs = load_arrays(tmp_path / "out" / "arrays" / "occlusion.h5")
    x = arrays["wide/image"]
    assert x.shape == (1, 28, 28)
    loaded = load_model(trained, "classifier")
    model, info = loaded.model, loaded.extras
    pixels = x * np.array(info.std) + np.array(info.mean)
    assert np.allclose(pixels[0, 14, 14], 1.0, atol=1e-5) and np.allclose(pixels[0, 14, 1], 0.0, atol=1e-5)
    with torch.no_grad():
        p = model(torch.from_numpy(x)[None]).softmax(-1)[0]
    assert attrs["wide_target"] == int(p.argmax()) and abs(results["occlude/wide_p_clean"] - float(p.max())) < 1e-4


def test_shipped_model_occludes_an_image_file(tmp_path: Path) -> None:
    """The default network (paperlab/assets/zfnet_fashion_mnist) on an image file: no dataset needed."""
    png = tmp_path / "boot.png"
    boot = np.zeros((28, 28), dtype=np.uint8)
    boot[6:22, 14:22] = 230  # shaft
    boot[16:22, 4:22] = 230  # foot
    Image.fromarray(boot).save(png)
    cfg = task_config("occlude", [f"occlude.images=[{png}]"])
    assert cfg.checkpoint == "zfnet_fashion_mnist"
    results = occlude.run(cfg, run_dir=tmp_path / "out")
    arrays, attrs = load_arrays(tmp_path / "out" / "arrays" / "occlusion.h5")
    assert arrays["boot/probability"].shape == (11, 11) and attrs["source"].endswith("zfnet_fashion_mnist/model.pt")
    assert 0 <= results["occlude/boot_p_min"] <= results["occlude/boot_p_clean"] <= 1


def test_shipped_model_has_snapshots_for_evolution() -> None:
    epochs = visualize.snapshots("zfnet_fashion_mnist")
    assert [e for e, _ in epochs] == [1, 2, 5, 7] and epochs[-1][1].name == "model.pt"


@pytest.mark.slow
def test_default_commands_reproduce_the_papers_observations(tmp_path: Path) -> None:
    """On the shipped ZFNet and Fashion-MNIST: occluding the object can flip the decision (Fig. 7);
    layer 1 moves more than the penultimate layer under small translations, and rotation hurts the
    output far more than translation (Fig. 5)."""
    occlude.run(task_config("occlude", []), run_dir=tmp_path / "occlude")
    occ = json.loads((tmp_path / "occlude" / "results.json").read_text())
    assert min(v for k, v in occ.items() if k.endswith("_p_min")) < 0.1
    invariance.run(task_config("invariance", []), run_dir=tmp_path / "invariance")
    inv = json.loads((tmp_path / "invariance" / "results.json").read_text())
    assert inv["invariance/translate_penultimate_rel_distance"] < inv["invariance/translate_conv1_rel_distance"]
    assert inv["invariance/rotate_p_true_mean"] < inv["invariance/translate_p_true_mean"] - 0.2
