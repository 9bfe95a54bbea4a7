"""`paperlab` end to end in a temp dir: a training run and everything its run directory holds,
sweeps, listing, and one clear line for each kind of bad input (the command line's own checks
through the CLI; the task's, in process on the config the CLI composes)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py  # noqa: F401  (the run dir's arrays are HDF5; imported to fail early if missing)
import pytest
import torch
from conftest import (
    assert_user_error,
    raises_user_error,
    run_cli,
    task_config,
    tiny_train_overrides,
)

from paperlab.tasks import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One tiny `paperlab train` run shared by the tests below: (cwd, run dir)."""
    from conftest import make_idx_set

    cwd = tmp_path_factory.mktemp("cli")
    root = make_idx_set(cwd / "data")
    r = run_cli("train", *tiny_train_overrides(root), "trainer.snapshot_epochs=[1,2,5]", cwd=cwd)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = list((cwd / "outputs" / "train" / "zfnet_fashion_mnist").iterdir())
    assert len(runs) == 1
    return cwd, runs[0]


def test_train_writes_the_whole_run_directory(trained: tuple[Path, Path]) -> None:
    _, run = trained
    for rel in (".hydra/config.yaml", ".hydra/overrides.yaml", ".hydra/hydra.yaml", "train.log", "run.json",
                "metrics.jsonl", "metrics.csv", "results.json", "checkpoints/last.pt", "checkpoints/best.pt",
                "checkpoints/snapshots/epoch_001.pt", "checkpoints/snapshots/epoch_002.pt",
                "figures/training_curves.png", "figures/layer1_filters.png"):
        assert (run / rel).is_file(), rel
    assert not (run / "checkpoints/snapshots/epoch_005.pt").exists()  # only epochs within the run
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["task"] == "train" and info["device"] == "cpu"
    assert set(info["versions"]) >= {"python", "torch", "paperlab"} and "sha" in info["git"]
    assert info["argv"][1:3] == ["-m", "paperlab"] or "train" in info["argv"]
    results = json.loads((run / "results.json").read_text())
    assert {"val/top1_err", "val/top5_err", "test/top1_err", "test/top5_err", "test/loss"} <= set(results)
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    epochs = [r for r in rows if r["val/top1_err"] and not r["final"]]
    assert [r["epoch"] for r in epochs] == ["1", "2"]
    ckpt = torch.load(run / "checkpoints/last.pt", weights_only=True)
    assert ckpt["trainer"]["epoch"] == 2 and ckpt["extras"]["num_classes"] == 10
    assert ckpt["model_name"] == "zfnet" and ckpt["model_args"]["num_classes"] == 10 and set(ckpt["optimizers"]) == {"main"}


def test_runs_and_list_show_what_exists(trained: tuple[Path, Path]) -> None:
    cwd, run = trained
    r = run_cli("runs", cwd=cwd)
    assert r.returncode == 0 and "zfnet_fashion_mnist" in r.stdout and "completed" in r.stdout
    assert "test/top1_err" in r.stdout
    r = run_cli("list", "models")
    assert r.returncode == 0 and all(m in r.stdout for m in ("zfnet", "alexnet", "vgg16"))
    r = run_cli("list", "experiments")
    assert "zfnet_imagenet" in r.stdout
    assert_user_error(run_cli("list", "colours"), "cannot list 'colours'", "models")


