"""SSCB and MemN2N trained with the shared engine (`paperlab train`, learner=movieqa) on a tiny
embedded set: 20 steps that lower the loss, the internal dev split as the engine's `val`, the
Extras that give back a usable scorer through load_model, the release's test split scored as
"no labels", resume equality, and one-line errors for a model or settings that do not fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import raises_user_error, task_config

from paperlab.engine.restore import load_model
from paperlab.papers.movieqa.data import MovieQAData
from paperlab.papers.movieqa.embedded import load_embedded
from paperlab.papers.movieqa.evaluation import read_predictions
from paperlab.papers.movieqa.learned import LearnedStudent
from paperlab.papers.movieqa.learner import MovieQAExtras, MovieQALearner
from paperlab.tasks import train

TINY = ["data.movies=12", "trainer.progress=false", "trainer.log_every_n_steps=1", "trainer.batch_size=16"]
SSCB = ["experiment=movieqa_sscb", "movieqa.representation=[tfidf]", *TINY]
# the original MemN2N (learned word vectors): no sentence encoder to load in a fast test
MEMN2N = ["experiment=movieqa_memn2n", "movieqa.word_vectors=learned", "model.embed_dim=16", "model.proj_dim=16",
          "model.freeze_embedding=false", *TINY]


@pytest.fixture(autouse=True)
def setup(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # the embedded set is generated into a cache of the tests' own; one thread for tiny tensors
    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path_factory.getbasetemp() / "movieqa_cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def losses(run: Path) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in records if "train/loss" in r]


@pytest.mark.parametrize("recipe, lr", [(SSCB, 0.03), (MEMN2N, 0.01)], ids=["sscb", "memn2n"])
def test_twenty_engine_steps_lower_the_loss(recipe: list[str], lr: float, tmp_path: Path) -> None:
    cfg = task_config("train", [*recipe, "trainer.max_steps=20", f"optim.lr={lr}"])
    results = train.run(cfg, run_dir=tmp_path / "run")
    loss = losses(tmp_path / "run")
    assert len(loss) == 20 and np.isfinite(loss).all()
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 0.05
    # the engine's val is the internal dev split; the release's val is reported as test and per type
    assert 0 <= results["val/acc"] <= 100 and results["test/acc"] == pytest.approx(results["release/val/acc"], abs=0.01)
    assert any(k.startswith("release/val/acc_") for k in results)
    assert results["release/test/status"] == "no labels"
    preds = read_predictions(tmp_path / "run" / "predictions" / "test.txt")
    assert preds and all(q.startswith("test:") and 0 <= a < 5 for q, a in preds.items())
    if recipe is MEMN2N:
        assert sorted(p.name for p in (tmp_path / "run" / "figures").glob("attention_*.png"))[0].startswith("attention_0_")


@pytest.fixture(scope="module")
def sscb_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("sscb") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERLAB_CACHE", str(tmp_path_factory.getbasetemp() / "movieqa_cache"))
        train.run(task_config("train", [*SSCB, "trainer.max_epochs=2"]), run_dir=where)
    return where


def test_extras_give_back_the_scorer(sscb_run: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    loaded = load_model(sscb_run, kind="movieqa")
    extras = loaded.extras
    assert isinstance(extras, MovieQAExtras) and extras.model == "sscb" and extras.story == "split_plot"
    assert extras.representation == ["tfidf"] and extras.tfidf["vocabulary"] and len(extras.channel_mean) == 2
    release = load_embedded(tmp_path_factory.getbasetemp() / "movieqa_cache", seed=0, n_movies=12)
    train_movies = release.splits["train"]
    assert set(extras.dev_movies) < set(train_movies) and len(extras.dev_movies) == round(0.2 * len(train_movies))
    # the rebuilt scorer answers the release's val split as the run itself did
    data = MovieQAData("movieqa_embedded", release, "split_plot")
    stories, qas = data.split("val")
    scores = LearnedStudent.load(sscb_run).score_all(stories, qas)
    written = read_predictions(sscb_run / "predictions" / "val.txt")
    assert {qa.qid: int(s.argmax()) for qa, s in zip(qas, scores, strict=True)} == written


def test_release_test_split_is_no_labels_not_wrong(tmp_path: Path) -> None:
    cfg = task_config("train", [*SSCB, "trainer.max_steps=2", "movieqa.test_split=test", "movieqa.predict=[test]"])
    results = train.run(cfg, run_dir=tmp_path / "run")
    assert "test/acc" not in results and results["test/questions"] > 0  # scored as no labels, not 0%
    assert results["release/test/status"] == "no labels"
    assert len(read_predictions(tmp_path / "run" / "predictions" / "test.txt")) == results["test/questions"]


def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path: Path) -> None:
    straight = task_config("train", [*SSCB, "trainer.max_epochs=4"])
    train.run(straight, run_dir=tmp_path / "straight")
    train.run(task_config("train", [*SSCB, "trainer.max_epochs=2"]), run_dir=tmp_path / "stopped")
    train.run(straight, run_dir=tmp_path / "stopped", resume=True)
    a = torch.load(tmp_path / "straight/checkpoints/last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "stopped/checkpoints/last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("overrides, needles", [
    ([*SSCB, "model=zfnet"], ["model=zfnet is not a MovieQA model", "model=sscb or model=memn2n"]),
    ([*MEMN2N, "movieqa.word_vectors=minilm"], ["384-d", "model.embed_dim=384"]),
    ([*MEMN2N, "model.freeze_embedding=true"], ["model.freeze_embedding=false"]),
    ([*SSCB, "movieqa.dev_fraction=1.5"], ["dev_fraction=1.5"]),
    ([*SSCB, "data.story=subtitles"], ["unknown story source 'subtitles'", "dvs, plot, script, split_plot, subtitle"]),
    ([*SSCB, "data.story=dvs"], ["no question of the train split has a dvs story", "plot, split_plot, subtitle"]),
], ids=["model", "minilm-dim", "learned-frozen", "dev", "story", "source-absent"])
def test_bad_settings_are_one_line(overrides: list[str], needles: list[str]) -> None:
    cfg = task_config("train", overrides)
    with raises_user_error(*needles):
        MovieQALearner(cfg)
