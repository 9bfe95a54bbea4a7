"""`paperlab movieqa`: every text baseline of Tapaswi et al. 2016 (Sec. 4) on one split and story
source, scored as Sec. 5 does (accuracy overall and by the question's first word).

* hasty students (Sec. 4.1): answer length, within-answer and question-answer similarity, with
  each sentence representation (TF-IDF, all-MiniLM-L6-v2);
* searching student (Sec. 4.2, Eq. 2) with each representation and window H;
* the learned students, SSCB (Sec. 4.2) and the memory network (Sec. 4.3): each trained with
  `paperlab train` (its recipe in `learned.<name>.train`) from `inits` initialisations into
  <run>/<name>_seed<k>/, the one best on the internal dev split kept (Sec. 4.2), and scored
  through `load_model`; MemN2N's attention over the story is drawn for a few questions.

The run directory gets results.json (`<split>/<baseline>/acc`, `.../acc_<first word>`; on the
test split, whose answers are withheld, `.../status: no labels`), predictions/<baseline>.<split>.txt
in the evaluation server's format, figures/attention_*.png, and the training runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from rich.table import Table

from paperlab.config import at_least, checked, config_schema, one_of
from paperlab.console import out_console
from paperlab.data import DATASETS, build_data_as
from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.papers.movieqa.base import Scorer
from paperlab.papers.movieqa.data import MovieQAData
from paperlab.papers.movieqa.evaluation import CHANCE, Report, evaluate, write_predictions
from paperlab.papers.movieqa.figures import attention_figures
from paperlab.papers.movieqa.learned import LearnedStudent, train_best_of
from paperlab.papers.movieqa.memn2n import MemN2N
from paperlab.papers.movieqa.release import SPLITS
from paperlab.papers.movieqa.scorers import SCORERS, make_scorer, needs_representation
from paperlab.papers.movieqa.text import ENCODERS
from paperlab.paths import use_config

log = logging.getLogger(__name__)


@dataclass
class Learned:
    """A learned baseline: its `paperlab train` recipe and how many initialisations to train."""

    train: list[str]
    inits: int = 3


def plan(cfg: Any) -> tuple[list[tuple[str, str, Any]], dict[str, Learned]]:
    """The baselines to score, checked before any work: (row name, scorer, options) for the
    untrained ones, and the learned ones by name. `cfg`: the command's config, or its schema."""
    split = str(cfg.split)
    if split not in SPLITS or split == "train":
        raise UserError(f"cannot score the baselines on split '{split}'", "use split=val or split=test")
    reps = [str(r) for r in cfg.representations]
    for r in reps:
        if r not in ENCODERS:
            raise UserError(f"unknown representation '{r}' in representations", f"choose from: {', '.join(ENCODERS)}")
    windows = [int(w) for w in cfg.windows]
    if any(w < 1 for w in windows):
        raise UserError(f"windows={windows}", "the searching student's window is a number of sentences, >= 1")
    learned_cfg: dict[str, Any] = (OmegaConf.to_container(cfg.learned, resolve=True)
                                   if isinstance(cfg.learned, DictConfig) else cfg.learned) or {}  # type: ignore[assignment]
    names = [str(b) for b in cfg.baselines]
    unknown = [b for b in names if b not in SCORERS and b not in learned_cfg]
    if unknown:
        raise UserError(f"unknown MovieQA baseline '{unknown[0]}'",
                        f"choose from: {', '.join([*SCORERS, *learned_cfg])}")
    rows: list[tuple[str, str, Any]] = []
    learned: dict[str, Learned] = {}
    for name in names:
        if name in learned_cfg:
            entry = learned_cfg[name]
            recipe = [str(o) for o in entry["train"]] + [str(o) for o in cfg.learned_overrides]
            learned[name] = Learned(train=recipe, inits=int(entry.get("inits", 3)))
            if learned[name].inits < 1:
                raise UserError(f"learned.{name}.inits={learned[name].inits}", "train at least one initialisation")
        elif name == "searching":
            rows += [(f"searching-{r}-w{w}", name, {"representation": r, "window": w}) for r in reps for w in windows]
        elif needs_representation(name):
            rows += [(f"{name}-{r}", name, {"representation": r}) for r in reps]
        else:
            rows.append((name, name, {}))
    return rows, learned


def read_data(data_cfg: DictConfig, split: str) -> MovieQAData:
    """The dataset, with every story file of the train split and of `split` read: a bad qa.json,
    a missing story file or a source the release lacks stops here, one line."""
    data = build_data_as(data_cfg, MovieQAData, "a MovieQA dataset",
                         f"data=<name> with one of: {', '.join(movieqa_datasets())}")
    data.split("train")
    data.split(split)
    return data


