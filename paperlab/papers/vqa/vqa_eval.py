"""`paperlab vqa-eval`: score a VQA results file with the official metric (Antol et al. 2015,
Sec. 4; paperlab.papers.vqa.metric), overall, per answer type, per question type and per question.

Writes into the run directory: results.json (headline numbers), accuracy.json (the official
evaluator's `accuracy`: overall, perQuestionType, perAnswerType), per_question.json (its `evalQA`)
and arrays/per_question.h5 (question_id, accuracy in [0, 1], answer and question type, answer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig
from rich.table import Table

from paperlab.console import out_console
from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.io.atomic import write_json
from paperlab.io.rundir import RunDir
from paperlab.papers.vqa.metric import VQAEvaluation, evaluate


def headline(ev: VQAEvaluation, prefix: str = "") -> dict[str, Any]:
    """overall and per-answer-type accuracy (%), keyed e.g. `overall`, `yes/no`."""
    return {f"{prefix}overall": ev.overall, **{f"{prefix}{k}": v for k, v in ev.per_answer_type().items()}}


def write_evaluation(run: RunDir, ev: VQAEvaluation, stem: str = "") -> None:
    """The official outputs (accuracy, evalQA) and the per-question arrays."""
    write_json(run.path / f"{stem}accuracy.json", ev.official())
    write_json(run.path / f"{stem}per_question.json", {str(k): v for k, v in ev.per_question().items()})
    run.save_arrays(f"{stem}per_question", {
        "question_id": ev.question_id, "accuracy": ev.accuracy,
        "answer_type": np.array(ev.answer_type, dtype=str), "question_type": np.array(ev.question_type, dtype=str),
        "prediction": np.array(ev.prediction, dtype=str)}, {"protocol": ev.protocol, "task_type": ev.task_type})


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    with open_run("vqa-eval", cfg, run_dir) as run:
        if not cfg.get("annotations") or not cfg.get("results"):
            raise UserError("vqa-eval needs an annotations file and a results file",
                            "give --annotations A.json --results R.json (and --questions Q.json)")
        ev = evaluate(cfg.annotations, cfg.results, cfg.get("questions"), str(cfg.protocol), bool(cfg.allow_partial))
        write_evaluation(run, ev)
        results = {"task_type": ev.task_type, "protocol": ev.protocol, "questions": len(ev.question_id),
                   "partial": ev.partial, **headline(ev)}
        if ev.partial:
            results.update(annotated=ev.n_annotated, unknown_ids_ignored=len(ev.unknown_ids))
        run.save_results(results)
        results["run_dir"] = str(run.path)
        results["_evaluation"] = ev
        return results


def print_evaluation(ev: VQAEvaluation, title: str) -> None:
    table = Table(title=title, header_style="bold")
    table.add_column("")
    table.add_column("questions", justify="right")
    table.add_column("accuracy %", justify="right")
    table.add_row("[bold]overall", f"{len(ev.accuracy):,}", f"[bold]{ev.overall:.2f}")
    counts = {k: ev.answer_type.count(k) for k in dict.fromkeys(ev.answer_type)}
    for k, v in ev.per_answer_type().items():
        table.add_row(f"answer type: {k}", f"{counts[k]:,}", f"{v:.2f}")
    qcounts: dict[str, int] = {}
    for t in ev.question_type:
        qcounts[t] = qcounts.get(t, 0) + 1
    for k, v in sorted(ev.per_question_type().items(), key=lambda kv: -qcounts[kv[0]]):
        table.add_row(f"question type: {k}", f"{qcounts[k]:,}", f"{v:.2f}")
    out_console.print(table)


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    ev = results["_evaluation"]
    note = ""
    if ev.partial:
        note = f" (partial: {len(ev.question_id):,} of {ev.n_annotated:,} annotated questions)"
    print_evaluation(ev, f"VQA accuracy, {ev.task_type}, protocol {ev.protocol}{note}: {results['run_dir']}")
