"""The trainer's device options: trainer.precision=auto (fp32 on every device), cuDNN autotuning on
CUDA, trainer.channels_last and trainer.compile (same numbers as the plain run; checkpoints hold
the bare model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import make_idx_set, task_config, tiny_train_overrides

from paperlab.engine.devices import Precision, tune_device


def test_auto_precision_is_fp32_on_every_device() -> None:
    for device in ("cpu", "cuda"):  # resolving the name touches no GPU
        p = Precision("auto", torch.device(device))
        assert p.name == "32" and p.dtype is None and p.amp_dtype is None


def test_cudnn_autotuning_on_cuda_unless_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    tune_device(torch.device("cpu"), deterministic=False)
    assert torch.backends.cudnn.benchmark is False
    tune_device(torch.device("cuda"), deterministic=True)
    assert torch.backends.cudnn.benchmark is False
    tune_device(torch.device("cuda"), deterministic=False)
    assert torch.backends.cudnn.benchmark is True


def _losses(run: Path) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in records if "train/loss" in r]


def _train(root: Path, run: Path, *extra: str) -> dict:
    from paperlab.tasks import train

    cfg = task_config("train", [*tiny_train_overrides(root, epochs=1), "trainer.max_steps=3",
                                "trainer.log_every_n_steps=1", "trainer.limit_eval_batches=1", *extra])
    return train.run(cfg, run_dir=run)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = make_idx_set(tmp_path_factory.mktemp("idx"))
    run = tmp_path_factory.mktemp("plain") / "run"
    _train(root, run)
    return root, run


def test_channels_last_trains_to_the_same_numbers(plain: tuple[Path, Path], tmp_path: Path) -> None:
    root, run = plain
    _train(root, tmp_path / "run", "trainer.channels_last=true")
    assert _losses(tmp_path / "run") == pytest.approx(_losses(run), rel=1e-5)
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["model"]
    conv = next(v for v in saved.values() if v.dim() == 4 and v.shape[1] > 1)  # conv1 reads one channel
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


@pytest.mark.slow  # compiling with inductor takes tens of seconds on two cores
def test_compiled_model_trains_to_the_same_numbers(plain: tuple[Path, Path], tmp_path: Path) -> None:
    root, run = plain
    _train(root, tmp_path / "run", "trainer.compile=true")
    assert _losses(tmp_path / "run") == pytest.approx(_losses(run), rel=1e-4)
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["model"]
    plain_keys = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"].keys()
    assert saved.keys() == plain_keys  # the bare model's names, no _orig_mod. prefix
