"""VQA accuracy (Antol et al. 2015, Sec. 4 "Evaluation"), identical to the official evaluator
(GT-Vision-Lab/VQA, `vqaEval.py`) and much faster.

An answer's accuracy is min(#humans that gave it / 3, 1), averaged over the ten subsets of nine of
the ten human answers: annotator j's share is min(1, #matches among the *other* nine / 3). Answers
are compared after the official normalisation (`vqa_normalize`), applied as each protocol says:

* ``2021`` (the official master since 2021, the default): newlines/tabs/outer spaces are stripped
  from every answer; *only when the ten stripped human answers are not all the same* are the human
  answers and the prediction normalised (punctuation, then lower case, number words, articles,
  contractions). So against ten identical answers "Yes" does not match "yes".
* ``2017`` (the code before 2021, used for the VQA challenges up to 2020): the prediction is always
  stripped and normalised; the human answers are not stripped, and get only the punctuation step,
  only when the ten raw answers differ.

Numbers are bit-identical to the official code on Python 2 (the reference platform): per-question
accuracies are summed annotator by annotator, totals question by question (not pairwise), and
the reported figures are Python's `round(100 * x, 2)`. Where the official code differs from this:
it drops *every* answer record equal (as a dict) to the left-out one, which in the VQA files
(answer ids 1..10) is exactly one; and on Python >= 3.12 its `sum` is compensated, which can move
a total by one unit in the last place (never a rounded figure in practice).

Why it is fast: each distinct answer string is normalised once (the official code normalises
2.1M human answers one by one, with 21 substring scans and a regex search each), strings become
integer keys, and the matching and averaging are array operations over all questions at once.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paperlab.errors import UserError
from paperlab.papers.vqa.normalize import normalize_answer, process_punctuation, strip_answer
from paperlab.papers.vqa.vqa_json import (
    MULTIPLE_CHOICE,
    OPEN_ENDED,
    RESULTS_LAYOUT,
    VQARecords,
    describe,
    few,
    read_results,
    read_vqa,
)

log = logging.getLogger(__name__)

PROTOCOLS = ("2021", "2017")
DECIMALS = 2  # the official evaluator's `n`

_FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "stripped": strip_answer,
    "punct": process_punctuation,  # 2017: human answers get the punctuation step only, unstripped
    "normalized": lambda s: normalize_answer(strip_answer(s)),
}


def check_protocol(protocol: Any) -> str:
    p = str(protocol)
    if p not in PROTOCOLS:
        raise UserError(f"unknown VQA evaluation protocol '{protocol}'",
                        "use 2021 (the official evaluator since 2021) or 2017 (the earlier one)")
    return p


class AnswerKeys:
    """Distinct answer strings (integer ids) and, per string, an integer key for each form the
    protocol compares. Two answers match when their keys of the same form are equal. Each form of
    each distinct string is computed once, when first needed."""

    def __init__(self, protocol: str = "2021") -> None:
        self.protocol = check_protocol(protocol)
        self.index: dict[str, int] = {}
        self.strings: list[str] = []
        self._keys: dict[str, int] = {}
        self._forms: dict[str, np.ndarray] = {}

    def ids(self, strings: Iterable[str]) -> np.ndarray:
        index = self.index
        ids = np.array([index.setdefault(s, len(index)) for s in strings], dtype=np.int64)
        self.strings.extend(itertools.islice(index, len(self.strings), None))
        return ids

    def form(self, name: str, ids: np.ndarray) -> np.ndarray:
        """Keys of form `name` for string ids (any shape)."""
        table = self._forms.get(name, np.empty(0, dtype=np.int64))
        if len(table) < len(self.strings):
            table = np.concatenate([table, np.full(len(self.strings) - len(table), -1, dtype=np.int64)])
            self._forms[name] = table
        todo = np.unique(ids[table[ids] < 0])
        if len(todo):
            fn, keys = _FORMS[name], self._keys
            table[todo] = [keys.setdefault(fn(self.strings[i]), len(keys)) for i in todo.tolist()]
        return table[ids]

    def human_keys(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, K) human answer ids (rows padded with their first id) -> (keys, differ): `differ`
        says whether the question's answers are normalised (they are not all the same)."""
        base, alt = ("stripped", "normalized") if self.protocol == "2021" else ("raw", "punct")
        keys = self.form(base, ids)
        differ = (keys != keys[:, :1]).any(axis=1)
        if differ.any():
            keys[differ] = self.form(alt, ids[differ])
        return keys, differ

    def prediction_keys(self, ids: np.ndarray, differ: np.ndarray) -> np.ndarray:
        if self.protocol == "2017":
            return self.form("normalized", ids)
        keys = self.form("stripped", ids)
        if differ.any():
            keys[differ] = self.form("normalized", ids[differ])
        return keys


