"""`paperlab reproduce PAPER`: run a paper's experiments (its `Reproduction`), reusing finished runs
and resuming interrupted ones, then write report.md and a self-contained report.html beside the
paper's numbers.

Each experiment runs as its own `paperlab` command (a fresh process, as a user would type it) in
`<out>/<paper>/<experiment>-<fingerprint>/`; the fingerprint hashes the command and the code
version (the source the paper's experiments run and every config file, not the docs), so a run is
reused only when both match. A run that stopped with a checkpoint is resumed with `--resume`; one that stopped without
one is moved aside (never deleted) and run again. A shipped model stands for its training
experiment unless `retrain` is set: the package records how it was made (model.json)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table as RichTable

import paperlab
from paperlab.assets import ASSETS
from paperlab.config import conf_dir
from paperlab.console import out_console
from paperlab.errors import UserError
from paperlab.io.atomic import write_json
from paperlab.io.rundir import RUN_FILE, lock_is_held
from paperlab.tasks import paper_report
from paperlab.tasks.reproduction import (
    REPRODUCTIONS,
    Experiment,
    Reproduction,
    portable,
    record_of_run,
    record_of_shipped,
    records_dir,
)
from paperlab.tasks.results import run as regenerate_tables
from paperlab.tasks.results import source_root


@dataclass
class Step:
    experiment: Experiment
    run_dir: Path
    state: str  # done | shipped | resume | run

    @property
    def checkpoint(self) -> str:
        """What `{run:NAME}` stands for in a later experiment's command."""
        return self.experiment.shipped if self.state == "shipped" else str(self.run_dir)


def code_version(paper: str) -> str:
    """A hash of the code and configs that `paper`'s experiments run: the core, the paper's package
    and the packages it builds on, every config file. The docs, the reproductions' tables and the
    other papers' code are left out, so editing them retrains nothing; an edit to what runs is a new
    version."""
    package = Path(paperlab.__file__).parent
    papers = package / "papers"
    used = _papers_used(papers, paper)
    files = [f for f in package.rglob("*.py") if f.name != "reproduction.py"  # what is run, not how it runs
             and (papers not in f.parents or len(parts := f.relative_to(papers).parts) == 1 or parts[0] in used)]
    digest = hashlib.sha256()
    for root, found in ((package, files), (conf_dir(), list(conf_dir().rglob("*.yaml")))):
        for f in sorted(found):
            digest.update(f"{f.relative_to(root)}\n".encode() + f.read_bytes())
    return digest.hexdigest()[:16]


def _papers_used(papers: Path, paper: str) -> set[str]:
    """`paper` and the papers its package imports, transitively (DAN: dan, vqa)."""
    used, todo = set(), [paper]
    while todo:
        name = todo.pop()
        if name in used:
            continue
        used.add(name)
        for f in (papers / name).rglob("*.py"):
            todo += re.findall(r"paperlab\.papers\.(\w+)", f.read_text())
    return used


def fingerprint(experiment: Experiment, code: str) -> str:
    return hashlib.sha256(json.dumps([list(experiment.args), code]).encode()).hexdigest()[:10]


def _status(run_dir: Path) -> str | None:
    try:
        status = json.loads((run_dir / RUN_FILE).read_text()).get("status")
    except (OSError, json.JSONDecodeError):
        return None
    return "died" if status == "running" and not lock_is_held(run_dir) else status


def plan(reproduction: Reproduction, out: Path, retrain: bool = False) -> list[Step]:
    """What each experiment needs: nothing (done, or a shipped model), a resume, or a run."""
    code, steps = code_version(reproduction.paper), []
    for e in reproduction.experiments:
        run_dir = out / reproduction.paper / f"{e.name}-{fingerprint(e, code)}"
        status = _status(run_dir)
        if status == "completed":
            state = "done"
        elif e.shipped and not retrain and status is None:
            state = "shipped"
        elif status in ("interrupted", "died", "failed") and (run_dir / "checkpoints" / "last.pt").is_file():
            state = "resume"
        else:
            state = "run"
        steps.append(Step(e, run_dir, state))
    return steps


def _command(step: Step, steps: dict[str, Step]) -> list[str]:
    if step.state == "resume":
        return [step.experiment.args[0], "--resume", str(step.run_dir)]
    args = []
    for word in step.experiment.args:
        for name, other in steps.items():
            word = word.replace(f"{{run:{name}}}", other.checkpoint)
        args.append(word)
    return [*args, f"hydra.run.dir={step.run_dir}"]


