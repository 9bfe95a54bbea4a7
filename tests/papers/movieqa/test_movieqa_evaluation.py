"""Accuracy overall and by first word, the test split's withheld answers scored as "no labels",
and the evaluation-server submission format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paperlab.errors import UserError
from paperlab.papers.movieqa.evaluation import evaluate, read_predictions, write_predictions
from paperlab.papers.movieqa.release import QA

A = ("a", "b", "c", "d", "e")


def qa(qid: str, question: str, correct: int | None) -> QA:
    return QA(qid, "tt1", question, A, correct)


def test_accuracy_overall_and_by_first_word() -> None:
    qas = [qa("val:0", "Who is it?", 0), qa("val:1", "who runs?", 1), qa("val:2", "Why?", 2),
           qa("val:3", "What now?", 3), qa("val:4", "Who else?", 4)]
    scores = np.eye(5)[[0, 2, 2, 3, 1]]  # right, wrong, right, right, wrong
    report = evaluate(qas, scores)
    assert report.accuracy == pytest.approx(60.0) and report.status == "scored"
    assert report.per_type == {"who": (pytest.approx(100 / 3), 3), "why": (100.0, 1),
                               "what": (100.0, 1)}
    assert evaluate(qas, np.array([0, 1, 2, 3, 4])).accuracy == 100.0  # indices work too
    assert "60.00" in report.table()


def test_test_split_without_answers_is_no_labels_not_wrong(tmp_path: Path) -> None:
    qas = [qa("test:3", "Who?", None), qa("test:1", "Why?", None), qa("test:20", "How?", None)]
    report = evaluate(qas, np.eye(5)[[1, 4, 0]])
    assert report.status == "no labels" and report.accuracy is None and report.n_labelled == 0
    assert "no labels" in report.table()
    path = write_predictions(tmp_path / "sub" / "test.txt", qas, np.eye(5)[[1, 4, 0]])
    assert path.read_text() == "test:1 4\ntest:3 1\ntest:20 0\n"  # qid order, one per line
    assert read_predictions(path) == {"test:1": 4, "test:3": 1, "test:20": 0}


def test_mixed_labels_score_only_the_labelled() -> None:
    qas = [qa("val:0", "Who?", 2), qa("test:0", "Who?", None)]
    report = evaluate(qas, np.array([2, 3]))
    assert report.accuracy == 100.0 and report.n_labelled == 1 and report.n_questions == 2


def test_bad_predictions(tmp_path: Path) -> None:
    qas = [qa("val:0", "Who?", 2)]
    with pytest.raises(UserError, match="2 predictions for 1 questions"):
        evaluate(qas, np.array([1, 2]))
    with pytest.raises(UserError, match="outside 0..4"):
        evaluate(qas, np.array([5]))
    bad = tmp_path / "p.txt"
    bad.write_text("test:0 3\ntest:1\n")
    with pytest.raises(UserError, match="p.txt:2"):
        read_predictions(bad)
