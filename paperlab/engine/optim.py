"""Optimizers and learning-rate schedules from config (Hydra `_target_` + `_partial_`).

conf/optim/*.yaml name a torch.optim class; conf/sched/*.yaml name a torch.optim.lr_scheduler
class plus two paperlab keys: `interval` (step the schedule every "step" or every "epoch") and
`monitor` (the metric ReduceLROnPlateau watches). Keys a schedule needs that only the trainer
knows (total_steps, epochs, steps_per_epoch, T_max) are left null in the yaml and filled here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from paperlab.errors import UserError

_PAPERLAB_KEYS = ("interval", "monitor")


def build_optimizer(cfg: DictConfig, params: Iterable[Any]) -> torch.optim.Optimizer:
    try:
        return instantiate(cfg)(params)
    except (InstantiationException, TypeError, ValueError) as err:  # ValueError: e.g. a negative lr
        raise UserError(f"cannot build the optimizer {cfg.get('_target_')}: {str(err).splitlines()[0]}",
                        "check the optim.* overrides") from None


@dataclass
class Schedule:
    """A scheduler and when to step it. `scheduler` is None for a constant learning rate."""

    scheduler: Any = None
    interval: str = "epoch"
    monitor: str | None = None

    def step(self, interval: str, metrics: dict[str, float] | None = None) -> None:
        if self.scheduler is None or interval != self.interval:
            return
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if metrics is None or self.monitor not in metrics:
                return
            self.scheduler.step(metrics[self.monitor])
        else:
            self.scheduler.step()


def build_schedule(
    cfg: DictConfig | None, optimizer: torch.optim.Optimizer, steps_per_epoch: int, max_epochs: int
) -> Schedule:
    if cfg is None or cfg.get("_target_") is None:
        return Schedule()
    node = OmegaConf.to_container(cfg, resolve=True)
    interval = node.pop("interval", "epoch")
    monitor = node.pop("monitor", None)
    if interval not in ("step", "epoch"):
        raise UserError(f"sched.interval must be 'step' or 'epoch', not '{interval}'", "set sched.interval=step or epoch")
    runtime = {
        "total_steps": steps_per_epoch * max_epochs,
        "epochs": max_epochs,
        "steps_per_epoch": steps_per_epoch,
        "T_max": steps_per_epoch * max_epochs if interval == "step" else max_epochs,
    }
    for key, value in runtime.items():
        if key in node and node[key] is None:
            node[key] = value
    try:
        scheduler = instantiate(node)(optimizer)
    except (InstantiationException, TypeError, ValueError) as err:
        raise UserError(f"cannot build the schedule {node.get('_target_')}: {str(err).splitlines()[0]}",
                        "check the sched.* overrides") from None
    return Schedule(scheduler, interval, monitor)
