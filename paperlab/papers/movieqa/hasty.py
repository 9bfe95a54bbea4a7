"""The hasty student (Tapaswi et al. 2016, Sec. 4.1): answers without looking at the story, to
expose biases of the answers. As in the reference `hasty_machine.py`:

- answer length (in characters of the lower-cased alphanumeric text): the longest, the shortest,
  or the one whose length is farthest from the mean;
- within-answer similarity: the answer with the smallest (similar) or largest (distinct) sum of
  cosine distances to the other four;
- question-answer similarity: the answer closest to the question.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from paperlab.errors import UserError
from paperlab.papers.movieqa.base import Scorer, Stories
from paperlab.papers.movieqa.release import QA
from paperlab.papers.movieqa.text import Encoder, similarity, words


def answer_lengths(answers: Sequence[str]) -> np.ndarray:
    return np.array([len(" ".join(words(a))) for a in answers], dtype=np.float64)


def within_distances(answer_vecs: object) -> np.ndarray:
    """Sum over the other answers of the cosine distance 1 - cos (rows unit-norm or zero)."""
    dist = 1.0 - similarity(answer_vecs, answer_vecs)
    np.fill_diagonal(dist, 0.0)
    return dist.sum(axis=1)


HastyRule = Callable[[str, Sequence[str], Encoder | None], np.ndarray]

HASTY_RULES: dict[str, tuple[bool, HastyRule]] = {  # name -> (needs a representation, rule)
    "longest": (False, lambda q, a, enc: answer_lengths(a)),
    "shortest": (False, lambda q, a, enc: -answer_lengths(a)),
    "different": (False, lambda q, a, enc: np.abs(answer_lengths(a) - answer_lengths(a).mean())),
    "within-similar": (True, lambda q, a, enc: -within_distances(enc.encode(a))),
    "within-distinct": (True, lambda q, a, enc: within_distances(enc.encode(a))),
    "qa-similar": (True, lambda q, a, enc: similarity(enc.encode([q]), enc.encode(a))[0]),
}


class HastyStudent(Scorer):
    """One hasty rule; the representation (for the similarity rules) is fitted on training stories."""

    def __init__(self, rule: str, encoder: Encoder | None = None) -> None:
        if rule not in HASTY_RULES:
            raise UserError(f"unknown hasty rule '{rule}'",
                            f"choose one of: {', '.join(sorted(HASTY_RULES))}")
        needs_encoder, self.rule = HASTY_RULES[rule]
        if needs_encoder and encoder is None:
            raise UserError(f"the hasty rule '{rule}' compares sentences",
                            "give it a representation: tfidf or minilm")
        self.encoder = encoder if needs_encoder else None
        self.name = f"hasty-{rule}" + (f"-{encoder.name}" if self.encoder else "")

    def fit(self, stories: Stories, qas: Sequence[QA]) -> HastyStudent:
        if self.encoder is not None:
            self.encoder.fit(stories)
        return self

    def prepare(self, stories: Stories, qas: Sequence[QA]) -> None:
        if self.encoder is not None:
            self.encoder.warm([t for qa in qas for t in (qa.question, *qa.answers)])

    def score(self, story: Sequence[str], question: str, answers: Sequence[str]) -> np.ndarray:
        return self.rule(question, answers, self.encoder)
