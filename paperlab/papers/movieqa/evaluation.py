"""Evaluation (Tapaswi et al. 2016, Sec. 5 "Metrics"): accuracy, the fraction of questions whose
chosen answer is the correct one, overall and by the question's first word (the paper's
per-"first word" breakdown). Questions whose answer is withheld (the test split: correct_index
null) are not counted as wrong: with no labelled question the report says "no labels", and the
predictions go to the evaluation server in its format, one "<qid> <answer index>" per line
(reference `utils.write_answerkeys_to_file`), here in qid order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paperlab.errors import UserError
from paperlab.papers.movieqa.release import NUM_ANSWERS, QA, SPLITS

CHANCE = 100.0 / NUM_ANSWERS  # percent: five answers, one correct


@dataclass
class Report:
    n_questions: int
    n_labelled: int
    accuracy: float | None  # percent over the labelled questions; None: no labels
    per_type: dict[str, tuple[float, int]] = field(default_factory=dict)  # type -> (%, count)

    @property
    def status(self) -> str:
        return "scored" if self.n_labelled else "no labels"

    def results(self, prefix: str = "") -> dict[str, float | int | str]:
        """Flat results: `<prefix>acc` and `<prefix>acc_<first word>`, or `<prefix>status: no labels`."""
        out: dict[str, float | int | str] = {f"{prefix}questions": self.n_questions}
        if self.accuracy is None:
            return {**out, f"{prefix}status": self.status}
        out[f"{prefix}acc"] = round(self.accuracy, 2)
        out.update({f"{prefix}acc_{t}": round(acc, 2) for t, (acc, _) in self.per_type.items()})
        return out

    def table(self) -> str:
        if not self.n_labelled:
            return f"{self.n_questions} questions: no labels (predictions only)"
        rows = [f"all       {self.accuracy:6.2f}  ({self.n_labelled} questions)"]
        rows += [f"{t:<9} {acc:6.2f}  ({n})" for t, (acc, n) in self.per_type.items()]
        return "\n".join(rows)


def predictions_of(qas: Sequence[QA], scores: np.ndarray) -> np.ndarray:
    """Answer indices from (N, 5) scores, or checked (N,) indices."""
    scores = np.asarray(scores)
    if len(scores) != len(qas):
        raise UserError(f"{len(scores)} predictions for {len(qas)} questions",
                        "answer every question of the split, in the same order")
    preds = scores.argmax(axis=1) if scores.ndim == 2 else scores.astype(np.int64)
    if preds.size and (preds.min() < 0 or preds.max() >= NUM_ANSWERS):
        raise UserError("an answer index outside 0..4", "predict one of the five answers")
    return preds


def evaluate(qas: Sequence[QA], scores: np.ndarray) -> Report:
    """Accuracy overall and by question type over the questions that have a correct answer."""
    preds = predictions_of(qas, scores)
    by_type: dict[str, list[bool]] = defaultdict(list)
    for qa, p in zip(qas, preds, strict=True):
        if qa.correct_index is not None:
            by_type[qa.qtype].append(int(p) == qa.correct_index)
    hits = [h for v in by_type.values() for h in v]
    per_type = {t: (100.0 * float(np.mean(v)), len(v))
                for t, v in sorted(by_type.items(), key=lambda kv: -len(kv[1]))}
    return Report(len(qas), len(hits), 100.0 * float(np.mean(hits)) if hits else None, per_type)


def qid_order(qid: str) -> tuple[int, int]:
    split, number = qid.split(":")
    return SPLITS.index(split) if split in SPLITS else len(SPLITS), int(number)


def write_predictions(path: str | Path, qas: Sequence[QA], scores: np.ndarray) -> Path:
    """The evaluation server's submission: "<qid> <answer index>" per line, in qid order."""
    preds = predictions_of(qas, scores)
    rows = sorted(zip((qa.qid for qa in qas), preds.tolist(), strict=True),
                  key=lambda r: qid_order(r[0]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{qid} {p}\n" for qid, p in rows))
    return path


def read_predictions(path: str | Path) -> dict[str, int]:
    out = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise UserError(f"{path}:{n}: '{line}' is not '<qid> <answer index>'",
                            "write one answer per line, e.g. 'test:0 3'")
        out[parts[0]] = int(parts[1])
    return out
