"""`paperlab vqa-baselines`: the baselines of Antol et al. 2015 (Sec. 6; paperlab.papers.vqa.baselines)
on a VQA dataset, open-ended and multiple-choice, scored with the official metric.

Each baseline is fitted on the training split and scored on `split` (default test). The run
directory gets results.json (overall and per-answer-type accuracy of every baseline and task),
the predictions as official results files (predictions/<baseline>_<task>.json, so that
`paperlab vqa-eval` can score them again), each evaluation's accuracy.json and per-question
arrays, and figures/examples.png (test images, questions, human answer and each baseline's).
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig
from rich.table import Table

from paperlab.config import at_least, checked, config_schema
from paperlab.console import out_console
from paperlab.data import DATASETS, build_data
from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.io.figures import save_figure
from paperlab.papers.vqa.baselines import create_baseline
from paperlab.papers.vqa.data import VQAData
from paperlab.papers.vqa.metric import evaluate_records
from paperlab.papers.vqa.vqa_eval import headline, write_evaluation

TASKS = {"open_ended": "OpenEnded", "multiple_choice": "MultipleChoice"}
ORDER = ["overall", "yes/no", "number", "other"]  # the paper's column order


def vqa_datasets() -> list[str]:
    """The registered datasets that build VQA data (their factories' declared return type)."""
    return [name for name, build in DATASETS.items()
            if getattr(build, "__annotations__", {}).get("return") in ("VQAData", VQAData)]


def _vqa_data(node: Any) -> tuple[str, str] | None:
    name = str(node.get("name")) if isinstance(node, dict) else str(node)
    return None if name in vqa_datasets() else (
        "is not a VQA dataset", f"use data=<name> with one of: {', '.join(vqa_datasets())}")


@config_schema("nearest_neighbor", command="vqa-baselines")
@dataclasses.dataclass
class NearestNeighborConfig:
    """conf/vqa-baselines.yaml's `nearest_neighbor` node (its defaults and their reasons are there)."""

    k: int = at_least(1)
    image_pool: int = at_least(1)
    chunk: int = at_least(1)


@config_schema("", command="vqa-baselines")
@dataclasses.dataclass
class BaselinesConfig:
    """The values of conf/vqa-baselines.yaml that have a range (the file holds the defaults)."""

    data: Any = checked(_vqa_data)
    top_answers: int = at_least(1)


def examples_figure(data: VQAData, split: str, predictions: dict[str, list[str]], path: Path, n: int = 8,
                    seed: int = 0) -> Path:
    """n test questions (one per image), their image, the human answer and each baseline's answer."""
    import matplotlib.pyplot as plt

    records = data.records(split)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(records), size=min(n, len(records)), replace=False)
    images = data.splits[split].images
    fig, axes = plt.subplots(1, len(rows), figsize=(2.3 * len(rows), 3.6))
    for ax, i in zip(np.atleast_1d(axes), rows.tolist(), strict=True):
        x = images.load(records.image_id[[i]])[0]
        if x.dim() == 3:  # pixels: undo the standardisation for display
            x = x * images.std[0] + images.mean[0]
            ax.imshow(x.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        lines = [f"human: {records.multiple_choice_answer[i]}"] + [f"{b}: {p[i]}" for b, p in predictions.items()]
        ax.set_title("\n".join(textwrap.wrap(records.question[i], 26)), fontsize=7.5)
        ax.set_xlabel("\n".join(lines), fontsize=7, loc="left")
    return save_figure(fig, path)


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    with open_run("vqa-baselines", cfg, run_dir) as run:
        nn = cfg.nearest_neighbor
        baselines = [create_baseline(str(name), top_k=int(cfg.top_answers), k=int(nn.k), pool=int(nn.image_pool),
                                     chunk=int(nn.chunk), seed=int(cfg.seed)) for name in cfg.baselines]  # bad names fail fast
        data = build_data(cfg.data)
        split = str(cfg.split)
        if split not in data.splits or split == "train":
            raise UserError(f"cannot score the baselines on split '{split}'", "use split=val or split=test")
        train, test = data.records("train"), data.records(split)
        tasks = {"open_ended": dataclasses.replace(test, multiple_choices=None)}
        if test.multiple_choices is not None:
            tasks["multiple_choice"] = test
        results: dict[str, Any] = {"data": str(cfg.data.name), "split": split, "questions": len(test)}
        shown: dict[str, list[str]] = {}
        for baseline in baselines:
            name = baseline.name
            baseline.fit(train, data.splits["train"].images)
            for task, records in tasks.items():
                answers = baseline.predict(records, data.splits[split].images, records.multiple_choices)
                ids = records.question_id.tolist()
                ev = evaluate_records(records, ids, answers, str(cfg.protocol))
                stem = f"{name}_{TASKS[task]}"
                path = run.path / "predictions" / f"{stem}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps([{"question_id": q, "answer": a} for q, a in zip(ids, answers, strict=True)]))
                write_evaluation(run, ev, stem=f"evaluations/{stem}_")
                results.update(headline(ev, prefix=f"{split}/{task}/{name}/"))
                if task == "open_ended":
                    shown[str(name)] = answers
        examples_figure(data, split, shown, run.figure("examples.png"), seed=int(cfg.seed))
        run.save_results(results)
        return {**results, "run_dir": str(run.path)}


def print_table(results: dict[str, Any], baselines: list[str]) -> None:
    """One table per task: baselines x (overall, answer types present)."""
    split = results["split"]
    for task in TASKS:
        prefix = f"{split}/{task}/"
        if not any(k.startswith(prefix) for k in results):
            continue
        # keys are split/task/baseline/<overall or answer type>; answer types may hold a slash
        found = {k.split("/", 3)[3] for k in results if k.startswith(prefix)}
        types = sorted(found, key=lambda t: (ORDER.index(t) if t in ORDER else len(ORDER), t))
        title = (f"{task.replace('_', '-')} accuracy % on {results['data']} "
                 f"({split}, {results['questions']:,} questions)")
        table = Table(title=title, header_style="bold")
        table.add_column("baseline")
        for t in types:
            table.add_column(t, justify="right")
        for b in baselines:
            table.add_row(b, *(f"{results[f'{prefix}{b}/{t}']:.2f}" for t in types))
        out_console.print(table)
    out_console.print(f"run directory: {results['run_dir']}")


def main(cfg: DictConfig) -> None:
    print_table(run(cfg), [str(b) for b in cfg.baselines])
