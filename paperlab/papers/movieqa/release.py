"""The MovieQA release on disk (Tapaswi et al. 2016, Sec. 3; makarandtapaswi/MovieQA_benchmark):

    <root>/data/qa.json       [{qid "train:N"|"val:N"|"test:N", imdb_key, question, answers[5],
                                correct_index (null on test), plot_alignment, video_clips}]
    <root>/data/movies.json   [{imdb_key, name, year, genre, text: {plot, subtitle, dvs, script}}]
    <root>/data/splits.json   {"train": [imdb_key...], "val": [...], "test": [...]}
    <root>/story/...          the story files named in movies.json "text" (paths relative to
                              <root>), and story/split_plot/<imdb_key>.split.wiki

The json files are also accepted directly in <root>. As the reference `get_story_qa_data`, a
split's stories of one source are those of its movies that have that source (movies.json gives
null otherwise), and its questions are those about these movies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperlab.errors import UserError
from paperlab.papers.movieqa.stories import STORY_READERS, story_reader

NUM_ANSWERS = 5  # Sec. 3: "five possible answers; a correct one and four deceiving answers"
SPLITS = ("train", "val", "test")
QID = re.compile(r"^(train|val|test):\d+$")


def question_type(question: str) -> str:
    """The question's first word, lower-cased (the paper's breakdown by "first word")."""
    words = re.findall(r"[a-z0-9']+", question.lower())
    return words[0] if words else ""


@dataclass(frozen=True)
class QA:
    qid: str
    imdb_key: str
    question: str
    answers: tuple[str, ...]
    correct_index: int | None  # None on the test split: the answers are withheld
    plot_alignment: tuple[int, ...] = ()  # split_plot line numbers the question was written on
    video_clips: tuple[str, ...] = ()

    @property
    def split(self) -> str:
        return self.qid.split(":")[0]

    @property
    def number(self) -> int:
        return int(self.qid.split(":")[1])

    @property
    def qtype(self) -> str:
        return question_type(self.question)


@dataclass(frozen=True)
class Movie:
    imdb_key: str
    name: str
    year: str
    genre: str
    text: dict[str, str | None]  # story source -> path relative to the release root, or None


def _parse_qa(item: dict[str, Any], movies: dict[str, Movie]) -> QA:
    qid = str(item.get("qid", "?"))
    if not QID.match(qid):
        raise UserError(f"qa.json: bad qid '{qid}'", "qids are 'train:N', 'val:N' or 'test:N'")
    answers = item.get("answers")
    if not isinstance(answers, list) or len(answers) != NUM_ANSWERS:
        n = len(answers) if isinstance(answers, list) else 0
        raise UserError(f"qa.json: question {qid} has {n} answers, not {NUM_ANSWERS}",
                        "every MovieQA question has five answer options; fix or drop it in qa.json")
    correct = item.get("correct_index")
    if correct is not None and (isinstance(correct, bool) or correct not in range(NUM_ANSWERS)):
        raise UserError(f"qa.json: question {qid} has correct_index {correct!r}",
                        "correct_index is 0..4, or null where the answer is withheld")
    key = item.get("imdb_key")
    if key not in movies:
        raise UserError(f"qa.json: question {qid} is about movie {key!r}, not in movies.json",
                        "use the qa.json and movies.json of the same release")
    return QA(qid=qid, imdb_key=key, question=str(item.get("question", "")),
              answers=tuple("" if a is None else str(a) for a in answers),
              correct_index=correct,
              plot_alignment=tuple(int(i) for i in item.get("plot_alignment") or ()),
              video_clips=tuple(str(c) for c in item.get("video_clips") or ()))


class MovieQARelease:
    """Questions, movies, splits and stories of one MovieQA release folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.movies = {m["imdb_key"]: Movie(imdb_key=m["imdb_key"], name=m.get("name", ""),
                                             year=str(m.get("year", "")), genre=m.get("genre", ""),
                                             text=dict(m.get("text") or {}))
                       for m in self._json("movies.json")}
        splits = self._json("splits.json")
        if not all(s in splits for s in SPLITS):
            raise UserError(f"splits.json in {self.root} lacks one of {', '.join(SPLITS)}",
                            "give splits.json a list of imdb keys for train, val and test")
        self.splits: dict[str, list[str]] = {s: list(splits[s]) for s in SPLITS}
        self.qas = [_parse_qa(item, self.movies) for item in self._json("qa.json")]

    def _json(self, name: str) -> Any:
        for path in (self.root / "data" / name, self.root / name):
            if path.is_file():
                return json.loads(path.read_text(encoding="utf-8"))
        raise UserError(f"{name} not found in {self.root} (nor in {self.root / 'data'})",
                        "point the loader at the MovieQA release folder (data/ and story/)")

    def split_movies(self, split: str) -> list[str]:
        """The imdb keys of a split; "full" is all three."""
        if split == "full":
            return [k for s in SPLITS for k in self.splits[s]]
        if split not in SPLITS:
            raise UserError(f"unknown split '{split}'", "choose one of: train, val, test, full")
        return self.splits[split]

    def story_path(self, imdb_key: str, source: str) -> Path | None:
        """Where the story of a movie is, or None where the release has no such story for it."""
        story_reader(source)
        movie = self.movies[imdb_key]
        if source == "split_plot":  # not in movies.json: every movie with a plot has one
            return self.root / "story" / "split_plot" / f"{imdb_key}.split.wiki" \
                if movie.text.get("plot") else None
        rel = movie.text.get(source)
        return self.root / rel if rel else None

    def story(self, imdb_key: str, source: str) -> list[str]:
        """The story sentences of one movie."""
        path = self.story_path(imdb_key, source)
        if path is None:
            raise UserError(f"movie {imdb_key} has no {source} story in this release",
                            "choose a story source movies.json lists for it")
        if not path.is_file():
            raise UserError(f"the {source} story of movie {imdb_key} is missing: expected {path}",
                            "extract the story archives of the release into its story/ folder")
        return STORY_READERS[source](path)

    def story_qa(self, split: str, source: str) -> tuple[dict[str, list[str]], list[QA]]:
        """The stories of a split's movies that have this source, and their questions."""
        keys = [k for k in self.split_movies(split) if self.story_path(k, source) is not None]
        stories = {k: self.story(k, source) for k in keys}
        qas = [qa for qa in self.qas if qa.imdb_key in stories]
        return stories, qas
