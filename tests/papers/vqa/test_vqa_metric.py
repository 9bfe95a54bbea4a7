"""The VQA accuracy (Antol et al. 2015, Sec. 4) against the official evaluator: its test vectors,
hand computations, the question-by-question oracle, and every kind of bad results file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import vqa_messy
import vqa_oracle

from paperlab.errors import UserError
from paperlab.papers.vqa.metric import candidate_accuracy, evaluate, vqa_accuracy
from paperlab.papers.vqa.normalize import (
    normalize_answer,
    process_digit_article,
    process_punctuation,
    strip_answer,
)
from paperlab.papers.vqa.vqa_json import read_vqa

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VECTORS = FIXTURES / "vqa_official_eval_vectors.json"
SHARED = Path(__file__).resolve().parents[4] / "shared" / "vqa" / "official_eval_vectors.json"


@pytest.fixture(scope="module")
def vectors() -> list[dict]:
    return json.loads(VECTORS.read_text())


def test_fixture_is_the_shared_copy() -> None:
    if not SHARED.is_file():
        pytest.skip("no ../shared/vqa beside this checkout")
    assert SHARED.read_bytes() == VECTORS.read_bytes()


def test_every_official_vector_matches_2021(vectors: list[dict]) -> None:
    acc = vqa_accuracy([c["pred"] for c in vectors], [c["gts"] for c in vectors], "2021")
    want = np.array([c["acc"] for c in vectors])
    bad = [(c["id"], c["category"], c["acc"], 100 * a) for c, a in zip(vectors, acc, strict=True)
           if abs(100 * a - c["acc"]) > 1e-6]
    assert not bad, bad[:10]
    assert len(vectors) == 1357 and np.abs(100 * acc - want).max() <= 1e-6


def test_pre_2021_variants_match_the_2017_protocol(vectors: list[dict]) -> None:
    acc = vqa_accuracy([c["pred"] for c in vectors], [c["gts"] for c in vectors], "2017")
    checked = 0
    for c, a in zip(vectors, acc, strict=True):
        variants = c.get("variants", {})
        if "pre2021" in variants:
            want = variants["pre2021"]
        elif "py2_master" in variants:
            continue  # Python 2-only behaviour: no Python 3 pre-2021 figure given
        else:
            want = c["acc"]  # no variant: both evaluators agree
        assert abs(100 * a - want) <= 1e-6, (c["id"], c["category"], want, 100 * a)
        checked += 1
    assert checked > 1300


def test_oracle_reproduces_the_vectors(vectors: list[dict]) -> None:
    for c in vectors[::7]:
        assert abs(100 * vqa_oracle.question_accuracy(c["pred"], vqa_oracle.answer_dicts(c["gts"])) - c["acc"]) <= 1e-6


@pytest.mark.parametrize(("text", "want"), [
    ("red,white", "red white"),  # not touching a space: replaced by a space
    ("red, white", "red white"),  # touching a space: deleted
    ("1,000", "1000"),  # digit-comma-digit: every listed character is deleted
    ("t-shirt -", "tshirt "),  # one "-" touches a space, so every "-" goes
    ("3.5", "3.5"),  # a period before a digit stays
    ("yes.", "yes"),
    ("don't", "don't"),  # apostrophes are not in the list
    ("a:b", "a:b"),  # nor are colons
    ("yes" + "." * 40, "yes" + "." * 8),  # at most 32 periods go (re.UNICODE passed as count)
])
def test_punctuation(text: str, want: str) -> None:
    assert process_punctuation(text) == want


@pytest.mark.parametrize(("text", "want"), [
    ("The Two dogs", "2 dogs"), ("an apple", "apple"), ("none", "0"), ("dont", "don't"), ("Dont", "don't"),
    ("Im", "im"),  # the table's capitalised keys never match lower-cased words
    ("  hot   dog ", "hot dog"), ("somebody'd", "somebodyd"), ("a the an", ""),
])
def test_digits_articles_contractions(text: str, want: str) -> None:
    assert process_digit_article(text) == want


def test_strip_and_full_normalisation() -> None:
    assert strip_answer("\tyes\n ") == "yes"
    assert normalize_answer("The two dogs!") == "2 dogs"


def test_annotator_averaging_by_hand() -> None:
    # m humans agree with the prediction; annotator j's share is min(1, matches among the other 9 / 3)
    def humans(m: int) -> list[str]:
        return ["yes"] * m + ["no"] * (10 - m)

    by_hand = {0: 0.0, 1: (1 * 0 + 9 * (1 / 3)) / 10, 2: (2 * (1 / 3) + 8 * (2 / 3)) / 10,
               3: (3 * (2 / 3) + 7 * 1) / 10, 4: 1.0, 10: 1.0}
    acc = vqa_accuracy(["yes"] * len(by_hand), [humans(m) for m in by_hand])
    assert np.allclose(acc, list(by_hand.values()), atol=1e-12)
    assert [round(100 * a, 2) for a in acc] == [0.0, 30.0, 60.0, 90.0, 100.0, 100.0]


def test_protocols_differ_where_documented() -> None:
    same = ["yes"] * 10
    assert vqa_accuracy(["Yes."], [same], "2021")[0] == 0.0  # identical humans: compared verbatim
    assert vqa_accuracy(["Yes."], [same], "2017")[0] == 1.0  # the prediction is always normalised
    mixed = ["two"] * 5 + ["2"] * 5
    assert vqa_accuracy(["2"], [mixed], "2021")[0] == 1.0  # humans normalised too
    assert vqa_accuracy(["2"], [mixed], "2017")[0] == pytest.approx(1.0)  # 5 raw "2"s are enough
    assert vqa_accuracy(["two"], [["two"] * 10], "2017")[0] == 0.0  # "two" -> "2" vs raw "two"


def test_uneven_answer_counts() -> None:
    acc = vqa_accuracy(["a b", "x"], [["a b", "A B", "c"], ["x"] * 10])
    # question 1: normalised (they differ): "a b" twice -> shares (1/3, 1/3, 2/3) / 3
    assert acc[0] == pytest.approx((1 / 3 + 1 / 3 + 2 / 3) / 3) and acc[1] == 1.0


@pytest.mark.parametrize("protocol", ["2021", "2017"])
def test_fast_path_equals_the_question_by_question_oracle(protocol: str) -> None:
    q, a, r = vqa_messy.messy_vqa(3000, seed=3)
    ev = evaluate(a, r, q, protocol)
    qa = {ann["question_id"]: ann for ann in vqa_oracle.fresh(a)["annotations"]}
    ref = vqa_oracle.evaluate(qa, {x["question_id"]: x for x in r}, protocol)
    assert np.array_equal(ev.accuracy, np.array([ref["perQuestion"][i] for i in ev.question_id.tolist()]))
    assert ev.official() == {k: ref[k] for k in ("overall", "perQuestionType", "perAnswerType")}
    assert 40 < ev.overall < 90 and ev.task_type == "Open-Ended"


def test_candidate_table_gives_each_candidate_its_official_score() -> None:
    q, a, _ = vqa_messy.messy_vqa(300, seed=5)
    rec = read_vqa(q, a)
    candidates = ["yes", "no", "2", "two", "red", "Red", "hot dog", "kitchen", "don't know", "1000", "nothing"]
    for protocol in ("2021", "2017"):
        idx, acc = candidate_accuracy(rec, candidates, protocol)
        humans = [rec.human_answers(i) for i in range(len(rec))]
        for c, cand in enumerate(candidates):
            brute = vqa_accuracy([cand] * len(rec), humans, protocol)
            table = (acc * (idx == c)).sum(1)
            assert np.array_equal(table, brute), (protocol, cand)


# -- bad results files: one clear error naming a few offending ids ------------------------------------

ANN = {"annotations": [{"question_id": q, "image_id": 1, "question_type": "is the", "answer_type": "yes/no",
                        "multiple_choice_answer": "yes", "answers": [{"answer": "yes", "answer_id": j} for j in range(10)]}
                       for q in (1, 2, 3)]}


@pytest.mark.parametrize(("results", "needles"), [
    ({"question_id": 1, "answer": "yes"}, ["hold an object", "not a list", "(given in memory)"]),
    ([{"question_id": 1, "answer": "yes"}, {"question_id": 2, "answer": "no"}], ["1 of the 3 annotated", "(3)"]),
    ([{"question_id": q, "answer": "yes"} for q in (1, 2, 3, 3, 2)], ["2 questions more than once", "2, 3"]),
    ([{"question_id": q, "answer": "yes"} for q in (1, 2, 3, 77, 78)], ["not in the annotations", "77, 78"]),
    ([{"question_id": 1, "answer": 5}, {"question_id": 2, "answer": None}, {"question_id": 3, "answer": "no"}],
     ["2 answers are not strings", "question ids 1, 2"]),
    ([{"question_id": "1", "answer": "yes"}], ["not integers", "'1'"]),
    ([{"question_id": 1}], ["lack a question_id or an answer"]),
    ([["not", "an object"]], ["are not objects"]),
])
def test_bad_results_are_one_clear_error(results: object, needles: list[str]) -> None:
    with pytest.raises(UserError) as err:
        evaluate(ANN, results)
    for needle in needles:
        assert needle in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_allow_partial_scores_the_answered_subset() -> None:
    ev = evaluate(ANN, [{"question_id": 1, "answer": "yes"}, {"question_id": 99, "answer": "x"}], allow_partial=True)
    assert ev.partial and ev.question_id.tolist() == [1] and ev.overall == 100.0 and ev.unknown_ids == [99]
    with pytest.raises(UserError, match="none of the annotated"):
        evaluate(ANN, [{"question_id": 99, "answer": "x"}], allow_partial=True)
    with pytest.raises(UserError, match="more than once"):  # still an error: which answer would count?
        evaluate(ANN, [{"question_id": 1, "answer": "yes"}] * 2, allow_partial=True)


def test_multiple_choice_answers_must_be_choices() -> None:
    questions = {"task_type": "Multiple-Choice", "questions": [
        {"question_id": q, "image_id": 1, "question": "is the?", "multiple_choices": ["yes", "no"]} for q in (1, 2, 3)]}
    ok = evaluate(ANN, [{"question_id": q, "answer": "yes"} for q in (1, 2, 3)], questions)
    assert ok.task_type == "Multiple-Choice" and ok.overall == 100.0
    with pytest.raises(UserError, match=r"not among .* multiple choices \(question ids 2\)"):
        evaluate(ANN, [{"question_id": 1, "answer": "yes"}, {"question_id": 2, "answer": "maybe"},
                       {"question_id": 3, "answer": "no"}], questions)


def test_bad_annotation_and_question_files(tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    bad.write_text('{"annotations": [{"question_id": 1}]}')
    with pytest.raises(UserError, match="not in the VQA format.*answers"):
        evaluate(bad, [])
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        evaluate(bad, [])
    with pytest.raises(UserError, match="does not exist"):
        evaluate(tmp_path / "nowhere.json", [])
    other = {"questions": [{"question_id": 9, "image_id": 1, "question": "?"}]}
    with pytest.raises(UserError, match="different questions"):
        evaluate(ANN, [], other)
