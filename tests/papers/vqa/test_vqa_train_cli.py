"""`paperlab train experiment=vqa_* / mdan_*` on tiny relational scenes with the shipped scene
encoder, in process on the config the command line composes: official scores, attention figures,
the feature cache reused by the next run, and the bad inputs (long questions cut with a warning,
unknown words, a feature cache from another encoder)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import raises_user_error, task_config

from paperlab.papers.vqa.data import WordVocab
from paperlab.papers.vqa.learner import truncate_questions
from paperlab.tasks import train

TINY_DATA = ["data.train_images=40", "data.val_images=6", "data.test_images=10"]
TINY_RUN = ["trainer.max_epochs=1", "trainer.batch_size=32", "trainer.progress=false", "trainer.log_every_n_steps=5"]


def _train(overrides: list[str], run: Path) -> dict:
    """`paperlab train OVERRIDES`, in process, into `run`."""
    return train.run(task_config("train", overrides), run_dir=run)


def test_rdan_trains_scores_draws_and_reuses_the_feature_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PAPERLAB_CACHE", str(cache))  # paths.cache= sets it for the process: put back afterwards
    args = ["experiment=vqa_rdan", *TINY_DATA, *TINY_RUN, f"paths.cache={cache}", "model.hidden=16",
            "model.embed_dim=8", "vqa.max_question_len=6", "vqa.attention_examples=3"]
    run = tmp_path / "a"
    with caplog.at_level(logging.INFO):
        _train(args, run)
    # "what shape is the object closest to the red object?" has 10 words: cut, with a warning
    assert any("longer than vqa.max_question_len=6 words" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)
    results = json.loads((run / "results.json").read_text())
    for key in ("test/open_ended/overall", "test/open_ended/yes/no", "test/multiple_choice/overall",
                "test/open_ended/relational", "test/attention/named_share_step1"):
        assert 0 <= results[key] <= 100, key
    assert results["encoder"].startswith("scene_cnn@")
    answers = json.loads((run / "predictions" / "test_OpenEnded.json").read_text())
    assert len(answers) == 80 and {"question_id", "answer"} <= set(answers[0])
    assert (run / "figures" / "attention.png").stat().st_size > 10_000
    (features,) = (cache / "features").glob("*.h5")
    with h5py.File(features) as f:
        assert f.attrs["encoder"] == results["encoder"] and f["regions"].shape[1:] == (64, 64)
    stamp = features.stat().st_mtime_ns
    # the next run (another model, same images and encoder) reads the cache instead of the CNN
    caplog.clear()
    with caplog.at_level(logging.INFO):
        _train(["experiment=vqa_bow_q_i", *TINY_DATA, *TINY_RUN, f"paths.cache={cache}", "model.mlp_hidden=16"],
               tmp_path / "b")
    assert any("(cached)" in r.getMessage() for r in caplog.records) and features.stat().st_mtime_ns == stamp
    # a cache written by another encoder is refused, never reused
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["image_id"] = np.arange(56)
        f["features"] = np.zeros((56, 4), dtype=np.float32)
        f.attrs["encoder"] = "vgg16@0123456789abcdef"
    with raises_user_error("was computed by encoder 'vgg16@0123456789abcdef'", "never reused"):
        _train(["experiment=vqa_bow_q_i", *TINY_DATA, *TINY_RUN, f"paths.cache={cache}", f"encoder.cache={other}"],
               tmp_path / "c")


def test_mdan_trains_and_reports_recall_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path / "c"))  # paths.cache= sets it for the process: put back afterwards
    run = tmp_path / "run"
    _train(["experiment=mdan_sort_of_clevr", *TINY_DATA, *TINY_RUN, f"paths.cache={tmp_path / 'c'}",
            "model.hidden=16", "model.embed_dim=8", "matching.fold_size=5", "matching.attention_examples=2"], run)
    final = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    for way in ("i2t", "t2i"):
        r1, r5, r10 = (final[f"test/{way}_r{k}"] for k in (1, 5, 10))
        assert 0 <= r1 <= r5 <= r10 <= 100
    assert final["test/t2i_r5"] == 100  # folds of 5 images: a caption's image is always among the top 5
    assert (run / "figures" / "attention.png").is_file()


def test_long_questions_are_cut_with_a_warning(tiny_sort_of_clevr, caplog: pytest.LogCaptureFixture) -> None:
    split = tiny_sort_of_clevr.splits["val"]
    longest = int(split.question_len.max())
    row = int(split.question_len.argmax())
    before, lengths = split.__getitems__([row])["question"][0], split.question_len.clone()
    try:
        with caplog.at_level(logging.WARNING):
            truncate_questions(tiny_sort_of_clevr, longest - 2)
        assert any(f"max_question_len={longest - 2}" in r.message for r in caplog.records)
        after = split.__getitems__([row])["question"][0]
        assert int(split.question_len.max()) == longest - 2 and torch.equal(after, before[: longest - 2])
    finally:
        split.question_len = lengths  # the fixture is shared


def test_unknown_words_become_the_unknown_token(tiny_sort_of_clevr) -> None:
    vocab = WordVocab(tiny_sort_of_clevr.info.question_vocab)
    ids = vocab.encode("What shape is the zebra-striped object?")
    assert ids[:4] == [vocab.index[w] for w in ("what", "shape", "is", "the")] and 1 in ids
    assert vocab.words[1] == "<unk>" and 1 not in vocab.encode("what shape is the red object?")
