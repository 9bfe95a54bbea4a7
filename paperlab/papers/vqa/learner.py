"""Training and scoring VQA models: Antol et al. 2015 (Sec. 5: the K most frequent training answers
as classes, softmax cross-entropy, frozen CNN features) and Nam et al. 2017 (Sec. 4.1: r-DAN the
same way), scored with the official VQA metric (Antol et al. Sec. 4; `paperlab.papers.vqa.metric`).

* Images: the frozen encoder's features, computed once and cached (`paperlab.papers.vqa.image_features`):
  the pooled vector for BoW/LSTM Q + I, the region grid for r-DAN.
* Questions: word ids of the training vocabulary (unknown words -> <unk>), cut to
  `vqa.max_question_len` words (a warning says how many were cut).
* Loss: cross-entropy on the most common human answer (`multiple_choice_answer`); questions whose
  answer is not among the K classes are left out of the loss (`vqa.loss=soft` instead trains on
  the official accuracy of every answer, the soft targets of later VQA work).
* Validation/test metrics per epoch: the exact official accuracy of the predicted answer (from
  `cand_idx`/`cand_acc`), open-ended and multiple-choice (the best-scoring of the question's
  choices), overall and per answer type. At the end, every split's predictions are written as
  official results files and scored by the official evaluation (overall, per answer type, per
  question type; relational vs non-relational where the data says which types are relational);
  attention models also draw their attention over the image and the words at each step, and,
  on data with scene annotations, report how much of their visual attention falls on the
  objects the question names.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from paperlab.config import at_least, config_schema, one_of, to_dataclass
from paperlab.data import build_data_as
from paperlab.engine.devices import to_device
from paperlab.engine.learner import Learner, register_learner
from paperlab.errors import UserError
from paperlab.io.figures import training_curves_figure
from paperlab.models import MODELS, create_model
from paperlab.papers.vqa.data import ANSWER_TYPES, VQAData, VQADataset
from paperlab.papers.vqa.image_features import EncoderConfig, ImageFeatures, image_features
from paperlab.papers.vqa.metric import evaluate_records, official_mean
from paperlab.papers.vqa.vqa_eval import headline, write_evaluation
from paperlab.papers.vqa.vqa_json import VQARecords

log = logging.getLogger(__name__)
TASKS = {"open_ended": "OpenEnded", "multiple_choice": "MultipleChoice"}


@config_schema("vqa")
@dataclass
class VQAConfig:
    max_question_len: int = at_least(1, default=26)  # words kept of a question (VQA's longest questions are ~23 words)
    loss: str = one_of("ce", "soft", default="ce")  # ce: cross-entropy on the most common answer (both papers); soft: official accuracies as targets
    attention_examples: int = at_least(0, default=8)  # test questions drawn in figures/attention.png (attention models)
    splits: list[str] = dataclasses.field(default_factory=lambda: ["val", "test"])  # scored officially at the end


def metric_name(answer_type: str) -> str:
    return answer_type.replace("/", "_")


def model_inputs(cls: type[nn.Module], **facts: Any) -> dict[str, Any]:
    """The data facts a model's Config has fields for (vocab_size, image_dim, grid, ...)."""
    names = {f.name for f in dataclasses.fields(cls.Config)}  # type: ignore[attr-defined]
    return {k: v for k, v in facts.items() if k in names}


def use_features(data: VQAData, features: ImageFeatures, kind: str, model: str) -> dict[str, Any]:
    """Point every split at the pooled vectors or the region grids; the model's image facts."""
    source = features.pooled if kind == "pooled" else features.regions
    if source is None:
        raise UserError(f"model={model} reads a grid of region features, but the features "
                        f"({features.encoder}) are one vector per image",
                        "give features of shape (N, regions, D), or compute them with an encoder (encoder.checkpoint=...)")
    for split in data.splits.values():
        split.images = source
    if kind == "pooled":
        return {"image_dim": int(source.shape[-1])}
    return {"region_dim": int(source.shape[-1]), "grid": list(features.grid or (1, int(source.shape[0])))}


def truncate_questions(data: VQAData, max_len: int) -> None:
    for name, split in data.splits.items():
        n = split.truncate(max_len)
        if n:
            log.warning("%d of the %d %s questions are longer than vqa.max_question_len=%d words: cut to the first %d",
                        n, len(split), name, max_len, max_len)


