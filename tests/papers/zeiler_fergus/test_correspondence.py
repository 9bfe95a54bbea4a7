"""Zeiler & Fergus Sec. 4.3, Table 1 (`paperlab correspond`): the sign-change consistency against a
hand computation, its invariances, the masks and random boxes, the task on a tiny trained run
(checked against the model's own forward pass), and one clear line for each kind of bad input."""

from __future__ import annotations

import itertools
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
from PIL import Image

from paperlab.config import conf_dir
from paperlab.engine.restore import load_model
from paperlab.interpret.stack import LayerStack
from paperlab.io.arrays import load_arrays
from paperlab.papers.zeiler_fergus import correspond
from paperlab.papers.zeiler_fergus.correspondence import (
    Box,
    consistency,
    correspondence,
    mean_sign_change,
    occlude,
    pair_sign_change,
    random_boxes,
)
from paperlab.tasks import train

# three occlusion effects of length 4; their signs: [1,-1,0,1], [1,1,0,-1], [0,-1,1,1]
EPS = torch.tensor([[1.0, -2.0, 0.0, 3.0], [2.0, 1.0, 0.0, -1.0], [0.0, -1.0, 5.0, 2.0]])


def test_sign_change_matches_a_hand_computation() -> None:
    # pair (0,1) differs at units 1 and 3: 2/4; (0,2) at units 0 and 2: 2/4 (0 vs 1 is a change);
    # (1,2) at all four units: 4/4
    assert pair_sign_change(EPS).tolist() == [0.5, 0.5, 1.0]
    # Delta sums H over ordered pairs i != j: each unordered pair twice
    assert consistency(EPS) == pytest.approx(2 * (0.5 + 0.5 + 1.0))
    # Table 1's mean: Delta / (N (N - 1)) = 4 / 6
    assert mean_sign_change(EPS) == pytest.approx(2 / 3)


def test_sign_change_invariances() -> None:
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(5, 40, generator=g)
    eps[eps.abs() < 0.5] = 0.0  # unchanged units, as a rectified layer has
    # the same effect in every image: perfectly consistent
    assert consistency(eps[:1].expand(5, -1)) == 0.0
    # only signs count: positive scaling of each image's effect, or flipping every sign, changes nothing
    scaled = eps * torch.rand(5, 1, generator=g).add(0.1)
    assert torch.equal(pair_sign_change(scaled), pair_sign_change(eps))
    assert torch.equal(pair_sign_change(-eps), pair_sign_change(eps))
    # the same units permuted in every image: the same distances; the images' order only permutes pairs
    perm = torch.randperm(40, generator=g)
    assert torch.allclose(pair_sign_change(eps[:, perm]), pair_sign_change(eps))
    assert consistency(eps.flip(0)) == pytest.approx(consistency(eps))
    # opposite effects disagree wherever anything changed
    both = torch.stack([eps[0], -eps[0]])
    assert pair_sign_change(both).item() == pytest.approx(float((eps[0] != 0).double().mean()))
    assert 0.0 <= mean_sign_change(eps) <= 1.0


def test_occlude_masks_exactly_each_images_box() -> None:
    images = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    out = occlude(images, [Box(1, 2, 2, 3), Box(4, 0, 2, 2)], fill=-1.0)
    expected = images.clone()
    expected[0, :, 1:3, 2:5] = -1.0
    expected[1, :, 4:6, 0:2] = -1.0
    assert torch.equal(out, expected) and not torch.equal(out, images)


def test_random_boxes_lie_on_the_object_inside_the_image_and_repeat_with_the_seed() -> None:
    pixels = torch.zeros(3, 1, 20, 20)
    pixels[:, :, 14:20, 0:5] = 1.0  # an object in the bottom left corner: boxes must be moved inside
    boxes = random_boxes(pixels, 6, 4, 0.5, torch.Generator().manual_seed(3))
    for b in boxes:
        b.check(20, 20, "box")
        assert pixels[0, 0, b.top : b.top + b.height, b.left : b.left + b.width].sum() > 0
    assert boxes == random_boxes(pixels, 6, 4, 0.5, torch.Generator().manual_seed(3))
    with raises_user_error("no pixel brighter than 0.5", "correspond.object_threshold"):
        random_boxes(torch.zeros(1, 1, 8, 8), 2, 2, 0.5, torch.Generator())


def test_identical_images_and_parts_are_perfectly_consistent() -> None:
    """The same image five times with the same box: every occlusion effect is the same, so the
    part's sign change is 0 at every layer, while random boxes (a new place per image) are not."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 3)).eval()
    stack = LayerStack(model)
    pixels = torch.rand(1, 1, 16, 16).expand(5, -1, -1, -1).clone()
    layers = dict([stack.resolve("conv1"), stack.resolve("penultimate")])
    res = correspondence(stack, pixels, pixels, {"part": [Box(4, 4, 5, 5)] * 5}, layers, draws=4, box=(5, 5),
                         threshold=0.0)
    for layer in layers:
        assert res.mean("part", layer) == 0.0 and res.changed("part", layer) > 0
    assert res.mean("random", "conv1") > 0 and res.random_below("part", "conv1") == 0.0
    assert res.pairs["random"]["conv1"].shape == (4, 10) and res.eps["random"]["penultimate"].shape == (4, 5, 8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ZFNet trained for a few steps on the IDX fixture (28 px inputs)."""
    tmp = tmp_path_factory.mktemp("zf_correspond")
    root = make_idx_set(tmp / "data")
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("train", [*tiny_train_overrides(root, epochs=1), "trainer.limit_train_batches=3"])
    train.run(cfg, run_dir=tmp / "run")
    return tmp / "run"


