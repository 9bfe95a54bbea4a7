"""`paperlab movieqa` in process, on the config its command line composes: every kind of baseline
on a tiny embedded set (the learned ones trained with the engine, the best of several
initialisations on the internal dev split kept), the release's test split scored as "no labels"
on a release written in the real format, and one line, nothing written, for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_user_error, raises_user_error, run_cli, task_config
from movieqa_fixtures import qa, write_release

from paperlab.papers.movieqa import baselines
from paperlab.papers.movieqa.embedded import load_embedded
from paperlab.papers.movieqa.evaluation import read_predictions

LEARNED = ['learned_overrides=["trainer.max_steps=12","trainer.batch_size=16","trainer.progress=false"]',
           "learned.sscb-tfidf.inits=2",
           'learned.memn2n-learned.train=["experiment=movieqa_memn2n","movieqa.word_vectors=learned",'
           '"model.embed_dim=16","model.proj_dim=16","model.freeze_embedding=false"]']


@pytest.fixture(autouse=True)
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow  # about 20 s: two SSCB initialisations and a memory network trained
def test_every_kind_of_baseline_on_a_tiny_embedded_set(tmp_path: Path) -> None:
    cfg = task_config("movieqa", ["data.movies=12", "representations=[tfidf]", "windows=[1,2]", *LEARNED,
                                  "baselines=[hasty-longest,hasty-qa-similar,searching,sscb-tfidf,memn2n-learned]"])
    results = baselines.run(cfg, run_dir=tmp_path / "run")
    run = tmp_path / "run"
    names = ["hasty-longest", "hasty-qa-similar-tfidf", "searching-tfidf-w1", "searching-tfidf-w2", "sscb-tfidf",
             "memn2n-learned"]
    release = load_embedded(tmp_path / "cache", seed=0, n_movies=12)
    val = [q for q in release.qas if q.split == "val"]
    for name in names:
        # accuracy overall and per first word, recounted from the written predictions
        preds = read_predictions(run / "predictions" / f"{name}.val.txt")
        assert sorted(preds) == sorted(q.qid for q in val)
        hits = [preds[q.qid] == q.correct_index for q in val]
        assert results[f"val/{name}/acc"] == pytest.approx(100 * np.mean(hits), abs=0.01)
        for qtype in {q.qtype for q in val}:
            of_type = [preds[q.qid] == q.correct_index for q in val if q.qtype == qtype]
            assert results[f"val/{name}/acc_{qtype}"] == pytest.approx(100 * np.mean(of_type), abs=0.01)
    # two SSCB initialisations, each a `paperlab train` run; the one best on the dev split kept
    per_init = results["val/sscb-tfidf/dev_acc_per_init"]
    assert len(per_init) == 2 and (run / "sscb-tfidf_seed0" / "checkpoints" / "best.pt").is_file()
    assert results["val/sscb-tfidf/best_init"] == f"sscb-tfidf_seed{int(np.argmax(per_init))}"
    assert json.loads((run / "sscb-tfidf_seed1" / "run.json").read_text())["status"] == "completed"
    assert len(list((run / "figures" / "memn2n-learned").glob("attention_*.png"))) == 2
    assert json.loads((run / "results.json").read_text())["val/hasty-longest/acc"] == results["val/hasty-longest/acc"]


def test_release_test_split_gives_predictions_and_no_labels(tmp_path: Path) -> None:
    root = write_release(tmp_path / "release")
    cfg = task_config("movieqa", ["data=movieqa", f"data.root={root}", "split=test", "representations=[tfidf]",
                                  "windows=[1]", "baselines=[hasty-longest,searching]"])
    results = baselines.run(cfg, run_dir=tmp_path / "run")
    for name in ("hasty-longest", "searching-tfidf-w1"):
        assert results[f"test/{name}/status"] == "no labels" and f"test/{name}/acc" not in results
        assert (tmp_path / "run" / "predictions" / f"{name}.test.txt").read_text() in (f"test:2 {i}\n" for i in range(5))
    # the longest answer, by hand: "Morpheus" (8 characters)
    assert read_predictions(tmp_path / "run" / "predictions" / "hasty-longest.test.txt") == {"test:2": 2}


BAD_INPUT = [
    ({"qas": [qa("train:0", "tt0000001", 0, ["a", "b", "c", "d"])]}, [], ["question train:0 has 4 answers, not 5"]),
    ({"drop": "story/subtt/tt0000001.srt"}, ["--story", "subtitle"],
     ["the subtitle story of movie tt0000001 is missing", "story/subtt/tt0000001.srt"]),
    ({}, ["--story", "subtitles"], ["unknown story source 'subtitles'", "dvs, plot, script, split_plot, subtitle"]),
    ({}, ["--story", "dvs", "--split", "test"], ["no question of the test split has a dvs story",
                                                 "its test movies have: plot, split_plot"]),
    ({}, ["baselines=[hasty-longest,oracle]"], ["unknown MovieQA baseline 'oracle'", "hasty-longest", "sscb-fusion"]),
    ({}, ["--split", "train"], ["split=val or split=test"]),
    ({}, ["data=fashion_mnist"], ["data=fashion_mnist is not a MovieQA dataset", "movieqa, movieqa_embedded"]),
    ({}, ["windows=[0]"], ["windows=[0]", ">= 1"]),
]


@pytest.mark.parametrize("release, args, needles", BAD_INPUT,
                         ids=["answers-not-five", "story-missing", "story-source", "source-absent", "baseline",
                              "split", "not-movieqa", "window"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, release: dict, args: list[str],
                                                  needles: list[str]) -> None:
    """Through the command line: one line, exit 2, and the folder it ran in stays empty (the config
    and the data it names are checked before the run directory exists)."""
    root = write_release(tmp_path / "release", **release)
    here = tmp_path / "cwd"
    here.mkdir()
    assert_user_error(run_cli("movieqa", "data=movieqa", f"data.root={root}", "baselines=[hasty-longest]", *args,
                              cwd=here), *needles)
    assert list(here.iterdir()) == []


def test_bad_input_in_process_writes_no_run(tmp_path: Path) -> None:
    """`run(cfg)` called without the command line checks the same before opening its run."""
    root = write_release(tmp_path / "release", drop="story/plot/tt0000002.wiki")
    cfg = task_config("movieqa", ["data=movieqa", f"data.root={root}", "data.story=plot", "baselines=[hasty-longest]"])
    with raises_user_error("the plot story of movie tt0000002 is missing"):
        baselines.run(cfg, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
