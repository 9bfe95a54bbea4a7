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
from paperlab.engine.lifecycle import open_run
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


def test_an_optimizer_built_from_config_lists_checkpoints_as_plain_types(tmp_path: Path) -> None:
    # Rprop keeps etas as given, as Adam keeps betas before torch 2.6: a ListConfig there would
    # make every checkpoint of the run unloadable under weights_only=True
    cfg = OmegaConf.create({"_target_": "torch.optim.Rprop", "_partial_": True, "lr": 0.1,
                            "etas": [0.5, 1.2], "step_sizes": [1e-6, 50.0]})
    opt = build_optimizer(cfg, [nn.Parameter(torch.zeros(2))])
    path = save_checkpoint(tmp_path / "last.pt", {"model": {}, "optimizer": opt.state_dict()})
    assert list(load_checkpoint(path)["optimizer"]["param_groups"][0]["etas"]) == [0.5, 1.2]


def test_corrupt_and_foreign_checkpoints_are_user_errors(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "last.pt", {"model": {"w": torch.zeros(1000)}})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UserError, match="unreadable"):
        load_checkpoint(path)
    torch.save({"model": {}, "config": OmegaConf.create({"a": 1})}, tmp_path / "pickled.pt")
    with pytest.raises(UserError, match="holds Python objects.*DictConfig"):
        load_checkpoint(tmp_path / "pickled.pt")
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
    # too few steps for one-cycle's phases: torch divides by a zero-length phase
    with pytest.raises(UserError, match="cannot spread its phases over 4 steps"):
        build_schedule(OmegaConf.create({**sched_cfg, "pct_start": 0.25}), opt, 2, 2)


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
    with pytest.raises(TrainingDiverged, match="loss became nan at step 11.*last good checkpoint"), \
            open_run("train", OmegaConf.create({"name": "test"}), trainer.run.path):
        trainer.fit(learner)
    ckpt = load_checkpoint(trainer.run.checkpoints / "last.pt")
    assert ckpt["trainer"]["step"] == 8  # written before the NaN, never overwritten by it
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    info = trainer.run.info()
    assert info["status"] == "diverged" and "loss became nan at step 11" in info["error"]


def test_early_stopping_counts_evaluations_without_improvement(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, max_epochs=50, early_stopping_patience=2, monitor="val/loss",
                           monitor_mode="max")  # "max" on a falling loss: never improves after epoch 1
    results = trainer.fit(Regression())
    assert results["epochs"] == 3


class TwoOptimizers(Regression):
    """The slope and the intercept, each with its own optimiser, stepped by the learner itself (as a
    VAE and its discriminator, or per-block optimisers, are): Adam for one, SGD for the other."""

    automatic_optimization = False

    def configure_optimizers(self, build: Any) -> dict[str, torch.optim.Optimizer]:
        return {"slope": build([self.model.weight]), "intercept": torch.optim.SGD([self.model.bias], lr=0.1)}

    def manual_step(self, model: nn.Module, batch: Any, optimizers: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        x, y = batch
        for name in ("slope", "intercept"):  # one after the other, each on the loss at the current weights
            loss = F.mse_loss(model(x), y)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
        return loss.detach(), {}


def test_several_optimisers_step_checkpoint_and_resume_exactly(tmp_path: Path) -> None:
    adam = OmegaConf.create({"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.2})
    config = OmegaConf.create({"learner": "test"})

    def trainer(run: Path, epochs: int) -> Trainer:
        cfg = TrainerConfig(max_epochs=epochs, batch_size=8, progress=False, log_every_n_steps=1)
        return Trainer(cfg, RunDir.start(run, task="train", name="t", resume=run.exists()), 0, adam, None, config)

    torch.manual_seed(0)
    straight = TwoOptimizers()
    trainer(tmp_path / "a", 4).fit(straight)
    ckpt = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")
    assert set(ckpt["optimizers"]) == {"slope", "intercept"} and ckpt["optimizers"]["slope"]["state"]
    assert torch.allclose(straight.model.weight, torch.tensor([[3.0]]), atol=0.3)
    torch.manual_seed(0)
    trainer(tmp_path / "b", 2).fit(TwoOptimizers())  # stopped after 2 epochs, then resumed to 4
    resumed = TwoOptimizers()
    trainer(tmp_path / "b", 4).fit(resumed, resume=True)
    assert torch.equal(resumed.model.weight, straight.model.weight) and torch.equal(resumed.model.bias, straight.model.bias)


class LeastSquaresLBFGS(Regression):
    """A full-batch L-BFGS step with a closure: the whole training set is one batch."""

    automatic_optimization = False

    def configure_optimizers(self, build: Any) -> dict[str, torch.optim.Optimizer]:
        return {"main": torch.optim.LBFGS(self.model.parameters(), lr=1, max_iter=50, tolerance_grad=1e-14,
                                                tolerance_change=1e-20, line_search_fn="strong_wolfe")}

    def manual_step(self, model: nn.Module, batch: Any, optimizers: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        x, y = batch
        assert x.dtype == torch.float64 and model.weight.dtype == torch.float64  # trainer.precision=64

        def closure() -> torch.Tensor:
            optimizers["main"].zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss

        return optimizers["main"].step(closure).detach(), {}


def test_a_closure_step_in_float64_solves_least_squares(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, max_epochs=2, batch_size=64, precision="64")
    learner = LeastSquaresLBFGS()
    results = trainer.fit(learner)
    # the targets were computed in float32: the fit is exact up to their rounding
    assert results["steps"] == 2 and results["val/loss"] < 1e-12
    assert abs(learner.model.weight.item() - 3) < 1e-6 and abs(learner.model.bias.item() - 1) < 1e-6