def _padded(ids: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids + row starts -> (N, K) ids (short rows padded with their first id) and a mask."""
    counts = np.diff(start)
    n, k = len(counts), int(counts.max()) if len(counts) else 0
    if n and (counts == k).all():
        return ids.reshape(n, k), np.ones((n, k), dtype=bool)
    rows = np.repeat(np.arange(n), counts)
    cols = np.arange(len(ids)) - np.repeat(start[:-1], counts)
    valid = np.zeros((n, k), dtype=bool)
    valid[rows, cols] = True
    out = np.repeat(ids[start[:-1]][:, None], k, axis=1)
    out[rows, cols] = ids
    return out, valid


def match_accuracy(human: np.ndarray, valid: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Leave-one-annotator-out accuracy from keys: mean over annotators j of
    min(1, #other annotators whose key equals the prediction's / 3), summed in annotator order."""
    match = (human == prediction[:, None]) & valid
    m = match.sum(axis=1)
    share = np.minimum(1.0, (m[:, None] - match) / 3.0)
    share[~valid] = 0.0
    total = share[:, 0].copy()
    for j in range(1, share.shape[1]):  # sequential, like the official sum(gtAcc)
        total += share[:, j]
    return total / valid.sum(axis=1)


def score_ids(keys: AnswerKeys, prediction_ids: np.ndarray, answer_ids: np.ndarray,
              answer_start: np.ndarray) -> np.ndarray:
    """Per-question accuracy in [0, 1] from string ids (see `vqa_accuracy`)."""
    human_ids, valid = _padded(answer_ids, answer_start)
    human, differ = keys.human_keys(human_ids)
    return match_accuracy(human, valid, keys.prediction_keys(prediction_ids, differ))


def _flatten(human_answers: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    counts = np.fromiter((len(a) for a in human_answers), dtype=np.int64, count=len(human_answers))
    if len(counts) and counts.min() == 0:
        raise ValueError("every question needs at least one human answer")
    return [a for answers in human_answers for a in answers], np.concatenate([[0], np.cumsum(counts)])


def vqa_accuracy(predictions: Sequence[str], human_answers: Sequence[Sequence[str]],
                 protocol: str = "2021") -> np.ndarray:
    """The official accuracy of each prediction against its question's human answers, in [0, 1]
    (the official per-question figure is `round(100 * acc, 2)`)."""
    if len(predictions) != len(human_answers):
        raise ValueError(f"{len(predictions)} predictions for {len(human_answers)} questions")
    keys = AnswerKeys(protocol)
    flat, start = _flatten(human_answers)
    return score_ids(keys, keys.ids(predictions), keys.ids(flat), start)


def candidate_accuracy(records: VQARecords, candidates: Sequence[str],
                       protocol: str = "2021") -> tuple[np.ndarray, np.ndarray]:
    """For every question, the candidate answers (e.g. a model's answer vocabulary) that would
    score above zero if predicted, and their official accuracy.

    Returns (index, accuracy), both (N, M): indices into `candidates` (-1 pads) and accuracies in
    [0, 1]. A model that predicts candidate c for question i scores `accuracy[i][index[i] == c]`
    (0 if absent): exactly what the official evaluator gives the string candidates[c]. These are
    also the soft training targets of the VQA literature."""
    if not records.has_answers:
        raise ValueError("these records have no human answers")
    n, c = len(records), len(candidates)
    if not n or not c:
        return np.full((n, 1), -1, dtype=np.int64), np.zeros((n, 1))
    keys = AnswerKeys(protocol)
    human_ids, valid = _padded(keys.ids(records.answers), records.answer_start)
    human, differ = keys.human_keys(human_ids)
    cand_ids = keys.ids(candidates)
    k = human.shape[1]
    # a candidate's key as a prediction, for questions whose answers are (1) or are not (0) normalised
    cand_keys = [keys.prediction_keys(cand_ids, np.full(c, mode)) for mode in (False, True)]
    codes = []
    for mode in (False, True):
        rows = np.flatnonzero(differ == mode)
        if not len(rows):
            continue
        order = np.argsort(cand_keys[mode], kind="stable")
        sorted_keys = cand_keys[mode][order]
        h = human[rows]
        lo = np.searchsorted(sorted_keys, h, "left").ravel()
        hits = ((np.searchsorted(sorted_keys, h, "right").ravel() - lo) * valid[rows].ravel())
        q = np.repeat(np.repeat(rows, k), hits)
        offset = np.arange(hits.sum()) - np.repeat(np.cumsum(hits) - hits, hits)
        codes.append(q * c + order[np.repeat(lo, hits) + offset])
    code = np.unique(np.concatenate(codes))
    q, cand = code // c, code % c
    acc = match_accuracy(human[q], valid[q], np.where(differ[q], cand_keys[1][cand], cand_keys[0][cand]))
    per_q = np.bincount(q, minlength=n)
    m = max(int(per_q.max()), 1)
    col = np.arange(len(q)) - np.repeat(np.cumsum(per_q) - per_q, per_q)
    index = np.full((n, m), -1, dtype=np.int64)
    accuracy = np.zeros((n, m), dtype=np.float64)
    index[q, col] = cand
    accuracy[q, col] = acc
    return index, accuracy


def official_mean(acc: np.ndarray) -> float:
    """round(100 * sum / count, 2) with the sum taken in order, as the official setAccuracy."""
    total = float(np.cumsum(acc)[-1]) if len(acc) else 0.0
    return round(100 * total / max(len(acc), 1), DECIMALS)


def _by_group(labels: Sequence[str], acc: np.ndarray) -> dict[str, float]:
    """Official mean per label, labels in order of first appearance."""
    names = list(dict.fromkeys(labels))
    codes = {name: i for i, name in enumerate(names)}
    inv = np.fromiter((codes[x] for x in labels), dtype=np.int64, count=len(labels))
    return {name: official_mean(acc[inv == i]) for i, name in enumerate(names)}


@dataclass
class VQAEvaluation:
    """The outcome of one evaluation: per-question accuracies and the official aggregates."""

    protocol: str
    task_type: str
    question_id: np.ndarray
    accuracy: np.ndarray  # per question, in [0, 1]: the official avgGTAcc, unrounded
    answer_type: list[str]
    question_type: list[str]
    prediction: list[str]
    n_annotated: int  # questions in the annotations
    unknown_ids: list[int] = field(default_factory=list)  # result ids not in the annotations (partial)

    @property
    def partial(self) -> bool:
        return len(self.question_id) < self.n_annotated or bool(self.unknown_ids)

    @property
    def overall(self) -> float:
        return official_mean(self.accuracy)

    def per_answer_type(self) -> dict[str, float]:
        return _by_group(self.answer_type, self.accuracy)

    def per_question_type(self) -> dict[str, float]:
        return _by_group(self.question_type, self.accuracy)

    def per_question(self) -> dict[int, float]:
        """{question id: round(100 * acc, 2)}: the official `evalQA`."""
        uniq, inv = np.unique(self.accuracy, return_inverse=True)
        rounded = np.array([round(100 * float(u), DECIMALS) for u in uniq])[inv]
        return dict(zip(self.question_id.tolist(), rounded.tolist(), strict=True))

    def official(self) -> dict[str, Any]:
        """The official evaluator's `accuracy` dict."""
        return {"overall": self.overall, "perQuestionType": self.per_question_type(),
                "perAnswerType": self.per_answer_type()}


def _check_results(records: VQARecords, ids: list[Any], answers: list[Any], source: Any,
                   allow_partial: bool) -> tuple[np.ndarray, list[str], list[int]]:
    """(rows of `records` that were answered, their answers, ignored unknown ids) or a UserError."""
    fix = f"a results file is {RESULTS_LAYOUT}"
    bad = [q for q in ids if type(q) is not int]
    if bad:
        raise UserError(f"results {source}: {len(bad)} question ids are not integers ({few(map(repr, bad))})", fix)
    bad = [q for q, a in zip(ids, answers, strict=True) if type(a) is not str]
    if bad:
        raise UserError(f"results {source}: {len(bad)} answers are not strings (question ids {few(bad)})", fix)
    res_ids = np.array(ids, dtype=np.int64)
    uniq, counts = np.unique(res_ids, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1]
        raise UserError(f"results {source} answer {len(dup)} questions more than once (question ids {few(dup)})",
                        "give exactly one answer per question")
    unknown = res_ids[~np.isin(res_ids, records.question_id)]
    sorter = np.argsort(res_ids)
    pos = np.searchsorted(res_ids, records.question_id, sorter=sorter).clip(max=max(len(res_ids) - 1, 0))
    found = res_ids[sorter[pos]] == records.question_id if len(res_ids) else np.zeros(len(records), dtype=bool)
    missing = records.question_id[~found]
    if (len(unknown) or len(missing)) and not allow_partial:
        problems = []
        if len(unknown):
            problems.append(f"{len(unknown)} question ids are not in the annotations ({few(unknown)})")
        if len(missing):
            problems.append(f"{len(missing)} of the {len(records)} annotated questions have no answer ({few(missing)})")
        raise UserError(f"results {source} do not match the annotations: {'; '.join(problems)}",
                        "answer exactly the annotated questions, or pass --allow-partial (allow_partial=True) "
                        "to score the answered ones only")
    rows = np.flatnonzero(found)
    if not len(rows):
        raise UserError(f"results {source} answer none of the annotated questions",
                        "check that the results and the annotations are for the same split")
    return rows, [answers[i] for i in sorter[pos[found]].tolist()], unknown.tolist()


def evaluate(annotations: Any, results: Any, questions: Any = None, protocol: str = "2021",
             allow_partial: bool = False) -> VQAEvaluation:
    """Score a results file against an annotations file as the official evaluator does.

    Each argument is a path, bytes, or the loaded JSON. With a multiple-choice questions file
    (`multiple_choices` per question) every answer must be one of its question's choices; the
    accuracy is the same. `allow_partial` scores the answered questions only (and ignores ids
    that are not annotated) instead of refusing an incomplete results file."""
    protocol = check_protocol(protocol)
    records = read_vqa(questions, annotations)
    ids, answers = read_results(results)
    return evaluate_records(records, ids, answers, protocol, allow_partial, source=results)


def evaluate_records(records: VQARecords, ids: list[Any], answers: list[Any], protocol: str = "2021",
                     allow_partial: bool = False, source: Any = None) -> VQAEvaluation:
    """`evaluate` on loaded records and results (question ids and answers as given)."""
    protocol = check_protocol(protocol)
    if not records.has_answers:
        raise UserError("the annotations have no human answers", "give the annotations file of the split")
    rows, predictions, unknown = _check_results(records, ids, answers, describe(source), allow_partial)
    task = MULTIPLE_CHOICE if records.multiple_choices is not None else OPEN_ENDED
    if records.multiple_choices is not None:
        choices = records.multiple_choices
        bad = [int(records.question_id[r]) for r, a in zip(rows.tolist(), predictions, strict=True) if a not in choices[r]]
        if bad:
            raise UserError(f"results {describe(source)}: {len(bad)} answers are not among their question's multiple choices "
                            f"(question ids {few(bad)})", "pick every answer from the question's multiple_choices")
    used = records
    if len(rows) < len(records):
        log.warning("scoring %d of the %d annotated questions (partial results)", len(rows), len(records))
        used = records.subset(rows)
    keys = AnswerKeys(protocol)
    acc = score_ids(keys, keys.ids(predictions), keys.ids(used.answers), used.answer_start)
    return VQAEvaluation(protocol, task, used.question_id, acc, used.answer_type, used.question_type,
                         predictions, len(records), unknown)
