"""The embedded MovieQA-like set: deterministic from its seed, written in the release format and
read back through the real loader, split by movie, wrong answers from the same story."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from paperlab.errors import UserError
from paperlab.papers.movieqa.embedded import (
    QTYPES,
    cap,
    load_embedded,
    make_movie,
    questions,
    write_embedded,
    write_plot,
)
from paperlab.papers.movieqa.release import MovieQARelease
from paperlab.papers.movieqa.text import words


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> MovieQARelease:
    return load_embedded(tmp_path_factory.mktemp("emb"), seed=3, n_movies=20)


def test_deterministic_from_the_seed(tmp_path: Path) -> None:
    a = write_embedded(tmp_path / "a", seed=5, n_movies=8)
    b = write_embedded(tmp_path / "b", seed=5, n_movies=8)
    c = write_embedded(tmp_path / "c", seed=6, n_movies=8)
    assert tree(a) == tree(b)
    assert tree(a) != tree(c)
    # the i-th movie does not depend on how many are generated
    d = write_embedded(tmp_path / "d", seed=5, n_movies=10)
    name = "story/split_plot/tt9000003.split.wiki"
    assert tree(a)[name] == tree(d)[name]


def test_written_as_a_release(tmp_path: Path) -> None:
    root = write_embedded(tmp_path, seed=0, n_movies=6)
    for rel in ("data/qa.json", "data/movies.json", "data/splits.json",
                "story/plot/tt9000000.wiki", "story/split_plot/tt9000000.split.wiki",
                "story/subtt/tt9000000.srt"):
        assert (root / rel).is_file(), rel
    srt = (root / "story/subtt/tt9000000.srt").read_text()
    assert srt.startswith("1\n00:") and " --> " in srt
    qa = json.loads((root / "data/qa.json").read_text())[0]
    assert set(qa) == {"qid", "imdb_key", "question", "answers", "correct_index",
                       "plot_alignment", "video_clips"}
    assert write_embedded(tmp_path, seed=0, n_movies=6) == root  # reused, not rewritten


def test_loads_through_the_real_loader(release: MovieQARelease) -> None:
    for source, least in (("plot", 2), ("split_plot", 10), ("subtitle", 20)):
        stories, qas = release.story_qa("full", source)
        assert len(stories) == 20 and len(qas) == len(release.qas)
        assert all(len(s) >= least for s in stories.values())  # paragraphs / sentences
    assert {qa.qtype for qa in release.qas} == set(QTYPES)
    # the dialogue merging reassembles sentences broken over cues
    subtitle = [s for v in release.story_qa("full", "subtitle")[0].values() for s in v]
    assert all(s[-1] in ".!?" for s in subtitle)


def test_splits_are_movie_disjoint_and_test_answers_withheld(release: MovieQARelease) -> None:
    splits = release.splits
    assert set(splits["train"]).isdisjoint(splits["val"])
    assert set(splits["train"]).isdisjoint(splits["test"])
    assert set(splits["val"]).isdisjoint(splits["test"])
    assert sorted(k for s in splits.values() for k in s) == sorted(release.movies)
    for qa in release.qas:
        assert qa.imdb_key in splits[qa.split]
        assert (qa.correct_index is None) == (qa.split == "test")


def test_answers_come_from_the_same_story(release: MovieQARelease) -> None:
    stories, _ = release.story_qa("full", "split_plot")
    for qa in release.qas:
        assert len(set(qa.answers)) == 5
        if qa.qtype == "who":  # names are never paraphrased: all five are in this plot
            story_words = {w for s in stories[qa.imdb_key] for w in words(s)}
            assert {a.lower() for a in qa.answers} <= story_words


def test_wrong_answers_are_the_movies_own_entities() -> None:
    rng = random.Random(11)
    movie = make_movie(rng, "tt9000000")
    write_plot(rng, movie)
    entities = {
        "who": {c.name for c in movie.cast},
        "what": {cap(o[0]) for o in movie.objects},
        "where": {cap(f"{p} {f[0]}") for p, f in movie.places},
        "why": {cap(e.motive[0]) for e in movie.events},
        "how": {cap(e.means[0]) for e in movie.events},
    }
    for qa in questions(rng, movie):
        assert set(qa["answers"]) <= entities[words(qa["question"])[0]]


def test_plot_alignment_points_at_the_event(release: MovieQARelease) -> None:
    stories, qas = release.story_qa("train", "split_plot")
    for qa in qas:
        if qa.qtype == "who":
            lines = [stories[qa.imdb_key][i] for i in qa.plot_alignment]
            # the agent, or a pronoun / role standing for it, is the subject of the first line
            assert lines and lines[0].split()[0] in (qa.answers[qa.correct_index], "He", "She",
                                                     "The")


def test_too_few_movies(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="n_movies=2"):
        write_embedded(tmp_path, n_movies=2)
