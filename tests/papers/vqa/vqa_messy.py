"""A generated VQA v2-like evaluation set with messy answers, in the official JSON formats.

Human answers and predictions vary in case, punctuation, periods, articles, number words,
contractions, commas in numbers and stray whitespace; a given share of the questions has ten
identical human answers (so the 2021 protocol's "normalise only when the answers differ" rule is
exercised both ways). Used by the metric tests (small) and benchmarks/vqa_eval.py (VQA v2 val size).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VQA_V2_VAL_QUESTIONS = 214_354
QUESTION_TYPES = {  # question type -> answer type (a few of the 65 VQA types)
    "is the": "yes/no", "is this": "yes/no", "are there": "yes/no", "does the": "yes/no", "is there a": "yes/no",
    "how many": "number", "how many people are": "number", "what number is": "number",
    "what": "other", "what color is the": "other", "what is the": "other", "what kind of": "other",
    "where is the": "other", "what sport is": "other", "why": "other", "what is the man": "other",
}
OTHER = ["red", "white", "blue", "black", "tennis", "baseball", "frisbee", "dog", "cat", "man", "woman",
         "kitchen", "pizza", "table", "grass", "water", "sky", "street", "t-shirt", "hot dog", "red and white",
         "white and blue", "skateboarding", "surfing", "left", "right", "on table", "in the sky", "don't know",
         "its raining", "can't tell", "3.5", "1,000", "2:30", "teddy bear", "cell phone", "50%", "$5", "n/a",
         "black & white", "parking meter", "dont know", "1:00", "wii", "mcdonald's", "yes, it is", "fire hydrant"]
NUMBERS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "15", "20", "100"]
NUMBER_WORDS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
                "7": "seven", "8": "eight", "9": "nine", "10": "ten"}


def variants(answer: str) -> list[str]:
    """Messy ways a person (or a model) writes the same answer."""
    out = [answer, answer, answer.capitalize(), answer.upper(), answer + ".", answer + "!", f" {answer} ",
           f"the {answer}", f"a {answer}", answer + "?", answer.replace(" ", "  "), answer + "\n",
           answer.replace("'", ""), answer.replace("n't", "nt").replace("'s", "s"), f"{answer}..", f"({answer})",
           answer.replace(" and ", ", "), answer.replace("-", " "), answer.replace(",", "")]
    if answer in NUMBER_WORDS:
        out += [NUMBER_WORDS[answer], NUMBER_WORDS[answer].capitalize(), NUMBER_WORDS[answer] + "."]
    return out


def messy_vqa(n: int = VQA_V2_VAL_QUESTIONS, identical_share: float = 0.15,
              seed: int = 0) -> tuple[dict, dict, list]:
    """(questions JSON, annotations JSON, results JSON) of n questions with ten answers each."""
    rng = np.random.default_rng(seed)
    pools = {"yes/no": ["yes", "no"], "number": NUMBERS, "other": OTHER}
    messy = {kind: [variants(a) for a in pool] for kind, pool in pools.items()}
    qtypes = list(QUESTION_TYPES)
    qtype = rng.choice(len(qtypes), size=n, p=np.linspace(2, 1, len(qtypes)) / np.linspace(2, 1, len(qtypes)).sum())
    identical = rng.random(n) < identical_share
    u = rng.random((n, 11))  # 10 human answers + the prediction
    pick = rng.integers(0, 1 << 30, size=(n, 11, 2))
    questions, annotations, results = [], [], []
    for i in range(n):
        qt = qtypes[qtype[i]]
        at = QUESTION_TYPES[qt]
        pool, forms = pools[at], messy[at]
        true = pick[i, 0, 0] % len(pool)
        strings = []
        for j in range(11):
            # mostly the true answer (some messy way), sometimes another answer of the same kind
            base = true if u[i, j] < 0.65 else pick[i, j, 0] % len(pool)
            vs = forms[base]
            strings.append(vs[0] if u[i, j] < 0.3 else vs[pick[i, j, 1] % len(vs)])
        if identical[i]:
            strings[:10] = [strings[0]] * 10
        qid = i * 10 + 1
        image_id = i // 5
        questions.append({"question_id": qid, "image_id": image_id, "question": f"{qt} this?"})
        annotations.append({
            "question_id": qid, "image_id": image_id, "question_type": qt, "answer_type": at,
            "multiple_choice_answer": pool[true],
            "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": j + 1} for j, a in enumerate(strings[:10])],
        })
        results.append({"question_id": qid, "answer": strings[10]})
    q = {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "val2014", "license": {},
         "questions": questions}
    a = {"info": {}, "data_type": "mscoco", "data_subtype": "val2014", "license": {}, "annotations": annotations}
    return q, a, results


def write_messy_vqa(folder: Path, n: int = VQA_V2_VAL_QUESTIONS, seed: int = 0) -> tuple[Path, Path, Path]:
    """Write the three files; returns (questions, annotations, results) paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "questions.json", folder / "annotations.json", folder / "results.json")
    for path, obj in zip(paths, messy_vqa(n, seed=seed), strict=True):
        path.write_text(json.dumps(obj))
    return paths
