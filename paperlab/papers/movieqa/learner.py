"""Training SSCB (Sec. 4.2, Fig. 4) and the memory network (Sec. 4.3) of Tapaswi et al. 2016 with
the shared engine: `paperlab train experiment=movieqa_sscb` / `movieqa_memn2n` (learner=movieqa).

* Splits: the training movies' questions, less the internal dev split, train; the dev split (20%
  of the training movies, a seeded draw by movie, Sec. 4.2: "80% train / 20% val, keeping all
  questions of the same movie in the same split") is the engine's `val`, so best.pt is the epoch
  best on it and `paperlab movieqa` keeps the initialisation best on it, as the paper does. The
  release's val split is the `test` the run reports (the paper's tables are on val).
* Loss: cross-entropy over the five answers (Sec. 4.2: "cross-entropy loss and Adam"); the
  reference's L2 penalty is optim.weight_decay, its gradient-norm clipping trainer.gradient_clip_val.
* Inputs: SSCB reads similarity tensors (sscb.SSCBInputs), MemN2N word ids (memn2n.MemN2NInputs),
  both fitted on the training movies; what they were fitted on is stored as `MovieQAExtras`, so
  `load_model` gives back a usable scorer (learned.LearnedStudent).
* At the end: accuracy overall and per question type (first word) on the test split, predictions in
  the evaluation server's format for `movieqa.predict` splits (accuracy only where answers are
  given: the release's test split says "no labels"), and MemN2N's attention over the story.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from paperlab.config import at_least, checked, config_schema, one_of, to_dataclass
from paperlab.data import build_data_as
from paperlab.engine.learner import Learner, register_learner
from paperlab.errors import UserError
from paperlab.models import create_model
from paperlab.papers.movieqa.data import MovieQAData, dev_movies
from paperlab.papers.movieqa.evaluation import evaluate, write_predictions
from paperlab.papers.movieqa.figures import attention_figures, training_figure
from paperlab.papers.movieqa.learned import LearnedStudent
from paperlab.papers.movieqa.memn2n import MemN2N, MemN2NInputs, word_vectors
from paperlab.papers.movieqa.release import SPLITS
from paperlab.papers.movieqa.sscb import SSCBInputs
from paperlab.papers.movieqa.text import ENCODERS, SENTENCE_DIM, SentenceEncoder

log = logging.getLogger(__name__)
MODELS = ("sscb", "memn2n")
WORD_VECTORS = ("minilm", "learned")


def _fraction(value: float) -> tuple[str, str] | None:
    return None if 0 < value < 1 else ("is not a fraction of the training movies", "set {key}=0.2 (Sec. 4.2)")


@config_schema("movieqa")
@dataclass
class MovieQAConfig:
    """The `movieqa` node of learner=movieqa (conf/experiment/movieqa_*.yaml), checked before the
    run directory exists."""

    # SSCB: the similarity tensors' representations (Sec. 4.4); several stacked = "SSCB fusion"
    representation: list[str] = one_of(*ENCODERS, default_factory=lambda: ["tfidf", "minilm"])
    # MemN2N: Z from all-MiniLM-L6-v2, fixed (Sec. 4.3's fixed Word2Vec); learned: the original MemN2N
    word_vectors: str = one_of(*WORD_VECTORS, default="minilm")
    dev_fraction: float = checked(_fraction, default=0.2)  # Sec. 4.2: "80% train / 20% val", by movie
    dev_seed: int = 0  # the same dev movies for every initialisation, so their dev accuracies compare
    test_split: str = one_of(*SPLITS, default="val")  # the release split reported as test (the paper's tables: val)
    # predictions written in the evaluation server's format
    predict: list[str] = one_of(*SPLITS, default_factory=lambda: ["val", "test"])
    attention_examples: int = at_least(0, default=2)  # MemN2N: questions (of different types) whose attention is drawn


@dataclass
class MovieQAExtras:
    """What a trained SSCB / MemN2N needs besides its weights: the story source it reads, and what
    its inputs were fitted on (SSCB: representations, TF-IDF vocabulary and idf, channel
    statistics; MemN2N: the vocabulary of its embedding rows)."""

    model: str  # sscb | memn2n
    data: str
    story: str
    dev_movies: list[str]  # the training movies held out as the internal dev split
    representation: list[str] = field(default_factory=list)
    tfidf: dict[str, Any] | None = None
    channel_mean: list[float] = field(default_factory=list)
    channel_std: list[float] = field(default_factory=list)
    vocabulary: list[str] = field(default_factory=list)

    def inputs(self) -> SSCBInputs | MemN2NInputs:
        if self.model == "sscb":
            return SSCBInputs(self.representation, self.tfidf, self.channel_mean, self.channel_std)
        return MemN2NInputs(self.vocabulary)


@register_learner("movieqa")
class MovieQALearner(Learner):
    """Five-way multiple-choice QA on MovieQA stories: SSCB or MemN2N, accuracy per question type."""

    Extras = MovieQAExtras
    monitor = "val/acc"  # the internal dev split
    monitor_mode = "max"

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = to_dataclass(MovieQAConfig, cfg.get("movieqa"), where="movieqa")
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        self.model_name = str(model_kw.pop("name"))
        if self.model_name not in MODELS:
            raise UserError(f"model={self.model_name} is not a MovieQA model", "use model=sscb or model=memn2n with learner=movieqa")
        if self.model_name == "memn2n":
            check_word_vectors(self.cfg.word_vectors, model_kw)
        self.data = build_data_as(cfg.data, MovieQAData, "a MovieQA dataset",
                                  "data=movieqa_embedded or movieqa with learner=movieqa")
        stories, qas = self.data.split("train")
        unlabelled = [qa.qid for qa in qas if qa.correct_index is None]
        if unlabelled:
            raise UserError(f"{len(unlabelled)} training questions have no correct answer (the first: {unlabelled[0]})",
                            "give every question of the train split its correct_index in qa.json")
        self.dev = dev_movies(list(stories), self.cfg.dev_fraction, self.cfg.dev_seed)
        if not self.dev:
            raise UserError(f"the train split has {len(stories)} movie(s) with a {self.data.story} story",
                            "the internal dev split needs at least two training movies")
        train_qas = [qa for qa in qas if qa.imdb_key not in self.dev]
        dev_qas = [qa for qa in qas if qa.imdb_key in self.dev]
        self.scored = {s: self.data.split(s) for s in dict.fromkeys([self.cfg.test_split, *self.cfg.predict])}
        self.inputs = SSCBInputs(self.cfg.representation) if self.model_name == "sscb" else MemN2NInputs()
        self.inputs.fit({k: v for k, v in stories.items() if k not in self.dev}, train_qas)
        self.model = create_model(self.model_name, **model_kw, **self.inputs.model_inputs())
        if isinstance(self.model, MemN2N) and self.cfg.word_vectors == "minilm":
            self.model.load_word_vectors(word_vectors(self.inputs.vocab, SentenceEncoder().encode))
        self.splits = {"train": self.inputs.examples(stories, train_qas), "val": self.inputs.examples(stories, dev_qas),
                       "test": self.inputs.examples(*self.scored[self.cfg.test_split])}
        log.info("%s on %s (%s stories): %d training questions, %d on %d internal dev movies, %d %s questions",
                 self.model_name, self.data.name, self.data.story, len(train_qas), len(dev_qas), len(self.dev),
                 len(self.splits["test"]), self.cfg.test_split)

    def datasets(self) -> dict[str, Dataset]:
        return self.splits  # lists of examples: what a DataLoader indexes

    def collate_fn(self, split: str) -> Any:
        return self.inputs.collate

    def batch_size(self, batch: Any) -> int:
        return len(batch[1])

    # -- training and evaluation ------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        inputs, labels = batch
        logits = model(**inputs)
        acc = 100 * (logits.argmax(1) == labels).float().mean()
        return F.cross_entropy(logits.float(), labels), {"acc": acc.detach()}

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        inputs, labels = batch
        logits = model(**inputs).float()
        known = labels >= 0  # the release's test split withholds its answers (-1)
        loss = F.cross_entropy(logits[known], labels[known], reduction="sum") if known.any() else logits.new_zeros(())
        return {"loss_sum": loss, "correct": (logits.argmax(1) == labels)[known].sum(), "count": known.sum(),
                "questions": torch.tensor(len(labels))}

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        if not sums["count"]:
            return {"questions": sums["questions"]}  # no labels: nothing to score, not all wrong
        return {"loss": sums["loss_sum"] / sums["count"], "acc": 100 * sums["correct"] / sums["count"]}

    def checkpoint_extras(self) -> MovieQAExtras:
        return MovieQAExtras(model=self.model_name, data=self.data.name, story=self.data.story,
                             dev_movies=sorted(self.dev), **self.inputs.record())

    # -- the end: per question type, predictions, attention ---------------------------------------
    def on_fit_end(self, run: Any) -> dict[str, Any]:
        training_figure(run.read_metrics(), run.figure("training_curves.png"),
                        f"{self.model_name} on {self.data.name} ({self.data.story} stories)")
        student = LearnedStudent(self.model_name, self.model.cpu(), self.inputs)
        results: dict[str, Any] = {"story": self.data.story, "dev_movies": len(self.dev)}
        for split, (stories, qas) in self.scored.items():
            scores = student.score_all(stories, qas)
            write_predictions(run.path / "predictions" / f"{split}.txt", qas, scores)
            # "release/<split>/": the release's splits (the engine's val/ is the internal dev split)
            results.update(evaluate(qas, scores).results(f"release/{split}/"))
        if isinstance(self.model, MemN2N) and self.cfg.attention_examples:
            stories, qas = self.scored[self.cfg.test_split]
            attention_figures(student, stories, qas, self.cfg.attention_examples, run.figures, self.data.story)
        return results


def check_word_vectors(kind: str, model_kw: dict[str, Any]) -> None:
    """Fixed MiniLM vectors need a 384-d Z; learned ones must be trained."""
    if kind == "minilm" and model_kw.get("embed_dim") != SENTENCE_DIM:
        raise UserError(f"all-MiniLM-L6-v2 word vectors are {SENTENCE_DIM}-d, but model.embed_dim={model_kw.get('embed_dim')}",
                        f"set model.embed_dim={SENTENCE_DIM}, or movieqa.word_vectors=learned")
    if kind == "learned" and model_kw.get("freeze_embedding"):
        raise UserError("movieqa.word_vectors=learned with model.freeze_embedding=true would keep Z at random",
                        "set model.freeze_embedding=false")
