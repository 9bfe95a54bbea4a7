"""The VQA v1/v2 JSON formats (Antol et al. 2015, Sec. 3; visualqa.org's download page): reading
them fast and writing them.

    questions file    {"task_type": "Open-Ended" | "Multiple-Choice", "data_subtype": "val2014", ...,
                       "questions": [{"question_id", "image_id", "question", "multiple_choices"?}]}
    annotations file  {"data_subtype": ..., "annotations": [{"question_id", "image_id",
                       "question_type", "answer_type", "multiple_choice_answer",
                       "answers": [{"answer", "answer_confidence", "answer_id"} x 10]}]}
    results file      [{"question_id": int, "answer": str}, ...]

A VQA v2 annotations file is ~170 MB; the stdlib `json` needs seconds to build its millions of
dicts. We decode with msgspec into typed structs that skip the fields nobody reads (answer ids,
confidences), with the garbage collector paused while the objects are created (a collection pass
over millions of fresh objects is most of the cost otherwise), then keep the data column-wise.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from paperlab.errors import UserError

QUESTIONS_LAYOUT = ('{"task_type": ..., "questions": [{"question_id": int, "image_id": int, "question": str, '
                    '"multiple_choices": [str, ...] (multiple-choice only)}]} (VQA v1/v2 questions file)')
ANNOTATIONS_LAYOUT = ('{"annotations": [{"question_id": int, "image_id": int, "question_type": str, '
                      '"answer_type": str, "multiple_choice_answer": str, "answers": [{"answer": str}, ...]}]} '
                      "(VQA v1/v2 annotations file)")
RESULTS_LAYOUT = '[{"question_id": int, "answer": str}, ...]'
OPEN_ENDED, MULTIPLE_CHOICE = "Open-Ended", "Multiple-Choice"


class _Answer(msgspec.Struct, gc=False):
    answer: str


class _Annotation(msgspec.Struct, gc=False):
    question_id: int
    answers: list[_Answer]
    image_id: int = -1
    question_type: str = ""
    answer_type: str = ""
    multiple_choice_answer: str = ""


class _AnnotationFile(msgspec.Struct):
    annotations: list[_Annotation]
    data_subtype: Any = None


class _Question(msgspec.Struct, gc=False):
    question_id: int
    image_id: int = -1
    question: str = ""
    multiple_choices: list[str] | None = None


class _QuestionFile(msgspec.Struct):
    questions: list[_Question]
    task_type: Any = None
    data_subtype: Any = None


class _Result(msgspec.Struct, gc=False):
    # loose types: a wrong type is reported with the offending question ids, not one decode error
    question_id: Any = msgspec.UNSET
    answer: Any = msgspec.UNSET


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection while millions of acyclic objects are created."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode(source: Any, kind: type, what: str, layout: str) -> Any:
    """A path (or bytes, or an already-loaded JSON object) -> typed structs, or a UserError."""
    try:
        with gc_paused():
            if isinstance(source, (str, Path)):
                path = Path(source)
                if not path.is_file():
                    raise UserError(f"{what} file {path} does not exist", f"give the path of a {layout}")
                return msgspec.json.decode(path.read_bytes(), type=kind)
            if isinstance(source, (bytes, bytearray)):
                return msgspec.json.decode(source, type=kind)
            return msgspec.convert(source, type=kind)
    except msgspec.ValidationError as err:  # a subclass of DecodeError: caught first
        raise UserError(f"{what} {describe(source)} are not in the VQA format ({err})", f"expected {layout}") from None
    except msgspec.DecodeError as err:
        raise UserError(f"{what} {describe(source)} are not valid JSON ({err})", f"expected {layout}") from None


@dataclass
class VQARecords:
    """Questions and/or annotations of one split, joined by question id, stored column-wise.

    Rows follow the annotations file (the official evaluator's order), or the questions file when
    there are no annotations (test-dev). Human answers are flat: question i's are
    `answers[answer_start[i]:answer_start[i + 1]]` (ten for VQA)."""

    question_id: np.ndarray
    image_id: np.ndarray
    question: list[str] | None = None
    question_type: list[str] | None = None
    answer_type: list[str] | None = None
    multiple_choice_answer: list[str] | None = None
    answers: list[str] | None = None
    answer_start: np.ndarray | None = None
    multiple_choices: list[list[str]] | None = None
    task_type: str | None = None
    data_subtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a generator's per-question flags

    def __len__(self) -> int:
        return len(self.question_id)

    @property
    def has_answers(self) -> bool:
        return self.answers is not None

    def human_answers(self, i: int) -> list[str]:
        assert self.answers is not None and self.answer_start is not None
        return self.answers[self.answer_start[i] : self.answer_start[i + 1]]

    def subset(self, rows: Sequence[int] | np.ndarray) -> VQARecords:
        """The given rows, in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        picked = rows.tolist()

        def pick(col: list | None) -> list | None:
            return None if col is None else [col[i] for i in picked]

        answers, start = None, None
        if self.answers is not None and self.answer_start is not None:
            counts = (self.answer_start[1:] - self.answer_start[:-1])[rows]
            start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            answers = [a for i in rows.tolist() for a in self.answers[self.answer_start[i] : self.answer_start[i + 1]]]
        extra = {k: np.asarray(v)[rows] for k, v in self.extra.items()}
        return VQARecords(self.question_id[rows], self.image_id[rows], pick(self.question), pick(self.question_type),
                          pick(self.answer_type), pick(self.multiple_choice_answer), answers, start,
                          pick(self.multiple_choices), self.task_type, self.data_subtype, extra)

    # -- writing the official formats -----------------------------------------------------------
    def questions_json(self, **info: Any) -> dict[str, Any]:
        """This split as a VQA questions file (`info` adds e.g. data_type, license)."""
        task = self.task_type or (MULTIPLE_CHOICE if self.multiple_choices is not None else OPEN_ENDED)
        questions = []
        for i in range(len(self)):
            q = {"question_id": int(self.question_id[i]), "image_id": int(self.image_id[i]),
                 "question": self.question[i] if self.question is not None else ""}
            if self.multiple_choices is not None:
                q["multiple_choices"] = list(self.multiple_choices[i])
            questions.append(q)
        return {"info": info.pop("info", {}), "task_type": task, "data_type": info.pop("data_type", "paperlab"),
                "data_subtype": self.data_subtype or "", "license": info.pop("license", {}), **info,
                "questions": questions}

    def annotations_json(self, **info: Any) -> dict[str, Any]:
        """This split as a VQA annotations file."""
        if not self.has_answers:
            raise ValueError("these records have no answers")
        anns = []
        for i in range(len(self)):
            anns.append({
                "question_id": int(self.question_id[i]), "image_id": int(self.image_id[i]),
                "question_type": self.question_type[i] if self.question_type else "",
                "answer_type": self.answer_type[i] if self.answer_type else "",
                "multiple_choice_answer": self.multiple_choice_answer[i] if self.multiple_choice_answer else "",
                "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": j + 1}
                            for j, a in enumerate(self.human_answers(i))],
            })
        return {"info": info.pop("info", {}), "data_type": info.pop("data_type", "paperlab"),
                "data_subtype": self.data_subtype or "", "license": info.pop("license", {}), **info,
                "annotations": anns}

    def write(self, questions_path: str | Path, annotations_path: str | Path | None = None, **info: Any) -> None:
        """Write the questions file (and the annotations file) in the official format."""
        Path(questions_path).parent.mkdir(parents=True, exist_ok=True)
        Path(questions_path).write_text(json.dumps(self.questions_json(**info)))
        if annotations_path is not None:
            Path(annotations_path).write_text(json.dumps(self.annotations_json(**info)))


