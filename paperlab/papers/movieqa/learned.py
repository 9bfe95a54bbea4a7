"""The learned students (SSCB, Sec. 4.2; the memory network, Sec. 4.3 of Tapaswi et al. 2016):
trained with the shared engine (`paperlab train`, learner=movieqa) from several initialisations,
the one best on the internal dev split kept, as the paper does for SSCB ("create several model
replicas and pick the ones with the best validation performance"), and used as scorers
f(S, q, a_j) through `load_model`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig
from torch import nn

from paperlab.config import conf_dir
from paperlab.engine.restore import load_model
from paperlab.engine.threads import single_threaded
from paperlab.errors import UserError
from paperlab.papers.movieqa.base import Scorer, Stories
from paperlab.papers.movieqa.memn2n import MemN2N
from paperlab.papers.movieqa.release import QA

log = logging.getLogger(__name__)
Collate = Callable[[Sequence[Any]], tuple[dict[str, torch.Tensor], torch.Tensor]]


@torch.no_grad()
def predict_scores(model: nn.Module, examples: Sequence[Any], collate: Collate, batch_size: int = 64) -> np.ndarray:
    """(len(examples), 5) logits, in evaluation mode."""
    model.eval()
    out = [model(**collate(examples[i: i + batch_size])[0]).float().numpy()
           for i in range(0, len(examples), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 5), dtype=np.float32)


class LearnedStudent(Scorer):
    """A trained SSCB or MemN2N and the inputs it was trained on (sscb.SSCBInputs or
    memn2n.MemN2NInputs), as a scorer: its logits are f(S, q, a_j)."""

    def __init__(self, name: str, model: nn.Module, inputs: Any) -> None:
        self.name, self.model, self.inputs = name, model.eval(), inputs

    @classmethod
    def load(cls, source: str | Path, name: str | None = None) -> LearnedStudent:
        """From a `paperlab train` run of learner=movieqa (its best.pt), a .pt file or a shipped name."""
        loaded = load_model(source, kind="movieqa")
        return cls(name or loaded.extras.model, loaded.model, loaded.extras.inputs())

    def score_all(self, stories: Stories, qas: Sequence[QA]) -> np.ndarray:
        return predict_scores(self.model, self.inputs.examples(stories, qas), self.inputs.collate)

    def score(self, story: Sequence[str], question: str, answers: Sequence[str]) -> np.ndarray:
        qa = QA("test:0", "movie", question, tuple(answers), None)
        return self.score_all({"movie": list(story)}, [qa])[0]

    @torch.no_grad()
    def attention(self, story: Sequence[str], question: str, answers: Sequence[str]
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The memory network's scores (5,) and attention over the story per hop (hops, sentences)."""
        if not isinstance(self.model, MemN2N):
            raise UserError(f"{self.name} has no attention over the story", "draw the attention of a memn2n model")
        qa = QA("test:0", "movie", question, tuple(answers), None)
        inputs, _ = self.inputs.collate(self.inputs.examples({"movie": list(story)}, [qa]))
        scores, p = self.model.eval().attend(**inputs)
        return scores[0].numpy(), p[0].numpy()


def train_config(overrides: Sequence[str]) -> DictConfig:
    """`paperlab train`'s config with these overrides (a learned baseline's recipe), composed
    inside a running command (Hydra already initialised) or outside one (tests, scripts)."""
    try:
        if GlobalHydra.instance().is_initialized():
            return compose("train", list(overrides))
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose("train", list(overrides))
    except HydraException as err:
        raise UserError(f"cannot compose the training recipe {list(overrides)}: {str(err).splitlines()[0]}",
                        "fix the learned baseline's `train` overrides (paperlab movieqa --cfg job)") from None


@dataclass
class InitRun:
    """One initialisation of a learned baseline: its `paperlab train` run."""

    seed: int
    run_dir: Path
    dev_acc: float  # best accuracy on the internal dev split (what picks the initialisation)
    seconds: float


def train_best_of(name: str, recipe: Sequence[str], inits: int, task_cfg: DictConfig, root: Path
                  ) -> tuple[InitRun, list[InitRun]]:
    """Train `inits` initialisations (seeds task seed + k) of a learned baseline with `paperlab
    train` into root/<name>_seed<seed>, on the task's data and paths; the one best on dev, and all."""
    from paperlab.tasks import train

    if inits < 1:
        raise UserError(f"learned.{name}.inits={inits}", "train at least one initialisation")
    runs: list[InitRun] = []
    for k in range(inits):
        seed = int(task_cfg.seed) + k
        cfg = train_config([*recipe, f"seed={seed}"])
        cfg.data, cfg.paths, cfg.name = task_cfg.data, task_cfg.paths, f"{name}_seed{seed}"
        where = root / f"{name}_seed{seed}"
        # one intra-op thread: SSCB and MemN2N steps are tiny ops, and on a busy 2-core machine two
        # threads made a 20-epoch SSCB fit 121 s instead of 5 s (docs/papers/movieqa.md)
        with single_threaded():
            results = train.run(cfg, run_dir=where)
        runs.append(InitRun(seed, where, float(results["best_val/acc"]), float(results.get("train_time_s", 0.0))))
        log.info("%s, seed %d: internal dev accuracy %.2f%% (%s)", name, seed, runs[-1].dev_acc, where)
    return max(runs, key=lambda r: r.dev_acc), runs
