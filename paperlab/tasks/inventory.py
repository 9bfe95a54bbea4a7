"""`paperlab list` (the choices of a config group) and `paperlab runs` (a table of past runs)."""

from __future__ import annotations

import json
from pathlib import Path

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


def list_runs(directory: Path) -> None:
    if not directory.exists():
        raise UserError(f"{directory} does not exist", "give a folder that holds runs (default: outputs/)")
    table = Table(title=f"runs under {directory}", header_style="bold")
    for col in ("task", "name", "started", "status", "headline metrics", "directory"):
        table.add_column(col, overflow="fold")
    rows = []
    for run in find_runs(directory):
        try:
            info = json.loads((run / "run.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        results_file = run / "results.json"
        results = json.loads(results_file.read_text()) if results_file.is_file() else {}
        headline = [f"{k} {fmt(v)}" for k, v in sorted(results.items(), key=_headline_order)
                    if isinstance(v, (int, float)) and "/" in k and not k.startswith("best_")][:4]
        rows.append((info.get("started") or "", info.get("task", "?"), info.get("name", "?"),
                     info.get("status", "?"), ", ".join(headline), str(run)))
    for started, task, name, status, headline, path in sorted(rows):
        style = {"completed": "green", "running": "yellow"}.get(status, "red")
        table.add_row(task, name, started.replace("T", " "), f"[{style}]{status}[/]", headline, path)
    out_console.print(table)
    if not rows:
        out_console.print(f"no runs under {directory}")
