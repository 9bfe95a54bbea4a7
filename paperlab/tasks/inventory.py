"""`paperlab list` (the choices of a config group) and `paperlab runs` (a table of past runs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from paperlab.config import conf_dir, config_options
from paperlab.console import out_console
from paperlab.errors import UserError
from paperlab.tasks.report import fmt

GROUPS = {"models": "model", "model": "model", "data": "data", "datasets": "data", "experiments": "experiment",
          "experiment": "experiment", "optim": "optim", "optimizers": "optim", "sched": "sched",
          "schedules": "sched", "learners": "learner", "learner": "learner", "trainer": "trainer"}


def _describe(path: Path) -> str:
    """The first comment line of a config file (every config starts with one saying what it is)."""
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("#") and not line.startswith("# @package"):
            return line.lstrip("# ").strip()
    return ""


def list_group(what: str) -> None:
    group = GROUPS.get(what)
    if group is None:
        raise UserError(f"cannot list '{what}'", f"choose one of: {', '.join(sorted(set(GROUPS) - set(GROUPS.values())))}")
    table = Table(title=f"{group} choices ({group}=<name>)", header_style="bold")
    table.add_column("name", style="cyan")
    table.add_column("what it is")
    if group == "learner":
        from paperlab.learners import LEARNERS
        from paperlab.registry import summary

        for name, cls in LEARNERS.items():
            table.add_row(name, summary(cls))
    else:
        for name in config_options(group):
            table.add_row(name, _describe(conf_dir() / group / f"{name}.yaml"))
    out_console.print(table)


def _headline_order(item: tuple[str, object]) -> int:
    """Test numbers first, then validation, then the rest (results.json order within each)."""
    key = item[0]
    return 0 if key.startswith("test/") else 1 if key.startswith("val/") else 2


def find_runs(directory: Path) -> list[Path]:
    return sorted({p.parent for p in directory.rglob("run.json")})


@dataclass
class _Run:
    path: Path
    info: dict[str, Any]
    results: dict[str, Any]

    @property
    def headline(self) -> dict[str, Any]:
        """The numbers a results table shows: test, then validation, then the rest."""
        return {k: v for k, v in sorted(self.results.items(), key=_headline_order)
                if isinstance(v, (int, float)) and "/" in k and not k.startswith("best_")}

    @property
    def status(self) -> str:
        status = self.info.get("status", "?")
        style = {"completed": "green", "running": "yellow"}.get(status, "red")
        return f"[{style}]{status}[/]"


def _read_runs(directory: Path) -> list[_Run]:
    runs = []
    for path in find_runs(directory):
        try:
            info = json.loads((path / "run.json").read_text())
            results = json.loads((path / "results.json").read_text()) if (path / "results.json").is_file() else {}
        except (OSError, json.JSONDecodeError):
            continue  # a run being written right now
        runs.append(_Run(path, info, results))
    return runs


def _varying_overrides(runs: list[_Run]) -> list[str]:
    """Each run's overrides that not all the runs share: for a sweep, the swept values."""
    sets = [set(r.info.get("overrides") or []) for r in runs]
    common = set.intersection(*sets) if sets else set()
    return [" ".join(o for o in r.info.get("overrides") or [] if o not in common) for r in runs]


def _job_number(run: _Run) -> tuple[int, str]:
    name = run.path.name
    return (int(name), name) if name.isdigit() else (1 << 30, name)


def list_runs(directory: Path) -> None:
    """A table of the runs under `directory`; a sweep (its multirun.yaml) gets one row per job,
    its swept overrides and one column per headline metric, to compare the jobs."""
    if not directory.exists():
        raise UserError(f"{directory} does not exist", "give a folder that holds runs (default: outputs/)")
    sweep = (directory / "multirun.yaml").is_file()
    runs = sorted(_read_runs(directory), key=_job_number if sweep else lambda r: r.info.get("started") or "")
    if sweep:
        metrics = list(dict.fromkeys(k for r in runs for k in r.headline))[:6]
        table = Table(title=f"sweep {directory}: {len(runs)} jobs", header_style="bold")
        for col in ("job", "overrides", "status", *metrics):
            table.add_column(col, overflow="fold", justify="right" if col in metrics else "left")
        for run, swept in zip(runs, _varying_overrides(runs), strict=True):
            table.add_row(run.path.name, swept, run.status, *(fmt(run.headline.get(k, "")) for k in metrics))
    else:
        table = Table(title=f"runs under {directory}", header_style="bold")
        for col in ("task", "name", "started", "status", "headline metrics", "directory"):
            table.add_column(col, overflow="fold")
        for run in runs:
            headline = ", ".join(f"{k} {fmt(v)}" for k, v in list(run.headline.items())[:4])
            table.add_row(run.info.get("task", "?"), run.info.get("name", "?"),
                          (run.info.get("started") or "").replace("T", " "), run.status, headline, str(run.path))
    out_console.print(table)
    if not runs:
        out_console.print(f"no runs under {directory}")