def _duplicates(ids: np.ndarray) -> np.ndarray:
    uniq, counts = np.unique(ids, return_counts=True)
    return uniq[counts > 1]


def describe(source: Any) -> str:
    """How an error message names an input: its path, or "(given in memory)"."""
    return str(source) if isinstance(source, (str, Path)) else "(given in memory)"


def few(ids: Sequence[Any] | np.ndarray, n: int = 5) -> str:
    """'1, 2, 3, 4, 5 and 12 more': a few offending ids for an error message."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


def read_vqa(questions: Any = None, annotations: Any = None) -> VQARecords:
    """Read a questions file and/or an annotations file (paths, bytes, or loaded JSON objects)."""
    if questions is None and annotations is None:
        raise ValueError("give questions, annotations or both")
    qf = _decode(questions, _QuestionFile, "questions", QUESTIONS_LAYOUT) if questions is not None else None
    af = _decode(annotations, _AnnotationFile, "annotations", ANNOTATIONS_LAYOUT) if annotations is not None else None
    rec: VQARecords
    with gc_paused():
        if af is not None:
            anns = af.annotations
            qid = np.fromiter((a.question_id for a in anns), dtype=np.int64, count=len(anns))
            counts = np.fromiter((len(a.answers) for a in anns), dtype=np.int64, count=len(anns))
            rec = VQARecords(
                question_id=qid,
                image_id=np.fromiter((a.image_id for a in anns), dtype=np.int64, count=len(anns)),
                question_type=[a.question_type for a in anns],
                answer_type=[a.answer_type for a in anns],
                multiple_choice_answer=[a.multiple_choice_answer for a in anns],
                answers=[x.answer for a in anns for x in a.answers],
                answer_start=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                data_subtype=af.data_subtype,
            )
            dup = _duplicates(qid)
            if len(dup):
                raise UserError(f"annotations {describe(annotations)} list question ids more than once ({few(dup)})",
                                "give an annotations file with one entry per question")
            if (counts == 0).any():
                bad = qid[counts == 0]
                raise UserError(f"annotations {describe(annotations)} have questions without human answers ({few(bad)})",
                                f"expected {ANNOTATIONS_LAYOUT}")
        if qf is not None:
            qs = qf.questions
            q_ids = np.fromiter((q.question_id for q in qs), dtype=np.int64, count=len(qs))
            dup = _duplicates(q_ids)
            if len(dup):
                raise UserError(f"questions {describe(questions)} list question ids more than once ({few(dup)})",
                                "give a questions file with one entry per question")
            if af is None:
                rec = VQARecords(question_id=q_ids,
                                 image_id=np.fromiter((q.image_id for q in qs), dtype=np.int64, count=len(qs)))
                order = range(len(qs))
            else:
                order = _align(q_ids, rec.question_id, questions, annotations)
            rec.question = [qs[i].question for i in order]
            rec.task_type = qf.task_type
            rec.data_subtype = rec.data_subtype or qf.data_subtype
            mc = [qs[i].multiple_choices for i in order]
            if any(c is not None for c in mc):
                missing = [int(rec.question_id[i]) for i, c in enumerate(mc) if c is None]
                if missing:
                    raise UserError(f"questions {describe(questions)}: some questions have no multiple_choices ({few(missing)})",
                                    "every question of a multiple-choice file needs its choices")
                rec.multiple_choices = mc
    return rec


def _align(q_ids: np.ndarray, a_ids: np.ndarray, questions: Any, annotations: Any) -> Sequence[int]:
    """Positions in the questions file of the annotations' question ids (same set required)."""
    if len(q_ids) == len(a_ids) and (q_ids == a_ids).all():
        return range(len(q_ids))
    sorter = np.argsort(q_ids)
    pos = np.searchsorted(q_ids, a_ids, sorter=sorter).clip(max=len(q_ids) - 1)
    found = q_ids[sorter[pos]] == a_ids
    if not found.all() or len(q_ids) != len(a_ids):
        extra = np.setdiff1d(q_ids, a_ids)
        raise UserError(f"questions {describe(questions)} and annotations {describe(annotations)} are for different questions "
                        f"({(~found).sum()} annotated ids lack a question, e.g. {few(a_ids[~found])}; "
                        f"{len(extra)} questions lack annotations, e.g. {few(extra)})",
                        "give the questions and annotations files of the same split")
    return sorter[pos].tolist()


