"""The MovieQA release loader against the tiny release of movieqa_fixtures, written in the real
on-disk formats (data/qa.json, data/movies.json, data/splits.json, story/plot/*.wiki,
story/split_plot/*.split.wiki, story/subtt/*.srt, story/script/*.script, story/dvs/*.dvs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from movieqa_fixtures import qa, write_release

from paperlab.errors import UserError
from paperlab.papers.movieqa.release import MovieQARelease, question_type
from paperlab.papers.movieqa.stories import read_dvs, read_subtitle, story_reader


def test_questions_movies_and_splits(tmp_path: Path) -> None:
    rel = MovieQARelease(write_release(tmp_path))
    assert [q.qid for q in rel.qas] == ["train:0", "val:1", "test:2"]
    first = rel.qas[0]
    assert first.answers[0] == "Smith" and len(first.answers) == 5
    assert first.correct_index == 0 and first.split == "train" and first.number == 0
    assert first.plot_alignment == (1,) and first.video_clips == ("tt0000001.sf-1.mp4",)
    assert rel.qas[2].correct_index is None
    assert rel.movies["tt0000002"].year == "2001"
    assert rel.split_movies("full") == ["tt0000001", "tt0000002", "tt0000003"]
    assert first.qtype == "who" and question_type("  Why does he?") == "why"


def test_plot_split_plot_script_dvs_and_subtitle(tmp_path: Path) -> None:
    rel = MovieQARelease(write_release(tmp_path))
    key = "tt0000001"
    assert rel.story(key, "plot") == ["Neo meets Morpheus. He takes the red pill.",
                                      "Smith kills Neo in the Matrix."]
    assert rel.story(key, "split_plot") == ["Neo meets Morpheus.", "He takes the red pill.",
                                            "Smith kills Neo in the Matrix."]
    assert rel.story(key, "script") == ["INT. ROOM - NIGHT", "NEO", "Whoa."]
    assert rel.story(key, "dvs") == ["Neo looks up at the sky.", "He flies away."]
    # lines continue until one ends in . ! ? : ) (story_loader._read_subtitle), tags removed
    assert rel.story(key, "subtitle") == [
        "Trinity, do you know what the Matrix is?", "Ignorance is bliss.",
        "It exists now only as part of a simulation (SIGHS)", "We call it the Matrix."]


def test_story_qa_keeps_movies_with_that_source(tmp_path: Path) -> None:
    rel = MovieQARelease(write_release(tmp_path))
    stories, qas = rel.story_qa("full", "subtitle")
    assert list(stories) == ["tt0000001"] and [q.qid for q in qas] == ["train:0"]
    stories, qas = rel.story_qa("test", "split_plot")
    assert stories == {"tt0000003": ["A comedy."]} and [q.qid for q in qas] == ["test:2"]


def test_subtitle_in_latin1_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "x.srt"
    path.write_bytes("1\r\n00:00:01,000 --> 00:00:02,000\r\nCaf\xe9 au lait?\r\n".encode("latin-1"))
    assert read_subtitle(path) == ["Café au lait?"]
    assert read_dvs(path) == ["Café au lait?"]


def test_answers_not_five_names_the_question(tmp_path: Path) -> None:
    root = write_release(tmp_path, [qa("train:7", "tt0000001", 0, ["a", "b", "c", "d"])])
    with pytest.raises(UserError, match=r"question train:7 has 4 answers"):
        MovieQARelease(root)


def test_missing_story_file_names_movie_and_path(tmp_path: Path) -> None:
    rel = MovieQARelease(write_release(tmp_path, drop="story/subtt/tt0000001.srt"))
    with pytest.raises(UserError) as err:
        rel.story_qa("train", "subtitle")
    msg = str(err.value)
    assert "tt0000001" in msg and str(tmp_path / "story/subtt/tt0000001.srt") in msg
    assert "\n" not in msg


def test_unknown_story_source_lists_the_valid_ones(tmp_path: Path) -> None:
    rel = MovieQARelease(write_release(tmp_path))
    with pytest.raises(UserError, match="dvs, plot, script, split_plot, subtitle"):
        rel.story_qa("train", "subtitles")
    with pytest.raises(UserError, match="unknown story source 'novel'"):
        story_reader("novel")


@pytest.mark.parametrize("bad, match", [
    ({"correct_index": 5}, "correct_index 5"),
    ({"qid": "dev:1"}, "bad qid 'dev:1'"),
    ({"imdb_key": "tt9"}, "not in movies.json"),
])
def test_other_bad_questions(tmp_path: Path, bad: dict, match: str) -> None:
    root = write_release(tmp_path, [{**qa("train:0", "tt0000001", 0), **bad}])
    with pytest.raises(UserError, match=match):
        MovieQARelease(root)


def test_missing_release_and_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="movies.json not found"):
        MovieQARelease(tmp_path)
    rel = MovieQARelease(write_release(tmp_path / "r"))
    with pytest.raises(UserError, match="train, val, test, full"):
        rel.split_movies("dev")
