"""Training Graves's handwriting networks (Graves 2013, Sec. 4-5): the prediction network on pen
offsets alone, the synthesis network on offsets plus the line's text.

Loss: the negative log-likelihood of each line's offsets (Eq. 26), in nats per sequence as the
paper reports it (Tables 3 and 4); nats per point are logged beside it. Each batch backpropagates
the *sum* of its lines' losses, so the derivatives that the output clip ([-100, 100]) and the
LSTM clip ([-10, 10]) act on are those of one sequence's loss, as in the paper; the value shown
and logged is the mean per sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from paperlab.data import build_data_as
from paperlab.engine.learner import Learner, register_learner
from paperlab.errors import UserError
from paperlab.io.figures import training_curves_figure
from paperlab.models import create_model
from paperlab.papers.graves.handwriting.mixture_density import mixture_nll
from paperlab.papers.graves.handwriting.strokes import HandwritingData, StrokeDataset

KINDS = {"graves_prediction": "prediction", "graves_synthesis": "synthesis"}


@dataclass
class StrokeExtras:
    """What a network trained on pen offsets comes with (paperlab.engine.restore.load_model)."""

    kind: str  # the network's kind: "prediction", "synthesis" or "recognizer"
    alphabet: str  # the characters, in index order (Alphabet.chars)
    stats: dict[str, list[float]]  # the training lines' offset statistics (OffsetStats.to_dict())
    source: str  # the corpus it learnt from


@dataclass
class HandwritingExtras(StrokeExtras):
    """A handwriting network's record, and what sampling from it needs besides."""

    styles: list[dict[str, Any]]  # stored lines of the training writers, to prime with (Sec. 5.5)
    points_per_char: float  # the training lines' pace (caps and finishes a sampled line)


def sequence_nll(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(-log Pr per line (B,), predicted points per line (B,)): x_1..x_{T-1} predict x_2..x_T."""
    strokes, mask = batch["strokes"], batch["stroke_mask"]
    inputs, targets = strokes[:, :-1], strokes[:, 1:]
    if "text" in batch and getattr(model, "kind", None) != "prediction":
        y_hat = model(inputs, batch["text"]).y_hat
    else:
        y_hat = model(inputs)[0]
    valid = mask[:, 1:].to(y_hat.dtype)
    nll = mixture_nll(y_hat.float(), targets) * valid
    return nll.sum(1), valid.sum(1)


class StrokeLearner(Learner):
    """What every learner on lines of pen offsets shares: the handwriting data (its training split
    served in length buckets), the splits, the collate function, and a model from `models`."""

    learner = ""  # the registry name, for error messages
    models: tuple[str, ...] = ()  # the model names this learner trains
    shuffle_train = False  # the training split orders itself in length buckets (StrokeDataset.bucket)

    def __init__(self, cfg: DictConfig) -> None:
        data = build_data_as(cfg.data, HandwritingData, "a handwriting dataset",
                             f"data=hershey_handwriting or data=iam_ondb with learner={self.learner}")
        self.data = data
        data.splits["train"].bucket(int(cfg.trainer.batch_size), int(cfg.seed))
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        name = model_kw.pop("name")
        if name not in self.models:
            raise UserError(f"model={name} is not trained by learner={self.learner}",
                            f"use model={' or model='.join(self.models)} with learner={self.learner}")
        self.model = create_model(name, **self.model_settings(name, model_kw))

    def model_settings(self, name: str, kw: dict[str, Any]) -> dict[str, Any]:
        """The model's keyword arguments, completed from the data (alphabet size, ...)."""
        return kw

    def datasets(self) -> dict[str, Dataset]:
        return dict(self.data.splits)

    def collate_fn(self, split: str) -> Any:
        return StrokeDataset.collate_fn

    def batch_size(self, batch: Any) -> int:
        return int(batch["strokes"].shape[0])


@register_learner("handwriting")
class Handwriting(StrokeLearner):
    """Graves 2013 handwriting prediction / synthesis (mixture density outputs, nats per sequence)."""

    Extras = HandwritingExtras
    monitor = "val/loss"
    monitor_mode = "min"
    learner = "handwriting"
    models = tuple(KINDS)

    def model_settings(self, name: str, kw: dict[str, Any]) -> dict[str, Any]:
        if name == "graves_synthesis":
            kw["alphabet_size"] = len(self.data.alphabet)
            if kw.get("window_initial_step") is None:
                kw["window_initial_step"] = chars_per_point(self.data.splits["train"])
        return kw

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        nll, points = sequence_nll(model, batch)
        total, b = nll.sum(), len(nll)
        # value: the mean per sequence; gradient: that of the sum (see the module docstring)
        loss = total - total.detach() * (1 - 1 / b)
        return loss, {"nats_per_point": (total / points.sum()).detach()}

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        nll, points = sequence_nll(model, batch)
        return {"nll_sum": nll.sum(), "points": points.sum(), "lines": torch.tensor(len(nll))}

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        return {"loss": sums["nll_sum"] / max(sums["lines"], 1), "nats_per_point": sums["nll_sum"] / max(sums["points"], 1)}

    def checkpoint_extras(self) -> HandwritingExtras:
        return HandwritingExtras(self.model.kind, self.data.alphabet.chars, self.data.stats.to_dict(),
                                 self.data.source, self.data.styles, 1 / chars_per_point(self.data.splits["train"]))

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        training_curves_figure(run.read_metrics(), run.figure("training_curves.png"))
        return {}


def chars_per_point(data: StrokeDataset) -> float:
    """Characters per pen point over a split (the pace the window must learn to move at)."""
    chars = sum(len(t) for t in data.text)
    points = sum(len(s) for s in data.strokes)
    return round(chars / max(points, 1), 4)
