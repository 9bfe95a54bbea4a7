"""The MovieQA baselines that need no training, by name (Tapaswi et al. 2016, Sec. 4.1-4.2):

    make_scorer("hasty-longest")
    make_scorer("hasty-qa-similar", "minilm")
    make_scorer("searching", "tfidf", window=3)

The representation is tfidf or minilm (Sec. 4.4). The learned students, SSCB and the memory
network, are trained with the engine (learner.py) and come back as scorers through
learned.LearnedStudent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paperlab.errors import UserError
from paperlab.papers.movieqa.base import Scorer
from paperlab.papers.movieqa.hasty import HASTY_RULES, HastyStudent
from paperlab.papers.movieqa.searching import SearchingStudent
from paperlab.papers.movieqa.text import make_encoder


def _hasty(rule: str) -> Callable[..., Scorer]:
    def build(representation: str | None, **options: Any) -> Scorer:
        needs_encoder = HASTY_RULES[rule][0]
        return HastyStudent(rule, make_encoder(representation or "tfidf") if needs_encoder
                            else None, **options)
    return build


SCORERS: dict[str, Callable[..., Scorer]] = {
    **{f"hasty-{rule}": _hasty(rule) for rule in HASTY_RULES},
    "searching": lambda rep, **o: SearchingStudent(make_encoder(rep or "tfidf"), **o),
}


def needs_representation(name: str) -> bool:
    """Whether the scorer compares sentences (and so comes once per representation)."""
    return name == "searching" or (name.startswith("hasty-") and HASTY_RULES[name[len("hasty-"):]][0])


def make_scorer(name: str, representation: str | None = None, **options: Any) -> Scorer:
    """A baseline by name; `options` go to its constructor (window)."""
    if name not in SCORERS:
        raise UserError(f"unknown MovieQA scorer '{name}'",
                        f"choose one of: {', '.join(sorted(SCORERS))}")
    return SCORERS[name](representation, **options)
