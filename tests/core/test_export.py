"""`paperlab export` never deletes what it was not asked to: the name is a plain folder name, the
new model is built completely before it is swapped in, an existing (or shipped) model is replaced
only with --force, and a read-only package makes it ask for --dest; models exported to the user's
models folder load by name."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from conftest import assert_user_error, raises_user_error, run_cli

import paperlab.engine.export as export
from paperlab.assets import ASSETS
from paperlab.engine.restore import load_model
from paperlab.io.atomic import write_json


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed run directory whose best.pt is the shipped scene CNN's checkpoint."""
    run = tmp_path_factory.mktemp("export") / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copyfile(ASSETS / "scene_cnn_sort_of_clevr" / "model.pt", run / "checkpoints" / "best.pt")
    write_json(run / "run.json", {"task": "train", "status": "completed", "argv": ["paperlab", "train"],
                                  "overrides": ["trainer.max_epochs=1"]})
    write_json(run / "results.json", {"val/top1_err": 12.5})
    return run


def _model(folder: Path, marker: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.pt").write_text(marker)
    return folder


@pytest.mark.parametrize("name", ["../../victim", "<absolute>", "..", "a/b", "", "9lives", "with space"])
def test_a_name_that_is_not_a_plain_name_is_refused_and_nothing_is_touched(finished_run: Path, tmp_path: Path,
                                                                          name: str) -> None:
    victim = _model(tmp_path / "victim", "keep me")
    name = str(victim) if name == "<absolute>" else name
    dest = tmp_path / "assets" / "models"
    dest.mkdir(parents=True)
    with raises_user_error("is not a model name", "letters, digits and _"):
        export.export_run(finished_run, name, dest=dest)
    assert (victim / "model.pt").read_text() == "keep me"
    assert list(dest.iterdir()) == []


def test_an_existing_model_is_replaced_only_with_force(finished_run: Path, tmp_path: Path) -> None:
    old = _model(tmp_path / "mine", "old weights")
    (old / "snapshots").mkdir()
    with raises_user_error("a model called 'mine' exists already", "--force"):
        export.export_run(finished_run, "mine", dest=tmp_path)
    assert (old / "model.pt").read_text() == "old weights"
    out = export.export_run(finished_run, "mine", dest=tmp_path, force=True, note="second try")
    assert out == old and sorted(p.name for p in out.iterdir()) == ["model.json", "model.pt"]
    meta = json.loads((out / "model.json").read_text())
    assert meta["note"] == "second try" and meta["metrics"] == {"val/top1_err": 12.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder left


def test_a_shipped_name_needs_force_even_elsewhere(finished_run: Path, tmp_path: Path) -> None:
    with raises_user_error("'zfnet_fashion_mnist' is a model paperlab ships", "--force"):
        export.export_run(finished_run, "zfnet_fashion_mnist", dest=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_keeps_the_model_it_would_replace(finished_run: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    old = _model(tmp_path / "mine", "old weights")

    def disk_full(path: Path, obj: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(export, "write_json", disk_full)  # model.pt is written, model.json is not
    with raises_user_error("no space left on device"):
        export.export_run(finished_run, "mine", dest=tmp_path, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    assert (old / "model.pt").read_text() == "old weights" and not (old / "model.json").exists()


def test_a_read_only_package_asks_for_dest(finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == ASSETS else real_access(p, mode))
    with raises_user_error("assets folder", "is not writable", "--dest"):
        export.export_run(finished_run, "mine")


def test_a_model_exported_to_the_users_folder_loads_by_name_and_is_readable_by_others(
        finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("PAPERLAB_MODELS", str(models))
    mask = os.umask(0o022)
    try:
        out = export.export_run(finished_run, "my_scene_cnn", dest=models)
    finally:
        os.umask(mask)
    loaded = load_model("my_scene_cnn", kind="scene_encoder")
    assert loaded.path == out / "model.pt"
    shipped = load_model("scene_cnn_sort_of_clevr")
    for a, b in zip(loaded.model.state_dict().values(), shipped.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert {oct(p.stat().st_mode & 0o777) for p in (out, out / "model.pt", out / "model.json")} == {"0o755", "0o644"}
    with raises_user_error("my_scene_cnn"):  # unknown names list the user's models too
        load_model("not_a_model")


def test_the_command_line_refuses_a_path_as_name(finished_run: Path, tmp_path: Path) -> None:
    victim = _model(tmp_path / "victim", "keep me")
    r = run_cli("export", str(finished_run), "../../victim", cwd=tmp_path)
    assert_user_error(r, "'../../victim' is not a model name")
    assert (victim / "model.pt").read_text() == "keep me"