def _execute(step: Step, steps: dict[str, Step]) -> None:
    if step.state == "run" and step.run_dir.exists():  # a stopped run without a checkpoint: kept aside
        step.run_dir.rename(step.run_dir.with_name(f"{step.run_dir.name}.stopped-{time.strftime('%Y%m%d-%H%M%S')}"))
    step.run_dir.parent.mkdir(parents=True, exist_ok=True)
    log = step.run_dir.parent / f"{step.experiment.name}.log"
    with log.open("a") as f:
        done = subprocess.run([sys.executable, "-m", "paperlab", *_command(step, steps)], stdout=f,
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        last = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise UserError(f"experiment {step.experiment.name} failed ({last[0]}); its log is {log}",
                        "fix it and rerun the same `paperlab reproduce` (finished experiments are kept)")


def record(step: Step) -> dict[str, Any]:
    if step.state == "shipped":
        return record_of_shipped(step.experiment, ASSETS / step.experiment.shipped / "model.json")
    return record_of_run(step.experiment, step.run_dir)


def print_plan(steps: list[Step], title: str) -> None:
    table = RichTable(title=title, header_style="bold")
    for column in ("experiment", "command", "minutes (2 CPU cores)", "state"):
        table.add_column(column)
    say = {"done": "done (reused)", "shipped": "shipped model (reused)", "resume": "resume", "run": "run"}
    for s in steps:
        table.add_row(s.experiment.name, s.experiment.command, f"{s.experiment.minutes:g}", say[s.state])
    todo = sum(s.experiment.minutes for s in steps if s.state in ("run", "resume"))
    table.caption = f"about {todo:g} minutes to run"
    out_console.print(table)


def run(paper: str, out: Path = Path("outputs/reproduce"), retrain: bool = False, dry_run: bool = False,
        update_docs: bool = False) -> dict[str, Any]:
    """Reproduce `paper` ("all": every paper in turn); returns {paper: report path or plan}."""
    if paper != "all" and paper not in REPRODUCTIONS:
        raise UserError(f"unknown paper '{paper}'", f"choose one of: {', '.join(REPRODUCTIONS.names())}, all")
    papers = REPRODUCTIONS.names() if paper == "all" else [paper]
    return {p: _reproduce(REPRODUCTIONS.get(p), out, retrain, dry_run, update_docs) for p in papers}


def _reproduce(reproduction: Reproduction, out: Path, retrain: bool, dry_run: bool, update_docs: bool) -> Any:
    steps = plan(reproduction, out, retrain)
    report = out / reproduction.paper / "report.md"
    if dry_run:
        print_plan(steps, f"paperlab reproduce {reproduction.paper} (dry run)")
        return [(s.experiment.name, s.state, s.experiment.minutes) for s in steps]
    todo = [s for s in steps if s.state in ("run", "resume")]
    if not todo and report.is_file() and not update_docs:
        out_console.print(f"{reproduction.paper}: nothing to do, all {len(steps)} experiments are done; report: {report}")
        return str(report)
    by_name = {s.experiment.name: s for s in steps}
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} min"),
               TimeRemainingColumn())
    with Progress(*columns, console=out_console, transient=False) as progress:
        bar = progress.add_task(reproduction.paper, total=sum(s.experiment.minutes for s in todo) or 1)
        for step in todo:
            progress.update(bar, description=f"{reproduction.paper}: {step.experiment.command}")
            _execute(step, by_name)
            step.state = "done"
            progress.advance(bar, step.experiment.minutes)
    records = {s.experiment.name: record(s) for s in steps}
    folder = out / reproduction.paper / "records"
    for name, rec in records.items():
        write_json(folder / f"{name}.json", rec)
    paper_report.write(reproduction, steps, records, out / reproduction.paper)
    if update_docs:
        root = source_root()
        target = records_dir(root, reproduction.paper)
        target.mkdir(parents=True, exist_ok=True)
        for name, rec in records.items():
            write_json(target / f"{name}.json", portable(rec, root))
        regenerate_tables(root)
    out_console.print(f"{reproduction.paper}: report {report} and {report.with_suffix('.html')}")
    return str(report)
