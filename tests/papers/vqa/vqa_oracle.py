"""Test oracle: a straightforward, question-by-question implementation of the official VQA
evaluator (GT-Vision-Lab/VQA: `vqa.py` loading + `vqaEval.py` evaluate), written plainly so it
can be checked against the official code line by line. The fast evaluator
(paperlab.papers.vqa.metric) must give exactly its numbers; benchmarks/vqa_eval.py times the two.

Only the tables (punctuation list, number words, articles, contractions, the two regexes) come
from paperlab; they are pinned by the official test vectors in test_vqa_metric.py.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from paperlab.papers.vqa.normalize import (
    ARTICLES,
    COMMA_STRIP,
    CONTRACTIONS,
    NUMBER_WORDS,
    PERIOD_STRIP,
    PUNCT,
)


def process_punctuation(in_text: str) -> str:
    out_text = in_text
    for p in PUNCT:
        if (p + " " in in_text or " " + p in in_text) or (re.search(COMMA_STRIP, in_text) is not None):
            out_text = out_text.replace(p, "")
        else:
            out_text = out_text.replace(p, " ")
    return PERIOD_STRIP.sub("", out_text, re.UNICODE)  # sic: the flag lands in `count`


def process_digit_article(in_text: str) -> str:
    out_text = []
    for word in in_text.lower().split():
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            out_text.append(word)
    for i, word in enumerate(out_text):
        if word in CONTRACTIONS:
            out_text[i] = CONTRACTIONS[word]
    return " ".join(out_text)


def _clean(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def question_accuracy(pred: str, answers: list[dict[str, Any]], protocol: str = "2021") -> float:
    """One question, as the official loop body does it (answer dicts are modified in place)."""
    res_ans = _clean(pred)
    if protocol == "2021":
        for ans in answers:
            ans["answer"] = _clean(ans["answer"])
        if len({a["answer"] for a in answers}) > 1:
            for ans in answers:
                ans["answer"] = process_digit_article(process_punctuation(ans["answer"]))
            res_ans = process_digit_article(process_punctuation(res_ans))
    else:  # the code before 2021
        res_ans = process_digit_article(process_punctuation(res_ans))
        if len({a["answer"] for a in answers}) > 1:
            for ans in answers:
                ans["answer"] = process_punctuation(ans["answer"])
    gt_acc = []
    for gt in answers:
        others = [item for item in answers if item != gt]
        matching = [item for item in others if item["answer"] == res_ans]
        gt_acc.append(min(1, float(len(matching)) / 3))
    return float(sum(gt_acc)) / len(gt_acc)


def answer_dicts(answers: list[str]) -> list[dict[str, Any]]:
    return [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)]


def _seq_sum(values: list[float]) -> float:
    # Python 2's sum (the reference platform): plain left-to-right addition
    total = 0.0
    for v in values:
        total += v
    return total


def _mean(values: list[float]) -> float:
    return round(100 * _seq_sum(values) / len(values), 2)


def load(annotation_file: str, question_file: str, result_file: str) -> tuple[dict, dict, list]:
    """The official loading: VQA(annotations, questions) then loadRes(results, questions)."""
    with open(annotation_file) as f:
        dataset = json.load(f)
    with open(question_file) as f:
        questions = json.load(f)
    qa = {ann["question_id"]: ann for ann in dataset["annotations"]}
    qqa = {q["question_id"]: q for q in questions["questions"]}
    with open(question_file) as f:  # loadRes reads the questions file again
        json.load(f)
    with open(result_file) as f:
        anns = json.load(f)
    assert isinstance(anns, list), "results is not an array of objects"
    assert {a["question_id"] for a in anns} == set(qa), "Results do not correspond to current VQA set"
    res = {}
    for ann in anns:
        q = qa[ann["question_id"]]
        ann["image_id"], ann["question_type"], ann["answer_type"] = q["image_id"], q["question_type"], q["answer_type"]
        res[ann["question_id"]] = ann
    return qa, qqa, res


def evaluate(qa: dict, res: dict, protocol: str = "2021") -> dict[str, Any]:
    """The official evaluate(): per-question accuracy and the rounded aggregates."""
    acc_qa, by_qtype, by_atype, per_question = [], {}, {}, {}
    for qid in qa:
        gts = qa[qid]
        acc = question_accuracy(res[qid]["answer"], gts["answers"], protocol)
        acc_qa.append(acc)
        by_qtype.setdefault(gts["question_type"], []).append(acc)
        by_atype.setdefault(gts["answer_type"], []).append(acc)
        per_question[qid] = acc
    return {
        "overall": _mean(acc_qa),
        "perQuestionType": {k: _mean(v) for k, v in by_qtype.items()},
        "perAnswerType": {k: _mean(v) for k, v in by_atype.items()},
        "perQuestion": per_question,  # unrounded avgGTAcc
    }


def evaluate_files(annotation_file: str, question_file: str, result_file: str, protocol: str = "2021") -> dict:
    qa, _, res = load(annotation_file, question_file, result_file)
    return evaluate(qa, res, protocol)


def fresh(qa: dict) -> dict:
    """The official evaluate modifies the annotations in place: evaluate a copy to run twice."""
    return copy.deepcopy(qa)
