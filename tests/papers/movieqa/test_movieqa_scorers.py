"""Hasty and searching students against hand computations on a three-sentence story, with a
binary bag-of-words representation whose cosines are |A & B| / sqrt(|A| |B|); and the TF-IDF
representation against scikit-learn's formula worked out by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import log, sqrt

import numpy as np
import pytest

from paperlab.errors import UserError
from paperlab.papers.movieqa.hasty import HastyStudent, answer_lengths
from paperlab.papers.movieqa.release import QA
from paperlab.papers.movieqa.scorers import SCORERS, make_scorer
from paperlab.papers.movieqa.searching import SearchingStudent, window_sums
from paperlab.papers.movieqa.text import TfidfEncoder, words


class BagEncoder:
    """Binary bag of words, unit norm: cos(A, B) = |A & B| / sqrt(|A| |B|)."""

    name = "bag"

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}

    def fit(self, stories: Mapping[str, Sequence[str]]) -> BagEncoder:
        return self

    def warm(self, texts: Sequence[str]) -> None:
        pass

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        for t in texts:
            for w in words(t):
                self.vocab.setdefault(w, len(self.vocab))
        out = np.zeros((len(texts), 64))
        for i, t in enumerate(texts):
            for w in set(words(t)):
                out[i, self.vocab[w]] = 1.0
            out[i] /= max(np.linalg.norm(out[i]), 1e-12)
        return out


STORY = ["Anna hides the ledger.", "Boris finds the ledger in the cellar.", "Anna sleeps."]
QUESTION = "Who finds the ledger?"
ANSWERS = ["Anna", "Boris", "cellar", "ledger Anna", "nobody"]


def test_answer_length_rules() -> None:
    answers = ["Anna", "The old sailor", "Boris", "A red car", "Nobody"]
    lengths = np.array([4, 14, 5, 9, 6])  # characters of the lower-cased words, spaces kept
    assert answer_lengths(answers).tolist() == lengths.tolist()
    score = {r: HastyStudent(r).score(STORY, QUESTION, answers)
             for r in ("longest", "shortest", "different")}
    assert np.allclose(score["longest"], lengths) and score["longest"].argmax() == 1
    assert np.allclose(score["shortest"], -lengths) and score["shortest"].argmax() == 0
    assert np.allclose(score["different"], np.abs(lengths - 7.6))  # mean length 38 / 5


def test_within_answer_and_question_answer_rules() -> None:
    answers = ["red car", "red boat", "blue car", "green tree", "red car park"]
    # cosines: (0,1) = (0,2) = 1/2, (0,4) = 2/sqrt(6), (1,4) = (2,4) = 1/sqrt(6), the rest 0
    c04, c14 = 2 / sqrt(6), 1 / sqrt(6)
    distances = np.array([0.5 + 0.5 + 1 + (1 - c04), 0.5 + 1 + 1 + (1 - c14),
                          0.5 + 1 + 1 + (1 - c14), 4.0, (1 - c04) + 2 * (1 - c14) + 1])
    similar = HastyStudent("within-similar", BagEncoder()).score([], "", answers)
    distinct = HastyStudent("within-distinct", BagEncoder()).score([], "", answers)
    assert np.allclose(similar, -distances) and similar.argmax() == 0
    assert np.allclose(distinct, distances) and distinct.argmax() == 3
    # question {who, parks, the, red, car}: cos with {red, car} = 2 / sqrt(10), ...
    qa = HastyStudent("qa-similar", BagEncoder()).score([], "Who parks the red car?", answers)
    assert np.allclose(qa, [2 / sqrt(10), 1 / sqrt(10), 1 / sqrt(10), 0, 2 / sqrt(15)])


def test_searching_student_eq2_by_hand() -> None:
    # g(s, q): s0 {anna hides the ledger} . q {who finds the ledger} = 2/4, s1 = 3/sqrt(24), s2 = 0
    gq = np.array([2 / 4, 3 / sqrt(24), 0.0])
    ga = np.array([  # g(s_k, a_j): rows sentences, columns answers
        [1 / 2, 0, 0, 2 / sqrt(8), 0],
        [0, 1 / sqrt(6), 1 / sqrt(6), 1 / sqrt(12), 0],
        [1 / sqrt(2), 0, 0, 1 / 2, 0],
    ])
    total = gq[:, None] + ga
    one = SearchingStudent(BagEncoder(), window=1).score(STORY, QUESTION, ANSWERS)
    assert np.allclose(one, total.max(0))
    assert one.argmax() == 3  # "ledger Anna" matches the first sentence best
    two = SearchingStudent(BagEncoder(), window=2).score(STORY, QUESTION, ANSWERS)
    assert np.allclose(two, np.maximum(total[0] + total[1], total[1] + total[2]))
    whole = SearchingStudent(BagEncoder(), window=10).score(STORY, QUESTION, ANSWERS)
    assert np.allclose(whole, total.sum(0))  # a window longer than the story is the story


def test_window_sums_against_a_loop() -> None:
    x = np.random.default_rng(0).normal(size=(7, 5))
    for h in (1, 3, 7):
        naive = np.stack([x[i: i + h].sum(0) for i in range(7 - h + 1)])
        assert np.allclose(window_sums(x, h), naive)


def test_tfidf_by_hand() -> None:
    enc = TfidfEncoder().fit({"m1": ["Anna hides the ledger."], "m2": ["Anna finds the map."]})
    idf_one = log(3 / 2) + 1  # smooth idf ln((1 + n) / (1 + df)) + 1 with n = 2, df = 1
    vec = enc.encode(["anna anna ledger", "the"]).toarray()
    vocab = enc.vectorizer.vocabulary_
    assert "the" not in vocab  # English stop word
    expected = np.array([(1 + log(2)) * 1.0, idf_one])  # sublinear tf; idf(anna) = 1 (df = 2)
    expected /= np.linalg.norm(expected)
    assert np.allclose(vec[0, [vocab["anna"], vocab["ledger"]]], expected)
    assert np.isclose(np.linalg.norm(vec[0]), 1.0) and not vec[1].any()


def test_score_all_and_predict_follow_questions() -> None:
    qas = [QA("val:0", "m", QUESTION, tuple(ANSWERS), 1),
           QA("val:1", "m", "Who sleeps?", tuple(ANSWERS), 0)]
    student = SearchingStudent(BagEncoder()).fit({"m": STORY}, qas)
    scores = student.score_all({"m": STORY}, qas)
    assert scores.shape == (2, 5) and student.predict({"m": STORY}, qas)[1] == 0
    with pytest.raises(UserError, match="no story for movie"):
        student.score_all({}, qas)


def test_factory_by_name() -> None:
    assert make_scorer("hasty-longest").name == "hasty-longest"
    assert make_scorer("hasty-qa-similar", "tfidf").name == "hasty-qa-similar-tfidf"
    assert make_scorer("searching", "tfidf", window=3).name == "searching-tfidf-w3"
    with pytest.raises(UserError) as err:
        make_scorer("cheating")
    assert ", ".join(sorted(SCORERS)) in str(err.value)
    with pytest.raises(UserError, match="choose one of: minilm, tfidf"):
        make_scorer("searching", "word2vec")
    with pytest.raises(UserError, match="window=0"):
        make_scorer("searching", "tfidf", window=0)


@pytest.mark.slow
def test_sentence_encoder_offline_unit_norm_paraphrase_and_disk_cache(tmp_path, monkeypatch) -> None:
    from paperlab.papers.movieqa import text

    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(text, "_SENTENCE_CACHE", {})
    sentences = ["Anna conceals the journal in the basement.", "Anna hides the diary in the cellar.",
                 "The weather turns cold."]
    vecs = text.SentenceEncoder().encode(sentences)
    assert vecs.shape == (3, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2  # the paraphrase is the closer one
    # a later process finds them on disk, and embeds nothing
    assert len(list(text.shard_dir().glob("*.npz"))) == 1
    monkeypatch.setattr(text, "_SENTENCE_CACHE", {})
    monkeypatch.setattr(text, "_SHARDS_READ", set())
    monkeypatch.setattr(text, "load_sentence_model", lambda device: pytest.fail("embedded again"))
    assert np.array_equal(text.SentenceEncoder().encode(sentences[::-1]), vecs[::-1])
