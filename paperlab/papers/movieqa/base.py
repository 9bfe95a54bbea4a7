"""The common form of every MovieQA baseline (Tapaswi et al. 2016, Sec. 4, Eq. 1): a scoring
function f(S, q, a_j) over the five answers of a question, the answer being argmax_j f.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from paperlab.errors import UserError
from paperlab.papers.movieqa.release import QA

Stories = Mapping[str, Sequence[str]]


class Scorer:
    """f(S, q, a_j) for j = 1..5. Subclasses implement `score`; learned ones also `fit`."""

    name = "scorer"

    def fit(self, stories: Stories, qas: Sequence[QA]) -> Scorer:
        """Learn from the training split (stories by imdb key, and their questions)."""
        return self

    def score(self, story: Sequence[str], question: str, answers: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def prepare(self, stories: Stories, qas: Sequence[QA]) -> None:
        """Called once before a split is scored question by question (a place to encode its
        sentences in a few large batches)."""

    def score_all(self, stories: Stories, qas: Sequence[QA]) -> np.ndarray:
        """(questions, 5) scores; the prediction is their argmax."""
        missing = sorted({qa.imdb_key for qa in qas} - set(stories))
        if missing:
            raise UserError(f"no story for movie(s) {', '.join(missing[:5])}",
                            "score questions with the stories of their split and source")
        self.prepare(stories, qas)
        return np.stack([self.score(stories[qa.imdb_key], qa.question, qa.answers)
                         for qa in qas]) if qas else np.zeros((0, 5))

    def predict(self, stories: Stories, qas: Sequence[QA]) -> np.ndarray:
        return self.score_all(stories, qas).argmax(axis=1)
