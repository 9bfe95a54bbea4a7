"""Config values are checked once, where the command composes its config (paperlab.config's typed
schemas with ranges): a bad value is one line naming its key, exit 2, and no run directory; a
mistyped option is one line suggesting the option or override meant."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_user_error, raises_user_error, run_cli

from paperlab.config import (
    SCHEMAS,
    above,
    at_least,
    checked,
    conf_dir,
    config_options,
    one_of,
    to_dataclass,
    validate_config,
)
from paperlab.launch import composed, split_args


@dataclasses.dataclass
class _Node:
    count: int = at_least(1, default=3)
    size: int | None = at_least(1, default=None)
    rate: float = above(0, default=0.5)
    biases: list[float] = at_least(0, default_factory=lambda: [1.0])
    mode: str = one_of("a", "b", default="a")
    maps: Any = checked(lambda v: None if v == "all" or (isinstance(v, int) and v > 0) else "is not a count",
                        default="all")


@pytest.mark.parametrize(("value", "message"), [
    ({"count": 0}, "node.count=0 must be >= 1; set node.count to 1 or more"),
    ({"count": -4}, "node.count=-4 must be >= 1"),
    ({"size": -1}, "node.size=-1 must be >= 1"),
    ({"rate": 0.0}, "node.rate=0.0 must be > 0; set node.rate above 0"),
    ({"rate": float("nan")}, "node.rate=nan is not a number"),
    ({"biases": [1.0, -2.0]}, "node.biases=[1.0,-2.0] must be >= 0 (each of them)"),
    ({"mode": "c"}, "node.mode=c is not a choice; use node.mode=a|b"),
    ({"maps": 0}, "node.maps=0 is not a count; fix node.maps"),
    ({"count": "many"}, "invalid value for node.count: Value 'many' of type 'str' could not be converted to Integer"),
])
def test_ranges_in_field_metadata_are_one_line_naming_the_key(value: dict[str, Any], message: str) -> None:
    with raises_user_error(message):
        to_dataclass(_Node, value, where="node")


def test_values_in_range_and_null_pass() -> None:
    node = to_dataclass(_Node, {"count": 1, "size": None, "rate": 1e-9, "biases": [0.0], "mode": "b", "maps": 7},
                        where="node")
    assert (node.count, node.size, node.biases, node.maps) == (1, None, [0.0], 7)


def _import_every_command() -> None:
    import paperlab.papers
    import paperlab.tasks
    from paperlab.learners import LEARNERS

    for package in (paperlab.tasks, paperlab.papers):
        for mod in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(mod.name)
    LEARNERS.names()


def test_every_command_default_passes_its_schemas() -> None:
    """The schemas and the YAML files agree: each command's config, as shipped, is valid (a key
    renamed in one but not the other fails here)."""
    _import_every_command()
    assert {"trainer", "legibility", "visualize", "occlude", "invariance", "zsl"} <= {node for _, node in SCHEMAS}
    for primary in sorted(p.stem for p in conf_dir().glob("*.yaml") if p.stem != "base"):
        with composed(primary, []) as cfg:
            validate_config(cfg, primary)


@pytest.mark.slow
def test_every_experiment_passes_the_schemas() -> None:
    _import_every_command()
    for experiment in config_options("experiment"):
        with composed("train", [f"experiment={experiment}"]) as cfg:
            validate_config(cfg, "train")


# Each case: the command line as typed, what its one line must say. None of them may leave a run
# directory: the values are checked before paperlab makes one.
BAD_VALUES = [
    (["train", "trainer.batch_size=0"], "trainer.batch_size=0 must be >= 1"),
    (["train", "trainer.batch_size=-4"], "trainer.batch_size=-4 must be >= 1"),
    (["train", "trainer.limit_train_batches=-1"], "trainer.limit_train_batches=-1 must be >= 1"),
    (["train", "trainer.loggers=[csv,wandb]"], "unknown logger 'wandb' in trainer.loggers"),
    (["train", "-m", "trainer.batch_size=16,0"], "trainer.batch_size=0 must be >= 1"),  # every job of a sweep
    (["train", "learner=nope"], "unknown learner 'nope'"),
    (["legibility", "legibility.lines=-3"], "legibility.lines=-3 must be >= 1"),
    (["visualize", "visualize.maps=0"], "visualize.maps=0 is not a count >= 1, a list of map indices or all"),
    (["occlude", "--size", "0"], "occlude.size=0 must be >= 1"),
    (["invariance", "invariance.steps=1"], "invariance.steps=1 must be >= 2"),
    (["sample-handwriting", "--points", "0", "--unconditional"], "sample.points=0 must be >= 1"),
    (["sample-text", "--temperature", "0"], "temperature=0.0 must be > 0"),
    (["zsl", "zsl.transfer.batch_size=0"], "zsl.transfer.batch_size=0 must be >= 1"),
    (["vqa-baselines", "data=fashion_mnist"], "data=fashion_mnist is not a VQA dataset; use data=<name> with one of: "
                                              "easy_vqa, sort_of_clevr, vqa_v1, vqa_v2"),
    (["vqa-baselines", "nearest_neighbor.k=0"], "nearest_neighbor.k=0 must be >= 1"),
    (["train", "model=zfnet", "model.dropout=1.5"], "model.dropout=1.5 must be <= 1"),  # was torch's ValueError, in a run dir
]


@pytest.mark.parametrize(("args", "message"), BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_a_bad_value_is_one_line_and_leaves_no_run_directory(args: list[str], message: str, tmp_path: Path) -> None:
    assert_user_error(run_cli(*args, cwd=tmp_path), message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--max-epochs", "3"], "unknown option --max-epochs; did you mean trainer.max_epochs=3?"),
    (["train", "--batch-size=16"], "unknown option --batch-size; did you mean trainer.batch_size=16?"),
    (["occlude", "--sise", "3"], "unknown option --sise; did you mean --size 3?"),
    (["gradcam", "--targt", "3", "zfnet_fashion_mnist"], "unknown option --targt; did you mean --target?"),
    (["sample-text", "--temp", "0.5"], "unknown option --temp; did you mean --temperature 0.5?"),
    (["sample-handwriting", "--paper-bais"], "unknown option --paper-bais; did you mean --paper-bias?"),
    (["sample-handwriting", "--strid=4"], "unknown option --strid; paperlab sample-handwriting takes the options "
                                          "--text, --bias,"),
])
def test_a_mistyped_option_suggests_what_was_meant(args: list[str], message: str, tmp_path: Path) -> None:
    assert_user_error(run_cli(*args, cwd=tmp_path), message)
    assert list(tmp_path.iterdir()) == []


def test_hydra_flags_and_overrides_still_split() -> None:
    assert split_args(["-m", "a=1", "--cfg", "job", "-p", "trainer", "b=2"], "train") == (
        ["-m", "--cfg", "job", "-p", "trainer"], ["a=1", "b=2"])
    with raises_user_error("unknown option --max-epochs; did you mean trainer.max_epochs=3?"):
        split_args(["--max-epochs", "3"], "train")



def test_a_non_ascii_path_is_quoted_for_hydra() -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    _, overrides = split_args(["hydra.run.dir=wörk/myé", "+note=café,thé", "a=b"], "train")
    assert overrides == ['hydra.run.dir="wörk/myé"', "+note=café,thé", "a=b"]  # a sweep keeps its syntax
    parsed = OverridesParser.create().parse_overrides(overrides[:1])
    assert parsed[0].value() == "wörk/myé"


def test_a_prime_strokes_file_that_is_no_offset_array_is_one_line(tmp_path: Path) -> None:
    import pickle

    import numpy as np

    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "pickled.npy").write_bytes(pickle.dumps([[0.0, 0.0, 1.0]]))
    np.save(tmp_path / "pairs.npy", np.zeros((5, 2)))
    expected = "give a .npy file of a (T, 3) float array of pen offsets, rows (dx, dy, end_of_stroke), from numpy.save"
    for name, problem in (("objects.npy", "is not a numeric numpy array"), ("pickled.npy", "is not a numeric numpy array"),
                          ("pairs.npy", "holds an array of shape (5, 2)")):
        r = run_cli("sample-handwriting", "--text", "hi", "--prime-strokes", str(tmp_path / name), "--prime-text", "hi",
                    "hydra.run.dir=run", cwd=tmp_path)
        assert_user_error(r, f"--prime-strokes {tmp_path / name} {problem}", expected)
        shutil.rmtree(tmp_path / "run")