def movieqa_datasets() -> list[str]:
    return [name for name, build in DATASETS.items()
            if getattr(build, "__annotations__", {}).get("return") in ("MovieQAData", MovieQAData)]


def _movieqa_data(node: Any) -> tuple[str, str] | None:
    name = str(node.get("name")) if isinstance(node, dict) else str(node)
    return None if name in movieqa_datasets() else (
        "is not a MovieQA dataset", f"use data=<name> with one of: {', '.join(movieqa_datasets())}")


@config_schema("", command="movieqa")
@dataclass
class TaskConfig:
    """The root values of conf/movieqa.yaml (its defaults and their reasons are there), checked
    with the data they name before the run directory exists: every bad input is one line and
    leaves nothing behind."""

    data: Any = checked(_movieqa_data)
    paths: Any
    split: str = one_of("val", "test")
    baselines: list[str]
    representations: list[str] = one_of(*ENCODERS)
    windows: list[int] = at_least(1)
    learned: Any
    learned_overrides: list[str]
    attention_examples: int = at_least(0)

    def __post_init__(self) -> None:
        if _movieqa_data(self.data) is None:  # a wrong dataset is the field's own one line
            plan(self)
            use_config(self.paths)
            read_data(OmegaConf.create(self.data), self.split)


def score(run: Any, name: str, scorer: Scorer, data: MovieQAData, split: str) -> Report:
    """Score a split, write its predictions in the server's format, and report."""
    stories, qas = data.split(split)
    scores = scorer.score_all(stories, qas)
    write_predictions(run.path / "predictions" / f"{name}.{split}.txt", qas, scores)
    report = evaluate(qas, scores)
    log.info("%s on %s: %s", name, split, "no labels" if report.accuracy is None else f"{report.accuracy:.2f}%")
    return report


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Score every baseline of cfg.baselines; everything is checked and read before the run starts."""
    rows, learned = plan(cfg)
    use_config(cfg.get("paths"))
    split = str(cfg.split)
    data = read_data(cfg.data, split)
    train_stories, train_qas = data.split("train")
    with open_run("movieqa", cfg, run_dir) as run:
        t0 = time.perf_counter()
        results: dict[str, Any] = {"data": data.name, "story": data.story, "split": split, "chance": CHANCE}
        reports: dict[str, Report] = {}
        for name, kind, options in rows:
            opts = dict(options)
            scorer = make_scorer(kind, opts.pop("representation", None), **opts).fit(train_stories, train_qas)
            reports[name] = score(run, name, scorer, data, split)
        for name, spec in learned.items():
            best, inits = train_best_of(name, spec.train, spec.inits, cfg, run.path)
            student = LearnedStudent.load(best.run_dir, name)
            reports[name] = score(run, name, student, data, split)
            results[f"{split}/{name}/dev_acc_per_init"] = [round(r.dev_acc, 2) for r in inits]
            results[f"{split}/{name}/best_init"] = best.run_dir.name
            if isinstance(student.model, MemN2N) and int(cfg.attention_examples):
                stories, qas = data.split(split)
                attention_figures(student, stories, qas, int(cfg.attention_examples), run.figures / name, data.story)
        for name, report in reports.items():
            results.update(report.results(f"{split}/{name}/"))
        results["time_s"] = round(time.perf_counter() - t0, 1)
        run.save_results(results)
        results["run_dir"] = str(run.path)
    return results


def print_table(results: dict[str, Any]) -> None:
    """Baselines x (all, question types) accuracy, or "no labels" on the test split."""
    split = results["split"]
    names = list(dict.fromkeys(k.split("/")[1] for k in results if k.startswith(f"{split}/") and k.endswith("/questions")))
    types = list(dict.fromkeys(k.rsplit("/acc_", 1)[1] for k in results
                               if k.startswith(f"{split}/") and "/acc_" in k))
    title = (f"MovieQA accuracy % on {results['data']} {split} ({results['story']} stories; "
             f"chance {results['chance']:.0f}%)")
    table = Table(title=title, header_style="bold")
    for col in ("baseline", "all", *types):
        table.add_column(col, justify="left" if col == "baseline" else "right")
    for name in names:
        prefix = f"{split}/{name}/"
        if f"{prefix}acc" not in results:
            table.add_row(name, results.get(f"{prefix}status", ""), *("" for _ in types))
            continue
        table.add_row(name, f"{results[prefix + 'acc']:.2f}",
                      *(f"{results[f'{prefix}acc_{t}']:.1f}" if f"{prefix}acc_{t}" in results else "" for t in types))
    out_console.print(table)
    out_console.print(f"run directory: {results['run_dir']}")


def main(cfg: DictConfig) -> None:
    print_table(run(cfg))
