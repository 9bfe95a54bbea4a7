"""Local learning through the shared engine (Nøkland & Eidnes 2019, Sec. 3-4): `paperlab train
learner=local_loss` (conf/experiment/localloss_*.yaml).

The engine owns the loop, checkpoints and resume; this learner steps one Adam per block and one
for the output layer itself (`manual_step` -> training.train_step), so no gradient crosses a
block. sched.* gives every optimiser the same schedule (the paper's x0.25 milestones:
conf/sched/multistep.yaml), as the reference sets one learning rate for all (train.py:1621, 1631).

Evaluation reports the test error and each block's local loss and local error (its pred
decoder's), per epoch. The reference trains on all training images and scores the test set after
every epoch (train.py:1641-1642); `local_loss.eval_on=test` does the same, with the test set as
the engine's per-epoch split (so its metrics are named val/...) and the last epoch's weights
scored at the end (trainer.test_with=last: picking an epoch by its test error would be selection
on the test set). `eval_on=val` scores the held-out data.val_size images instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from paperlab.config import to_dataclass
from paperlab.data import build_data_as
from paperlab.data.images import ImageData, ImageInfo
from paperlab.engine.distributed import dist_info
from paperlab.engine.learner import Learner, register_learner
from paperlab.errors import UserError
from paperlab.models import create_model
from paperlab.papers.local_loss.figures import local_losses_figure
from paperlab.papers.local_loss.networks import network_spec
from paperlab.papers.local_loss.rules import get_rule
from paperlab.papers.local_loss.training import build_optimizers, eval_sums, summarize, train_step

EVAL_SPLITS = ("test", "val")


@dataclass
class LocalLearningConfig:
    # train.py:53 --loss-sup, with --backprop and --bio: backprop, pred, sim, predsim, pred-bpf,
    # sim-bpf, predsim-bpf (rules.py)
    rule: str = "predsim"
    beta: float | None = None  # train.py:49 --beta; null: the rule's (0.99, 0.01 for predsim-bpf)
    eval_on: str = "test"  # the split scored after every epoch: test (as train.py:1642) or val


def check_config(cfg: DictConfig) -> LocalLearningConfig:
    """The settings of a local-loss run, checked before any data is read or model built: an
    unknown rule or network lists the valid ones, beta outside [0, 1] is one line."""
    c = to_dataclass(LocalLearningConfig, cfg.get("local_loss"), where="local_loss")
    get_rule(c.rule, c.beta)
    if cfg.model.get("name") != "local_net":
        raise UserError(f"learner=local_loss trains model=local_net, not model={cfg.model.get('name')}",
                        "add model=local_net (or use an experiment=localloss_... recipe)")
    network_spec(str(cfg.model.arch))
    if c.eval_on not in EVAL_SPLITS:
        raise UserError(f"local_loss.eval_on={c.eval_on} is not a split", f"choose one of: {', '.join(EVAL_SPLITS)}")
    if c.eval_on == "test" and cfg.trainer.get("test_with") == "best":
        raise UserError("local_loss.eval_on=test would pick best.pt by its test error",
                        "add trainer.test_with=last, or score the held-out images with local_loss.eval_on=val")
    if c.eval_on == "val" and not cfg.data.get("val_size"):
        raise UserError("local_loss.eval_on=val but data.val_size holds out no images",
                        "set data.val_size (e.g. 5000), or local_loss.eval_on=test")
    if dist_info().world_size > 1:
        raise UserError("local learning steps each block on its own, which DDP cannot synchronise",
                        "train in one process (no torchrun)")
    return c


@register_learner("local_loss")
class LocalLearning(Learner):
    """A LocalNet (vgg8b, vgg11b, mlp) on an image dataset, trained by a local rule or backprop."""

    monitor = "val/error"
    monitor_mode = "min"
    automatic_optimization = False
    Extras = ImageInfo  # classes, input size and standardisation: what feeding the model needs

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = check_config(cfg)
        self.data = build_data_as(cfg.data, ImageData, "an image-classification dataset",
                                  "data=fashion_mnist, mnist, kmnist, cifar10, cifar100, svhn or stl10")
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        name = model_kw.pop("name")
        info = self.data.info
        self.model = create_model(name, **model_kw, rule=self.cfg.rule, beta=self.cfg.beta,
                                  in_channels=info.in_channels, image_size=info.image_size,
                                  num_classes=info.num_classes)

    def datasets(self) -> dict[str, Dataset]:
        splits = self.data.splits
        if self.cfg.eval_on == "test":
            return {"train": splits["train"], "val": splits["test"], "test": splits["test"]}
        return splits

    def configure_optimizers(self, build: Any) -> dict[str, torch.optim.Optimizer]:
        return build_optimizers(self.model, build)

    def manual_step(self, model: nn.Module, batch: Any, optimizers: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        stats = train_step(self.model, batch, optimizers.optimizers)
        return stats.pop("loss"), stats

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        return eval_sums(self.model, batch)

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        return summarize(sums)

    def checkpoint_extras(self) -> ImageInfo:
        return self.data.info

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        split = "test" if self.cfg.eval_on == "test" else "validation"
        title = f"{self.model.cfg.arch}, {self.model.rule.name}, {self.data.info.num_classes} classes"
        local_losses_figure(run.read_metrics(), run.figure("local_losses.png"), split, title)
        return {"rule": self.model.rule.name, "network": self.model.cfg.arch,
                "parameters": sum(p.numel() for p in self.model.parameters())}