def read_results(source: Any) -> tuple[list[Any], list[Any]]:
    """A results file (path, bytes or loaded list) -> (question ids, answers) as given; their types
    are checked by the evaluator, which can then name the offending question ids."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise UserError(f"results file {path} does not exist", f"give a JSON file {RESULTS_LAYOUT}")
        data: Any = path.read_bytes()
    else:
        data = source
    try:
        with gc_paused():
            if isinstance(data, (bytes, bytearray)):
                entries = msgspec.json.decode(data, type=list[_Result])
            else:
                entries = msgspec.convert(data, type=list[_Result])
    except msgspec.ValidationError:  # a subclass of DecodeError: caught first
        raw = msgspec.json.decode(data) if isinstance(data, (bytes, bytearray)) else data
        if not isinstance(raw, list):
            kind = {"dict": "an object", "str": "a string"}.get(type(raw).__name__, type(raw).__name__)
            raise UserError(f"results {describe(source)} hold {kind}, not a list of answers",
                            f"a results file is {RESULTS_LAYOUT}") from None
        bad = [i for i, r in enumerate(raw) if not isinstance(r, dict)]
        raise UserError(f"results {describe(source)}: entries {few(bad)} (0-based) are not objects",
                        f"a results file is {RESULTS_LAYOUT}") from None
    except msgspec.DecodeError as err:
        raise UserError(f"results {describe(source)} are not valid JSON ({err})", f"expected {RESULTS_LAYOUT}") from None
    missing = [i for i, r in enumerate(entries) if r.question_id is msgspec.UNSET or r.answer is msgspec.UNSET]
    if missing:
        raise UserError(f"results {describe(source)}: entries {few(missing)} (0-based) lack a question_id or an answer",
                        f"a results file is {RESULTS_LAYOUT}")
    return [r.question_id for r in entries], [r.answer for r in entries]