@dataclass
class VQAExtras:
    """What a trained VQA model comes with: the vocabularies, the image features it reads."""

    data_info: dict[str, Any]  # VQAInfo.to_dict(): question words, answers, question types
    encoder: str  # the identity of the image encoder whose features it was trained on
    max_question_len: int  # words read per question


@register_learner("vqa")
class VQALearner(Learner):
    """VQA as classification over the top-K training answers, scored with the official metric."""

    Extras = VQAExtras

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = to_dataclass(VQAConfig, cfg.get("vqa"), where="vqa")
        data = build_data_as(cfg.data, VQAData, "a VQA dataset",
                             "data=sort_of_clevr, easy_vqa, vqa_v1 or vqa_v2 with learner=vqa")
        self.data = data
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        name = model_kw.pop("name")
        cls = MODELS.get(name)
        kind = getattr(cls, "image_input", None)
        if kind not in ("pooled", "regions"):
            raise UserError(f"model={name} is not a VQA model", "use bow_q_i, lstm_q_i, deeper_lstm_q_norm_i or rdan")
        encoder = to_dataclass(EncoderConfig, cfg.get("encoder"), where="encoder")
        sources = {s: (d.images, d.records.image_id) for s, d in data.splits.items()}
        self.pixels = {s: d.images for s, d in data.splits.items() if d.images.kind == "pixels"}  # for figures
        self.features = image_features(sources, encoder, cfg.data)
        image_facts = use_features(data, self.features, kind, name)
        truncate_questions(data, self.cfg.max_question_len)
        info = data.info
        self.model = create_model(name, **model_kw, **model_inputs(cls, vocab_size=len(info.question_vocab),
                                                                  num_answers=len(info.answer_vocab), **image_facts))
        if hasattr(self.model, "fit_vocabulary"):
            train = data.splits["train"]
            self.model.fit_vocabulary([train.question_tokens(i) for i in range(len(train))])
        self.image_facts = image_facts

    def datasets(self) -> dict[str, Dataset]:
        return self.data.splits

    # -- training -------------------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = model(batch["image"], batch["question"], batch["question_len"])
        if self.cfg.loss == "soft":
            return soft_target_loss(logits, batch["cand_idx"], batch["cand_acc"]), {}
        return F.cross_entropy(logits, batch["answer"], ignore_index=-1), {}

    # -- evaluation -----------------------------------------------------------------------------
    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        logits = model(batch["image"], batch["question"], batch["question_len"])
        answered = batch["answer"] >= 0
        loss = F.cross_entropy(logits[answered], batch["answer"][answered], reduction="sum") if answered.any() \
            else logits.new_zeros(())
        acc = answer_accuracy(logits.argmax(1), batch["cand_idx"], batch["cand_acc"])
        sums = {"loss_sum": loss, "loss_count": answered.sum(), "count": torch.tensor(len(acc)), "acc_sum": acc.sum()}
        if "choices" in batch:
            sums["mc_acc_sum"] = answer_accuracy(pick_choice(logits, batch["choices"]), batch["cand_idx"],
                                                 batch["cand_acc"]).sum()
        for i, t in enumerate(ANSWER_TYPES):
            of_type = batch["answer_type"] == i
            sums[f"count_{metric_name(t)}"] = of_type.sum()
            sums[f"acc_sum_{metric_name(t)}"] = acc[of_type].sum()
        return sums

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1)
        out = {"loss": sums["loss_sum"] / max(sums["loss_count"], 1), "acc": 100 * sums["acc_sum"] / n}
        if "mc_acc_sum" in sums:
            out["acc_mc"] = 100 * sums["mc_acc_sum"] / n
        for t in ANSWER_TYPES:
            if sums.get(f"count_{metric_name(t)}"):
                out[f"acc_{metric_name(t)}"] = 100 * sums[f"acc_sum_{metric_name(t)}"] / sums[f"count_{metric_name(t)}"]
        return out

    def checkpoint_extras(self) -> VQAExtras:
        return VQAExtras(self.data.info.to_dict(), self.features.encoder, self.cfg.max_question_len)

    # -- the end: official evaluation, figures --------------------------------------------------
    def on_fit_end(self, run: Any) -> dict[str, Any]:
        training_curves_figure(run.read_metrics(), run.figure("training_curves.png"))
        results: dict[str, Any] = {"encoder": self.features.encoder}
        model = self.model.eval()
        for split in self.cfg.splits:
            if split not in self.data.splits:
                continue
            results.update(score_split(model, self.data, split, run))
        return results