def test_help_lists_every_command_and_each_command_shows_its_options_and_examples(tmp_path: Path) -> None:
    r = run_cli("--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    for command in ("train", "visualize", "occlude", "invariance", "gradcam", "zsl", "sample-text",
                    "sample-handwriting", "legibility", "vqa-eval", "vqa-baselines", "runs", "list", "export"):
        assert f" {command} " in r.stdout, command
    r = run_cli("occlude", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert all(o in r.stdout for o in ("--size", "--stride", "--image", "RUN_DIR", "Examples", "paperlab occlude --image"))
    assert not (tmp_path / "outputs").exists()  # help runs nothing


def test_cfg_job_prints_the_composed_config() -> None:
    r = run_cli("train", "model=alexnet", "optim.lr=0.5", "--cfg", "job")
    assert r.returncode == 0 and "name: alexnet" in r.stdout and "lr: 0.5" in r.stdout


def test_sweep_runs_each_job_in_its_numbered_directory(tmp_path: Path) -> None:
    from conftest import make_idx_set

    root = make_idx_set(tmp_path / "data")
    args = [o for o in tiny_train_overrides(root, epochs=1) if not o.startswith("optim")]
    r = run_cli("train", *args, "trainer.limit_train_batches=2", "-m", "optim.lr=0.1,0.01", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    sweeps = list((tmp_path / "outputs" / "train" / "zfnet_fashion_mnist").glob("multirun_*"))
    assert len(sweeps) == 1
    jobs = sorted(p.name for p in sweeps[0].iterdir() if p.is_dir())
    assert jobs == ["0", "1"]
    lrs = [json.loads((sweeps[0] / j / "run.json").read_text())["overrides"][-1] for j in jobs]
    assert lrs == ["optim.lr=0.1", "optim.lr=0.01"]
    assert all((sweeps[0] / j / "results.json").is_file() for j in jobs)


# -- bad input: one line on stderr, exit code 2, no traceback, nothing overwritten ------------------

def test_unknown_model_lists_the_valid_ones(tmp_path: Path) -> None:
    assert_user_error(run_cli("train", "model=resnet", cwd=tmp_path), "unknown model 'resnet'", "alexnet, ", "vgg16, ", "zfnet")
    assert not (tmp_path / "outputs").exists()


def test_data_of_the_wrong_kind_for_the_learner(tmp_path: Path) -> None:
    cfg = task_config("train", ["learner=char_lm", "model=char_lstm"])
    with raises_user_error("data=fashion_mnist is not a text corpus", "data=fortunes"):
        train.run(cfg, run_dir=tmp_path / "run")


def test_unknown_config_key() -> None:
    with raises_user_error("unknown config key 'trainer.max_epoch'"):
        task_config("train", ["trainer.max_epoch=3"])
    with raises_user_error("cannot parse the override"):
        task_config("train", ["optim.lr=["])


def test_data_root_that_does_not_exist_names_the_layout(tmp_path: Path) -> None:
    cfg = task_config("train", [f"data.root={tmp_path}/nowhere"])
    with raises_user_error("does not exist") as err:
        train.run(cfg, run_dir=tmp_path / "run")
    assert "train-images-idx3-ubyte" in str(err.value)


def test_existing_output_dir_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    assert_user_error(run_cli("train", f"hydra.run.dir={out}", cwd=tmp_path), "already exists", "--resume")
    assert [p.name for p in out.iterdir()] == ["precious.txt"]


def test_two_commands_in_the_same_second_get_their_own_default_directories(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from paperlab.launch import _output_dir

    monkeypatch.chdir(tmp_path)
    runs = [_output_dir("train", ["name=same"], "run", None) for _ in range(3)]
    assert len(set(runs)) == 3 and all(r.is_dir() for r in runs)
    first = runs[0].name
    # stamped to the second: a later one in the same second carries a counter
    assert all(r.name in (first, f"{first}_1", f"{first}_2") or r.name > first for r in runs[1:])


def test_resume_of_a_folder_that_is_no_run(tmp_path: Path) -> None:
    # --resume reads the run's recorded overrides (.hydra/overrides.yaml): the command line's own check
    assert_user_error(run_cli("train", "--resume", str(tmp_path)), "not a paperlab run directory")


def test_resume_without_checkpoint_and_with_corrupt_checkpoint(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from paperlab.launch import resume_overrides

    _, run = trained
    # a copy of the run without checkpoints, resumed in process on the config `--resume` composes
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(run, bare, ignore=shutil.ignore_patterns("checkpoints"))

    def resumed() -> dict:
        cfg = task_config("train", [*resume_overrides(bare, "train"), f"resume={bare}"])
        return train.run(cfg, run_dir=bare, resume=True)

    with raises_user_error("no checkpoint to resume from"):
        resumed()
    (bare / "checkpoints").mkdir()
    data = (run / "checkpoints" / "last.pt").read_bytes()
    (bare / "checkpoints" / "last.pt").write_bytes(data[: len(data) // 3])
    with raises_user_error("unreadable (corrupt or truncated"):
        resumed()
    assert (bare / "checkpoints" / "last.pt").stat().st_size == len(data) // 3  # left as it was


@pytest.mark.parametrize("text", ['Naïve café', 'a, b = [1, 2]', 'say "hi"', "${oops}", "back\\", 'tab\\t "\\" end\\\\', "key=value"])
def test_option_values_reach_the_config_exactly(text: str) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from paperlab.overrides import quoted, quoted_list

    parser = OverridesParser.create()
    (one,) = parser.parse_overrides([f"a={quoted(text)}"])
    (many,) = parser.parse_overrides([f"b={quoted_list([text, 'x'])}"])
    cfg = OmegaConf.create({"a": one.value(), "b": many.value()})
    assert cfg.a == text and list(cfg.b) == [text, "x"]


def test_the_fast_exit_runs_atexit_flushes_and_waits_for_threads(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = """
import atexit, threading, time
from pathlib import Path
from paperlab.cli.app import _exit
atexit.register(lambda: print("atexit ran"))
print("buffered ", end="")
if MODE == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), Path(OUT).write_text("done"))).start()
_exit(CODE)
"""
    for mode, code, rc in (("plain", 3, 3), ("plain", "a message", 1), ("thread", None, 0)):
        out = tmp_path / f"{mode}.txt"
        src = f"MODE, CODE, OUT = {mode!r}, {code!r}, {str(out)!r}\n" + script
        p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=60)
        assert p.returncode == rc and p.stdout == "buffered atexit ran\n", (mode, p)
        assert p.stderr == ("a message\n" if code == "a message" else "")
        assert out.is_file() == (mode == "thread")
