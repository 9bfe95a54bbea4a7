"""VQA evaluation speed: paperlab's evaluator vs the official algorithm, on a VQA v2-sized set.

Generates 214,354 questions x 10 messy human answers (case, punctuation, articles, number words,
contractions, 15% with ten identical answers) and messy predictions, writes them in the official
JSON formats, then times, in one process and alternating the two sides so machine load hits both:

* the official algorithm (tests/vqa_oracle.py: the official evaluator's loading and its
  question-by-question evaluate, transcribed to Python 3),
* paperlab.papers.vqa.metric (read_vqa + read_results, then evaluate_records),

and checks that every per-question accuracy and every aggregate is identical. Prints wall-clock
and CPU seconds of each step and the ratios (targets: evaluate >= 30x, end to end >= 10x).

    python benchmarks/vqa_eval.py [--questions 214354] [--repeats 1] [--protocol 2021]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import vqa_messy  # noqa: E402
import vqa_oracle  # noqa: E402

from paperlab.papers.vqa.metric import VQAEvaluation, evaluate_records  # noqa: E402
from paperlab.papers.vqa.vqa_json import read_results, read_vqa  # noqa: E402


class Clock:
    """Wall-clock and CPU seconds of a block (CPU time is what the shared machine's load inflates least)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def ours(paths: tuple[Path, Path, Path], protocol: str) -> tuple[VQAEvaluation, Clock, Clock]:
    q, a, r = paths
    with Clock() as load:
        records = read_vqa(q, a)
        ids, answers = read_results(r)
    with Clock() as score:
        ev = evaluate_records(records, ids, answers, protocol)
        ev.official(), ev.per_question()  # the reported numbers, rounded as the official code does
    return ev, load, score


def official(paths: tuple[Path, Path, Path], protocol: str) -> tuple[dict, Clock, Clock]:
    q, a, r = paths
    with Clock() as load:
        qa, _, res = vqa_oracle.load(str(a), str(q), str(r))
    with Clock() as score:
        out = vqa_oracle.evaluate(qa, res, protocol)
    return out, load, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=vqa_messy.VQA_V2_VAL_QUESTIONS)
    parser.add_argument("--repeats", type=int, default=1, help="runs of the official algorithm (ours runs one more)")
    parser.add_argument("--protocol", default="2021", choices=["2021", "2017"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Clock() as gen:
            paths = vqa_messy.write_messy_vqa(Path(tmp), args.questions)
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(f"generated {args.questions:,} questions x 10 answers ({size:.0f} MB of JSON) in {gen.wall:.1f} s")
        mine, theirs = [], []
        for _ in range(args.repeats):
            mine.append(ours(paths, args.protocol))
            gc.collect()
            theirs.append(official(paths, args.protocol))
            gc.collect()
        mine.append(ours(paths, args.protocol))
    ev = mine[-1][0]
    ref = theirs[-1][0]
    per_q = np.array([ref["perQuestion"][q] for q in ev.question_id.tolist()])
    same = (np.array_equal(per_q, ev.accuracy) and ref["overall"] == ev.overall
            and ref["perAnswerType"] == ev.per_answer_type() and ref["perQuestionType"] == ev.per_question_type())

    def best(runs: list, i: int, kind: str) -> float:
        return min(getattr(run[i], kind) for run in runs)

    print(f"protocol {args.protocol}; overall accuracy {ev.overall} (official algorithm: {ref['overall']}); "
          f"per answer type {ev.per_answer_type()}")
    print(f"identical per-question accuracies and aggregates: {same}")
    print(f"{'seconds (best of runs)':28s} {'official algorithm':>20s} {'paperlab':>10s} {'ratio':>8s}")
    for kind in ("wall", "cpu"):
        o_load, o_eval = best(theirs, 1, kind), best(theirs, 2, kind)
        m_load, m_eval = best(mine, 1, kind), best(mine, 2, kind)
        for step, o, m, target in (("load (JSON + index)", o_load, m_load, None),
                                   ("evaluate", o_eval, m_eval, 30),
                                   ("end to end", o_load + o_eval, m_load + m_eval, 10)):
            goal = f"  (target >= {target}x)" if target else ""
            print(f"  {step + ' [' + kind + ']':26s} {o:20.2f} {m:10.3f} {o / m:7.1f}x{goal}")
    print(f"official algorithm: {1e6 * best(theirs, 2, 'wall') / args.questions:.0f} us a question (wall); "
          "the machine is shared, so wall times carry the other users' load")
    if not same:
        sys.exit("results differ")


if __name__ == "__main__":
    main()
