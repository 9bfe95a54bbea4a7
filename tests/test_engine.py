"""The training engine: checkpoints, RNG state, schedules, the NaN guard and early stopping."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import TensorDataset

from paperlab.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from paperlab.engine.learner import Learner
from paperlab.engine.optim import build_optimizer, build_schedule
from paperlab.engine.trainer import Trainer, TrainerConfig
from paperlab.errors import TrainingDiverged, UserError
from paperlab.io.rundir import RunDir


class Regression(Learner):
    """y = 3x + 1 with a linear model; `poison_after` makes the loss NaN after that many steps."""

    def __init__(self, poison_after: int | None = None) -> None:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(64, 1, generator=g)
        self.splits = {"train": TensorDataset(x, 3 * x + 1), "val": TensorDataset(x[:16], 3 * x[:16] + 1)}
        self.model = nn.Linear(1, 1)
        self.poison_after = poison_after
        self.steps = 0

    def datasets(self) -> dict[str, Any]:
        return self.splits

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch
        self.steps += 1
        loss = F.mse_loss(model(x), y)
        if self.poison_after is not None and self.steps > self.poison_after:
            loss = loss * float("nan")
        return loss, {}

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = batch
        return {"loss_sum": F.mse_loss(model(x), y, reduction="sum"), "count": torch.tensor(len(x))}


def make_trainer(tmp_path: Path, **kw: Any) -> Trainer:
    cfg = TrainerConfig(**{"max_epochs": 3, "batch_size": 8, "progress": False, "log_every_n_steps": 1,
                           "snapshot_epochs": [], **kw})
    optim = OmegaConf.create({"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1})
    run = RunDir.start(tmp_path / "run", task="train", name="test")
    return Trainer(cfg, run, seed=0, optim=optim, sched=None, config=OmegaConf.create({"learner": "test"}))


def test_checkpoint_roundtrip_is_atomic_and_weights_only(tmp_path: Path) -> None:
    state = {"model": {"w": torch.arange(3.0)}, "step": 7, "config": {"a": [1, 2]}, "rng": rng_state()}
    path = save_checkpoint(tmp_path / "c" / "last.pt", state)
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left behind
    back = load_checkpoint(path)
    assert torch.equal(back["model"]["w"], state["model"]["w"]) and back["step"] == 7


def test_corrupt_and_foreign_checkpoints_are_user_errors(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "last.pt", {"model": {"w": torch.zeros(1000)}})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UserError, match="unreadable"):
        load_checkpoint(path)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a paperlab checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_state_restores_every_stream() -> None:
    state = rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_schedule_gets_the_runs_length_from_the_trainer() -> None:
    opt = build_optimizer(OmegaConf.create({"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.5}),
                          nn.Linear(2, 2).parameters())
    sched_cfg = OmegaConf.create({"_target_": "torch.optim.lr_scheduler.OneCycleLR", "_partial_": True,
                                  "max_lr": 0.5, "total_steps": None, "interval": "step"})
    schedule = build_schedule(sched_cfg, opt, steps_per_epoch=10, max_epochs=3)
    assert schedule.interval == "step" and schedule.scheduler.total_steps == 30
    with pytest.raises(UserError, match="sched.interval"):
        build_schedule(OmegaConf.create({**sched_cfg, "interval": "hour"}), opt, 10, 3)


def test_fit_learns_and_writes_checkpoints_and_metrics(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    learner = Regression()
    results = trainer.fit(learner)
    assert results["val/loss"] < 0.05 and results["steps"] == 24
    assert {p.name for p in trainer.run.checkpoints.iterdir()} == {"last.pt", "best.pt"}
    records = trainer.run.read_metrics()
    assert [r["epoch"] for r in records if "val/loss" in r and not r.get("final")] == [1, 2, 3]
    assert torch.allclose(learner.model.weight, torch.tensor([[3.0]]), atol=0.2)


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, checkpoint_every_n_steps=4)
    learner = Regression(poison_after=10)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 11.*last good checkpoint"):
        trainer.fit(learner)
    ckpt = load_checkpoint(trainer.run.checkpoints / "last.pt")
    assert ckpt["trainer"]["step"] == 8  # written before the NaN, never overwritten by it
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert trainer.run.info()["status"] == "diverged"


def test_early_stopping_counts_evaluations_without_improvement(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, max_epochs=50, early_stopping_patience=2, monitor="val/loss",
                           monitor_mode="max")  # "max" on a falling loss: never improves after epoch 1
    results = trainer.fit(Regression())
    assert results["epochs"] == 3