def answer_accuracy(pred: torch.Tensor, cand_idx: torch.Tensor, cand_acc: torch.Tensor) -> torch.Tensor:
    """The official accuracy of each predicted answer index (0 when it earns nothing)."""
    return (cand_acc * (cand_idx == pred[:, None])).sum(1)


def pick_choice(logits: torch.Tensor, choices: torch.Tensor) -> torch.Tensor:
    """The answer index among each question's choices (-1: a choice outside the answer
    vocabulary, never picked) with the highest score; -1 if no choice is in the vocabulary."""
    scores = logits.gather(1, choices.clamp(min=0)).masked_fill(choices < 0, float("-inf"))
    return choices.gather(1, scores.argmax(1, keepdim=True)).squeeze(1)


def soft_target_loss(logits: torch.Tensor, cand_idx: torch.Tensor, cand_acc: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the official accuracies of the candidate answers, normalised to sum to 1
    (questions no class can score on are left out)."""
    target = torch.zeros_like(logits).scatter_add_(1, cand_idx.clamp(min=0), cand_acc * (cand_idx >= 0))
    total = target.sum(1, keepdim=True)
    keep = total.squeeze(1) > 0
    if not keep.any():
        return logits.sum() * 0
    return -(target[keep] / total[keep] * F.log_softmax(logits[keep], 1)).sum(1).mean()


@torch.no_grad()
def predict(model: nn.Module, split: VQADataset, choices: list[list[str]] | None, answers: list[str],
            batch_size: int = 512) -> tuple[list[str], list[str] | None]:
    """Open-ended answers (the top class) and multiple-choice answers (the highest-scoring choice
    in the answer vocabulary; the first choice when none is) for every question of a split."""
    index = {a: i for i, a in enumerate(answers)}
    device = next(model.parameters()).device
    open_ended: list[str] = []
    picked: list[str] | None = [] if choices is not None else None
    for start in range(0, len(split), batch_size):
        batch = to_device(split.__getitems__(list(range(start, min(start + batch_size, len(split))))), device)
        logits = model(batch["image"], batch["question"], batch["question_len"]).float().cpu()
        open_ended += [answers[i] for i in logits.argmax(1).tolist()]
        if choices is not None and picked is not None:
            for row, options in zip(logits.tolist(), choices[start : start + len(logits)], strict=True):
                scored = [(row[index[c]], -j) for j, c in enumerate(options) if c in index]
                picked.append(options[-max(scored)[1]] if scored else options[0])
    return open_ended, picked


def score_split(model: nn.Module, data: VQAData, split: str, run: Any) -> dict[str, Any]:
    """Predict a split, write the official results files, score them officially."""
    ds = data.splits[split]
    records = ds.records
    open_ended, mc = predict(model, ds, records.multiple_choices, data.info.answer_vocab)
    results: dict[str, Any] = {}
    runs = {"open_ended": (dataclasses.replace(records, multiple_choices=None), open_ended)}
    if mc is not None:
        runs["multiple_choice"] = (records, mc)
    ids = records.question_id.tolist()
    for task, (recs, answers) in runs.items():
        path = run.path / "predictions" / f"{split}_{TASKS[task]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([{"question_id": q, "answer": a} for q, a in zip(ids, answers, strict=True)]))
        if not recs.has_answers:
            continue
        ev = evaluate_records(recs, ids, answers, data.info.protocol)
        write_evaluation(run, ev, stem=f"evaluations/{split}_{TASKS[task]}_")
        prefix = f"{split}/{task}/"
        results.update(headline(ev, prefix))
        results.update({f"{prefix}qtype/{t}": v for t, v in ev.per_question_type().items()})
        results.update(relational_split(ev.accuracy, records, data.info.relational_types, prefix))
    return results


def relational_split(accuracy: np.ndarray, records: VQARecords, relational: list[str], prefix: str) -> dict[str, float]:
    """Official mean accuracy of the relational and the other question types."""
    if not relational or records.question_type is None:
        return {}
    rel = np.isin(np.array(records.question_type), relational)
    return {f"{prefix}relational": official_mean(accuracy[rel]), f"{prefix}non_relational": official_mean(accuracy[~rel])}
