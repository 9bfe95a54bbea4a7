"""The searching student (Tapaswi et al. 2016, Sec. 4.2, Eq. 2): the story is searched for the
window of H sentences most similar to the question and the answer,

    f(S, q, a_j) = max_l  sum_{k=l}^{l+H-1}  g_ss(s_k, q) + g_ss(s_k, a_j),

with g_ss the cosine of the sentence representations. H = 1 searches single sentences; a story
shorter than H is one window (as the reference `cosine_similarity.py` caps the window).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paperlab.errors import UserError
from paperlab.papers.movieqa.base import Scorer, Stories
from paperlab.papers.movieqa.release import QA
from paperlab.papers.movieqa.text import Encoder, similarity


def window_sums(per_sentence: np.ndarray, window: int) -> np.ndarray:
    """(n, ...) -> (n - H + 1, ...): sums over every run of H = min(window, n) sentences."""
    h = min(window, len(per_sentence))
    csum = np.concatenate([np.zeros_like(per_sentence[:1]), np.cumsum(per_sentence, axis=0)])
    return csum[h:] - csum[:-h]


def searching_scores(story_vecs: object, question_vec: object, answer_vecs: object,
                     window: int = 1) -> np.ndarray:
    """Eq. (2) for the five answers from unit-norm rows: story (n, d), question (1, d), answers (5, d)."""
    g_q = similarity(story_vecs, question_vec)  # (n, 1)
    g_a = similarity(story_vecs, answer_vecs)  # (n, 5)
    return window_sums(g_q + g_a, window).max(axis=0)


class SearchingStudent(Scorer):
    def __init__(self, encoder: Encoder, window: int = 1) -> None:
        if window < 1:
            raise UserError(f"window={window}", "the window is a number of sentences, >= 1")
        self.encoder, self.window = encoder, window
        self.name = f"searching-{encoder.name}-w{window}"

    def fit(self, stories: Stories, qas: Sequence[QA]) -> SearchingStudent:
        self.encoder.fit(stories)
        return self

    def prepare(self, stories: Stories, qas: Sequence[QA]) -> None:
        keys = dict.fromkeys(qa.imdb_key for qa in qas)
        self.encoder.warm([s for k in keys for s in stories[k]]
                          + [t for qa in qas for t in (qa.question, *qa.answers)])

    def score(self, story: Sequence[str], question: str, answers: Sequence[str]) -> np.ndarray:
        if not story:
            return np.zeros(len(answers))
        return searching_scores(self.encoder.encode(story), self.encoder.encode([question]),
                                self.encoder.encode(answers), self.window)
