"""Hyperparameters: fitted by L-BFGS on log Z (exact GP) or on L (SGPR), or held fixed.

Burt, Rasmussen & van der Wilk 2019 (Sec. 5) isolate the effect of M by fixing the hyperparameters
at those of the exact GP and varying only Z; GPflow's usual practice instead maximises L jointly
over the hyperparameters (and Z) with L-BFGS (scipy). Both fits here run on the shared engine
(`paperlab.tasks.train.run` with the Trainer): float64 (`trainer.precision=64`), the whole data
set as one batch, and one full-batch L-BFGS step with a closure per trainer step
(`Learner.manual_step`), so each fit is an ordinary run directory (run.json, metrics.jsonl with
the loss after every step, checkpoints) and the NaN guard applies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor, nn
from torch.utils.data import Dataset

from paperlab.config import at_least
from paperlab.engine.learner import Learner
from paperlab.io.rundir import RunDir
from paperlab.papers.sgpr.exact import GPR
from paperlab.papers.sgpr.sgpr import SGPR, SGPRConfig
from paperlab.tasks.train import run as train


@dataclass
class FitConfig:
    """How hyperparameters are fitted (conf/sgpr.yaml's `sgpr.fit`)."""

    steps: int = at_least(1, default=10)  # trainer steps, each one L-BFGS step of up to max_iter iterations
    max_iter: int = at_least(1, default=20)  # iterations (closure calls before line search) per L-BFGS step
    history_size: int = at_least(1, default=50)


class _FullBatch(Dataset):
    """The whole data set as the one item of a dataset: every trainer step sees all of it."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.x, self.y


def _only_item(items: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    return items[0]


class HyperparameterLearner(Learner):
    """Minimises model.loss(x, y), -log Z / N or -L / N, by full-batch L-BFGS with a closure."""

    automatic_optimization = False

    def __init__(self, model: GPR | SGPR, x: Tensor, y: Tensor) -> None:
        self.model = model
        self.data = _FullBatch(x, y)

    def datasets(self) -> dict[str, Dataset]:
        return {"train": self.data, "val": self.data}

    def collate_fn(self, split: str) -> Any:
        return _only_item

    def param_groups(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def manual_step(self, model: nn.Module, batch: Any, optimizers: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        optimizer = optimizers["main"]

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = model.loss(x, y)
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():  # the loss where this step ended (step() returns the first one)
            return model.loss(x, y), {}

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, Tensor]:
        x, y = batch
        n = x.shape[0]
        return {"loss_sum": model.loss(x, y) * n, "count": torch.tensor(n)}


def fit(model: GPR | SGPR, x: Tensor, y: Tensor, run_dir: str | Path, cfg: FitConfig | None = None,
        seed: int = 0) -> list[float]:
    """Fit the model's trainable hyperparameters by L-BFGS on the engine, in run directory
    `run_dir`; the loss (-log Z / N or -L / N) after each step."""
    cfg = cfg or FitConfig()
    run_cfg = OmegaConf.create({
        "name": Path(run_dir).name, "seed": seed, "learner": "sgpr_hyperparameters", "paths": None,
        "trainer": {"max_epochs": cfg.steps, "batch_size": 1, "precision": "64",
                    "device": "cpu",  # where the experiments keep x, y and the models
                    "deterministic": False,
                    "val_every_n_epochs": cfg.steps, "checkpoint_every_n_steps": None,
                    "snapshot_epochs": [], "log_every_n_steps": 1, "test_with": "last",
                    "progress": False},  # the experiments' own bars show where they are
        # strong-Wolfe line search, as GPflow's scipy L-BFGS-B; tolerances at float64's scale
        "optim": {"_target_": "torch.optim.LBFGS", "_partial_": True, "lr": 1.0, "max_iter": cfg.max_iter,
                  "history_size": cfg.history_size, "tolerance_grad": 1e-9, "tolerance_change": 1e-12,
                  "line_search_fn": "strong_wolfe"},
    })
    learner = HyperparameterLearner(model, x, y)
    train(run_cfg, run_dir=run_dir, learner=learner, resume=False)
    return [r["train/loss"] for r in RunDir(run_dir).read_metrics() if "train/loss" in r]


def sparse_from_exact(gpr: GPR, inducing: Tensor, train_hyperparameters: bool = False,
                      chunk_size: int | None = None) -> SGPR:
    """An SGPR with the exact GP's hyperparameters (a copy of its kernel and its noise), held
    fixed as in the paper unless train_hyperparameters."""
    cfg = SGPRConfig(noise_variance=float(gpr.noise_variance.detach()), jitter=gpr.cfg.jitter,
                     jitter_tries=gpr.cfg.jitter_tries, chunk_size=chunk_size)
    model = SGPR(cfg, copy.deepcopy(gpr.kernel), inducing)
    with torch.no_grad():
        model.raw_noise.copy_(gpr.raw_noise)  # the raw value: bit-identical noise
    for p in (model.raw_noise, *model.kernel.parameters()):
        p.requires_grad_(train_hyperparameters)
    return model
