"""The Learner: what one paper's training needs beyond the generic loop (like a LightningModule).

The Trainer owns the loop (devices, precision, optimizer steps, checkpoints, logging, DDP); a
Learner owns the model, its datasets, its loss and its metrics. Evaluation metrics are returned
by `eval_step` as *sums* (and counts) so they reduce exactly across batches and DDP ranks, and
`summarize` turns the totals into the reported numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from paperlab.registry import Registry

# Importing a learner's module registers it; the registry does so at its first lookup, so a task
# that loads one kind of checkpoint does not import every paper's learner.
LEARNERS: Registry[type[Learner]] = Registry("learner", config_group="learner",
                                             modules=["paperlab.learners.classifier"])
register_learner = LEARNERS.register


class Learner:
    """Base class. Subclasses set `self.model` and implement the two step methods."""

    model: nn.Module
    #: the validation metric that picks best.pt and drives early stopping / plateau schedules
    monitor: str = "val/loss"
    monitor_mode: str = "min"
    #: False for data that must be read in order (e.g. truncated BPTT over consecutive segments:
    #: the trainer then serves indices 0, 1, 2, ... and batch k holds indices kB..kB+B-1)
    shuffle_train: bool = True
    #: False: the learner steps its optimisers itself, in `manual_step` (the trainer's own step
    #: backpropagates `training_step`'s loss and steps the one optimiser)
    automatic_optimization: bool = True
    #: a dataclass of plain-type fields: what using a trained model needs besides the model itself
    #: (class names, a vocabulary, an alphabet...); None when it needs nothing
    Extras: type | None = None

    def datasets(self) -> dict[str, Dataset]:
        """Splits by name: "train" and "val" are required, "test" is scored once at the end."""
        raise NotImplementedError

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss to minimise, and extra values to log (all tensors; the trainer syncs rarely).

        `model` is `self.model`, or its DistributedDataParallel wrapper: call it, not self.model."""
        raise NotImplementedError

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        """Sums over the batch (e.g. loss_sum, correct, count): added up over batches and ranks."""
        raise NotImplementedError

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        """Totals from `eval_step` -> reported metrics (e.g. mean loss, error rates)."""
        return {"loss": sums["loss_sum"] / max(sums["count"], 1)}

    # -- optional hooks -------------------------------------------------------------------------
    def collate_fn(self, split: str) -> Any:
        """A DataLoader collate_fn for a split (None: the dataset's `collate_fn` or torch's default)."""
        return None

    def batch_size(self, batch: Any) -> int:
        """Items in a batch (for throughput)."""
        first = batch[0] if isinstance(batch, (tuple, list)) else next(iter(batch.values()))
        return int(first.shape[0])

    def param_groups(self) -> Iterable[Any]:
        return self.model.parameters()

    def configure_optimizers(self, build: Callable[[Iterable[Any]], torch.optim.Optimizer]
                             ) -> dict[str, torch.optim.Optimizer]:
        """Named optimisers; `build(params)` makes one as optim.* says. Default: one, "main", over
        `param_groups()`. Several (a VAE and its discriminator, one per block) need `manual_step`;
        each gets the schedule sched.* describes, and all are checkpointed."""
        return {"main": build(self.param_groups())}

    def manual_step(self, model: nn.Module, batch: Any, optimizers: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """With `automatic_optimization = False`: one training step done by the learner itself
        (backward passes and optimiser steps: several optimisers, a closure for L-BFGS, a
        full-batch step). `optimizers` holds those of `configure_optimizers` by name. Returns the
        loss (checked for NaN/inf after the step) and values to log, as `training_step` does."""
        raise NotImplementedError

    def on_after_backward(self, model: nn.Module) -> None:
        """After loss.backward(), before the optimizer step (custom gradient clipping, ...)."""

    def on_after_optimizer_step(self) -> None:
        """After each optimizer step (weight constraints such as filter renormalisation)."""

    def on_epoch_end(self, epoch: int, figures: Path | None) -> None:
        """After each epoch's evaluation; `figures` is the run's figures/ folder on the writer."""

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        """After training and testing: write final figures/arrays, return extra results."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Learner state that must survive a resume (e.g. an RNN state carried across batches)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""

    def checkpoint_extras(self) -> Any:
        """The `Extras` record stored in every checkpoint beside the weights, so that a command can
        use the model from the checkpoint alone (`paperlab.engine.restore.load_model`)."""
        return None
