"""Training the online handwriting recogniser (paperlab/papers/graves/handwriting/recognizer.py) with CTC
(Graves et al. 2006) on the same lines the handwriting networks learn from: the reader that
`paperlab legibility` scores the synthesis network's samples with.

Loss: CTC, in nats per line. Validation adds the character error rate (edit distance of the
best-path reading to the transcription, over all characters) and the share of lines read exactly.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from paperlab.engine.learner import register_learner
from paperlab.papers.graves.handwriting.learner import StrokeExtras, StrokeLearner
from paperlab.papers.graves.handwriting.reading import edit_distance
from paperlab.papers.graves.handwriting.recognizer import greedy_decode


def ctc_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(CTC loss per line (B,), log-probabilities, frames): targets are alphabet index + 1 (0 = blank)."""
    lengths = batch["stroke_mask"].sum(1)
    log_probs, frames = model(batch["strokes"], lengths)
    targets = batch["text"].clamp_min(-1) + 1  # padding -1 -> 0, ignored past target_lengths
    loss = F.ctc_loss(log_probs.transpose(0, 1).float(), targets, frames, batch["text_mask"].sum(1),
                      reduction="none", zero_infinity=True)
    return loss, log_probs, frames


@register_learner("handwriting_recognition")
class HandwritingRecognition(StrokeLearner):
    """BLSTM-CTC recogniser of online handwriting (monitors the validation character error rate)."""

    Extras = StrokeExtras
    monitor = "val/cer"
    monitor_mode = "min"
    learner = "handwriting_recognition"
    models = ("handwriting_recognizer",)

    def model_settings(self, name: str, kw: dict[str, Any]) -> dict[str, Any]:
        return {**kw, "alphabet_size": len(self.data.alphabet)}

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, _, _ = ctc_loss(model, batch)
        return loss.mean(), {}

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        loss, log_probs, frames = ctc_loss(model, batch)
        read = greedy_decode(log_probs, frames)
        truth = [row[row >= 0].tolist() for row in batch["text"].cpu()]
        errors = [edit_distance(r, t) for r, t in zip(read, truth, strict=True)]
        return {"loss_sum": loss.sum(), "count": torch.tensor(len(read)),
                "char_errors": torch.tensor(sum(errors)), "chars": torch.tensor(sum(len(t) for t in truth)),
                "exact": torch.tensor(sum(e == 0 for e in errors))}

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        return {"loss": sums["loss_sum"] / max(sums["count"], 1), "cer": sums["char_errors"] / max(sums["chars"], 1),
                "lines_exact": sums["exact"] / max(sums["count"], 1)}

    def checkpoint_extras(self) -> StrokeExtras:
        return StrokeExtras(self.model.kind, self.data.alphabet.chars, self.data.stats.to_dict(), self.data.source)
