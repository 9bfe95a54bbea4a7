"""Optimizers and learning-rate schedules from config (Hydra `_target_` + `_partial_`).

conf/optim/*.yaml name a torch.optim class; conf/sched/*.yaml name a torch.optim.lr_scheduler
class plus two paperlab keys: `interval` (step the schedule every "step" or every "epoch") and
`monitor` (the metric ReduceLROnPlateau watches). Keys a schedule needs that only the trainer
knows (total_steps, epochs, steps_per_epoch, T_max) are left null in the yaml and filled here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
        # plain lists, not ListConfig: torch < 2.6 keeps e.g. Adam's betas as given in the param
        # groups, and a checkpoint holding a ListConfig no longer loads with weights_only=True
        return instantiate(cfg, _convert_="all")(params)
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
    except ZeroDivisionError:  # a one-cycle phase of zero length (torch divides by it)
        raise UserError(f"the schedule {node.get('_target_')} cannot spread its phases over {runtime['total_steps']} "
                        f"steps ({steps_per_epoch} per epoch x {max_epochs} epochs)",
                        "train for more steps (trainer.max_epochs, trainer.limit_train_batches) or set sched=constant") from None
    return Schedule(scheduler, interval, monitor)


def _check_planned_length(scheduler: Any, state: dict[str, Any]) -> None:
    """Load a schedule's state; one planned to a fixed end (one-cycle's total_steps, cosine's
    T_max) cannot be stretched over a longer resumed run: past its end it fails or restarts."""
    planned = {k: getattr(scheduler, k) for k in ("total_steps", "T_max") if hasattr(scheduler, k)}
    scheduler.load_state_dict(state)
    for key, length in planned.items():
        if length > getattr(scheduler, key):
            raise UserError(f"the run's schedule ends after {getattr(scheduler, key)} ({key}); "
                            f"this resume would need {length}",
                            "go on at a fixed rate with sched=constant optim.lr=X, or start a new run "
                            "with the longer trainer.max_epochs")


class Optimizers:
    """A learner's named optimisers (one, "main", for most), each with its schedule from sched.*:
    stepped, checkpointed and restored together."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer], cfg: DictConfig | None, steps_per_epoch: int,
                 max_epochs: int) -> None:
        self.optimizers = optimizers
        self.schedules = {k: build_schedule(cfg, o, steps_per_epoch, max_epochs) for k, o in optimizers.items()}

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        return self.optimizers[name]

    def __iter__(self) -> Iterator[torch.optim.Optimizer]:
        return iter(self.optimizers.values())

    @property
    def scheduled(self) -> bool:
        return any(s.scheduler is not None for s in self.schedules.values())

    @property
    def lr(self) -> float:
        """The learning rate of the first optimiser's first group (what the logs show)."""
        return next(iter(self)).param_groups[0]["lr"]

    def set_lr(self, lr: float) -> None:
        for optimizer in self:
            for group in optimizer.param_groups:
                group["lr"] = lr

    def step_schedules(self, interval: str, metrics: dict[str, float] | None = None) -> None:
        for schedule in self.schedules.values():
            schedule.step(interval, metrics)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": {k: s.scheduler.state_dict() for k, s in self.schedules.items() if s.scheduler is not None}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state["optimizers"]
        if set(saved) != set(self.optimizers):
            raise UserError(f"the checkpoint has the optimisers {sorted(saved)}, this learner {sorted(self.optimizers)}",
                            "resume with the run's own config")
        for k, o in self.optimizers.items():
            o.load_state_dict(saved[k])
        for k, s in self.schedules.items():
            if s.scheduler is not None and k in state.get("schedulers", {}):
                _check_planned_length(s.scheduler, state["schedulers"][k])