TINY = ["correspond.indices=[0,1,2]", "correspond.box=[6,6]", "correspond.random_draws=3",
        "correspond.parts={a:[[0,0],[2,2],[4,4]],b:[[20,10],[22,12],[10,22]]}"]


def _tiny(trained: Path, *more: str) -> list[str]:
    parts = [o for o in TINY if o.startswith("correspond.parts=")][0].removeprefix("correspond.parts=")
    return [f"checkpoint={trained}", *(o for o in TINY if not o.startswith("correspond.parts=")),
            "~correspond.parts", f"+correspond.parts={parts}", *more]


def test_task_writes_table1_and_it_matches_the_models_forward_pass(trained: Path, tmp_path: Path) -> None:
    cfg = task_config("correspond", _tiny(trained))
    run = tmp_path / "run"
    results = correspond.run(cfg, run_dir=run)
    assert (run / "figures" / "correspondence.png").stat().st_size > 10000
    assert json.loads((run / "results.json").read_text()) == results
    for part in ("a", "b", "random"):
        for layer in ("conv5", "penultimate"):
            assert 0.0 <= results[f"correspond/{part}_{layer}_mean"] <= 1.0
    arrays, attrs = load_arrays(run / "arrays" / "correspondence.h5")
    assert attrs["parts"] == "a, b" and attrs["layers"] == "conv5, penultimate"
    assert arrays["a/boxes"].tolist() == [[0, 0, 6, 6], [2, 2, 6, 6], [4, 4, 6, 6]]
    assert arrays["random/boxes"].shape == (3, 3, 4) and arrays["random/penultimate_eps"].shape == (3, 3, 16)
    # part a at the penultimate layer, recomputed with the model itself (features, then fc6-fc7)
    model = load_model(trained, "classifier").model
    x = torch.from_numpy(arrays["image"])
    masked = x.clone()
    for i, (top, left, h, w) in enumerate(arrays["a/boxes"]):
        masked[i, :, top : top + h, left : left + w] = 0.0
    with torch.no_grad():
        fc7 = model.classifier[:-1]
        eps = (fc7(model.features(x)) - fc7(model.features(masked))).numpy()
    assert np.allclose(arrays["a/penultimate_eps"], eps, atol=1e-6)
    signs = np.sign(eps)
    by_hand = [np.mean(signs[i] != signs[j]) for i, j in itertools.combinations(range(3), 2)]
    assert results["correspond/a_penultimate_mean"] == pytest.approx(np.mean(by_hand), abs=1e-4)
    assert results["correspond/a_penultimate_std"] == pytest.approx(np.std(by_hand), abs=1e-4)


@pytest.mark.parametrize("overrides,message", [
    (["correspond.parts.a=[[0,0],[2,2],[25,4]]"], "part 'a', image 2: the 6x6 box at [top=25, left=4] reaches outside "
                                                  "the 28x28 px image; keep 0 <= top <= 22 and 0 <= left <= 22"),
    (["correspond.parts.a=[[0,0],[2,2]]"], "correspond.parts.a has 2 boxes for 3 images"),
    (["correspond.parts.a=[[0,0],[2,2],[4]]"], "correspond.parts.a[2]=[4] is not [top, left]"),
    (["+correspond.parts.random=[[0,0],[2,2],[4,4]]"], "'random' is the control's name"),
    (["correspond.layers=[conv5,fc9]"], "no layer 'fc9'; valid layers: conv1, conv2, conv3, conv4, conv5"),
    (["correspond.box=[6]"], "correspond.box=[6] is not [height, width]"),
    (["correspond.indices=[0,1,99]"], "outside the test split"),
    (["correspond.indices=null"], "correspond needs images"),
])
def test_bad_input_is_one_clear_line(trained: Path, tmp_path: Path, overrides: list[str], message: str) -> None:
    cfg = task_config("correspond", _tiny(trained, *overrides))
    with raises_user_error(message):
        correspond.run(cfg, run_dir=tmp_path / "out")
    assert json.loads((tmp_path / "out" / "run.json").read_text())["status"] == "failed"


@pytest.mark.slow  # its --draws 0 case needs the config validation at launch (not yet on main)
def test_command_line_options_reach_the_task(trained: Path, tmp_path: Path) -> None:
    """--image and --draws become overrides; a bad value is one line before any run directory."""
    pngs = []
    for k in range(2):
        png = tmp_path / f"boot{k}.png"
        image = np.zeros((28, 28), dtype=np.uint8)
        image[8 + k : 22, 4:24] = 220
        Image.fromarray(image).save(png)
        pngs += ["--image", str(png)]
    r = run_cli("correspond", str(trained), *pngs, "--draws", "2", "correspond.box=[4,4]", "~correspond.parts",
                "+correspond.parts={sole:[[18,6],[18,6]]}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "correspond").glob("*/*")
    arrays, attrs = load_arrays(run / "arrays" / "correspondence.h5")
    assert arrays["random/boxes"].shape == (2, 2, 4) and attrs["names"].startswith("boot0")
    (tmp_path / "bad").mkdir()
    assert_user_error(run_cli("correspond", str(trained), "--draws", "0", cwd=tmp_path / "bad"),
                      "correspond.random_draws=0 must be >= 1")
    assert list((tmp_path / "bad").iterdir()) == []
