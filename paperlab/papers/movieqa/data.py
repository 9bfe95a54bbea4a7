"""The MovieQA datasets by name (`data=`), read with one story source (`data.story`), and the
internal dev split of the training movies (Tapaswi et al. 2016, Sec. 3 and Sec. 4.2):

    movieqa            the real release (release.MovieQARelease) from data.root, else paths.data/movieqa
    movieqa_embedded   the offline stand-in (embedded.py), generated once under paths.cache

Sec. 4.2 trains SSCB on "80% train / 20% val, keeping all questions of the same movie in the same
split" of the training set, and keeps the replica best on that 20%: `dev_movies` draws it, seeded,
by movie; the release's own val split stays the one the paper reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.errors import UserError
from paperlab.papers.movieqa.embedded import load_embedded
from paperlab.papers.movieqa.release import QA, SPLITS, MovieQARelease
from paperlab.papers.movieqa.stories import STORY_READERS, story_reader
from paperlab.paths import cache_dir, data_dir

Stories = dict[str, list[str]]
LAYOUT = "data/qa.json, data/movies.json, data/splits.json and story/ (plot, split_plot, subtt, ...)"


@dataclass
class MovieQAData:
    """A MovieQA release and the story source its students read."""

    name: str
    release: MovieQARelease
    story: str
    _read: dict[str, tuple[Stories, list[QA]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        story_reader(self.story)  # an unknown source: one line listing the valid ones

    def sources(self, split: str | None = None) -> list[str]:
        """The story sources this release has for at least one movie (of `split`)."""
        keys = self.release.split_movies(split) if split else list(self.release.movies)
        return [s for s in STORY_READERS if any(self.release.story_path(k, s) is not None for k in keys)]

    def split(self, split: str) -> tuple[Stories, list[QA]]:
        """The stories (by imdb key) of a split's movies that have this source, and their
        questions; every story file is read here, so a missing one stops before any work."""
        if split not in SPLITS:
            raise UserError(f"unknown MovieQA split '{split}'", f"choose one of: {', '.join(SPLITS)}")
        if split not in self._read:
            stories, qas = self.release.story_qa(split, self.story)
            if not qas:
                raise UserError(f"no question of the {split} split has a {self.story} story in {self.release.root}",
                                f"choose a story source its {split} movies have: {', '.join(self.sources(split))}")
            self._read[split] = stories, qas
        return self._read[split]


def dev_movies(keys: Sequence[str], fraction: float, seed: int) -> set[str]:
    """A seeded random `fraction` of the training movies (at least one, never all of them)."""
    keys = sorted(set(keys))
    if len(keys) < 2 or fraction <= 0:
        return set()
    n = min(len(keys) - 1, max(1, round(fraction * len(keys))))
    return set(np.random.default_rng(seed).permutation(keys)[:n].tolist())


@register_data("movieqa")
def movieqa_release(cfg: DictConfig) -> MovieQAData:
    """The MovieQA release (Tapaswi et al. 2016) in its own layout, from data.root."""
    story_reader(str(cfg.story))
    root = Path(str(cfg.root)).expanduser() if cfg.get("root") else data_dir("movieqa")
    if not root.is_dir():
        raise UserError(f"the MovieQA release is not at {root}",
                        f"give data.root=DIR, the folder of the MovieQA_benchmark release with {LAYOUT}")
    return MovieQAData("movieqa", MovieQARelease(root), str(cfg.story))


@register_data("movieqa_embedded")
def movieqa_embedded(cfg: DictConfig) -> MovieQAData:
    """The offline MovieQA-like set, written once in the release layout under paths.cache."""
    story_reader(str(cfg.story))
    release = load_embedded(cache_dir(), seed=int(cfg.seed), n_movies=int(cfg.movies))
    return MovieQAData("movieqa_embedded", release, str(cfg.story))
