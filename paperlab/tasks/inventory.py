"""`paperlab list` (the choices of a config group) and `paperlab runs` (a table of past runs).

Every run directory under the folder gets its row, whatever state its files are in: a run.json or
results.json that cannot be read (cut short by a full disk, hand-edited) is marked on its row
rather than hiding it, and a run still marked `running` whose directory lock no process holds
(killed, or its machine went down) is shown as `died`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from paperlab.config import conf_dir, config_options
from paperlab.console import out_console
from paperlab.errors import UserError
from paperlab.io.rundir import RESULTS_FILE, RUN_FILE, lock_is_held
from paperlab.tasks.report import fmt

GROUPS = {"models": "model", "model": "model", "data": "data", "datasets": "data", "experiments": "experiment",
          "experiment": "experiment", "optim": "optim", "optimizers": "optim", "sched": "sched",
          "schedules": "sched", "learners": "learner", "learner": "learner", "trainer": "trainer",
          "encoders": "encoder", "encoder": "encoder"}


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
    unreadable: list[str]  # the files of the run that could not be read

    @property
    def headline(self) -> dict[str, Any]:
        """The numbers a results table shows: test, then validation, then the rest."""
        return {k: v for k, v in sorted(self.results.items(), key=_headline_order)
                if isinstance(v, (int, float)) and "/" in k and not k.startswith("best_")}

    @property
    def state(self) -> str:
        """run.json's status; `died` for a `running` run that no process holds; `unreadable`."""
        if RUN_FILE in self.unreadable:
            return "unreadable"
        status = str(self.info.get("status", "?"))
        return "died" if status == "running" and not lock_is_held(self.path) else status

    @property
    def status(self) -> str:
        style = {"completed": "green", "running": "yellow"}.get(self.state, "red")
        note = "".join(f" ({name} unreadable)" for name in self.unreadable if name != RUN_FILE)
        return f"[{style}]{self.state}[/]{note}"

    @property
    def overrides(self) -> list[str]:
        return [str(o) for o in self.info.get("overrides") or []]


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object, {} when there is no file, None when it cannot be read."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _read_runs(directory: Path) -> list[_Run]:
    runs = []
    for path in find_runs(directory):
        files = {name: _read_json(path / name) for name in (RUN_FILE, RESULTS_FILE)}
        info, results = files[RUN_FILE] or {}, files[RESULTS_FILE] or {}
        if not info:  # its folders say what the run was: outputs/<task>/<name>/<time>
            info = {"task": path.parent.parent.name, "name": path.parent.name}
        runs.append(_Run(path, info, results, [name for name, data in files.items() if data is None]))
    return runs


def _varying_overrides(runs: list[_Run]) -> list[str]:
    """Each run's overrides that not all the runs share: for a sweep, the swept values; among
    runs of one name, what tells them apart."""
    sets = [set(r.overrides) for r in runs]
    common = set.intersection(*sets) if len(sets) > 1 else set()
    return [" ".join(o for o in r.overrides if o not in common) for r in runs]


def _telling_apart(runs: list[_Run]) -> list[str]:
    """For each run, the overrides that tell it from the other runs of its task and name (all of
    them for a run that is the only one of its name)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, run in enumerate(runs):
        groups.setdefault((str(run.info.get("task")), str(run.info.get("name"))), []).append(i)
    out = [""] * len(runs)
    for members in groups.values():
        for i, shown in zip(members, _varying_overrides([runs[i] for i in members]), strict=True):
            out[i] = shown
    return out


def _job_number(run: _Run) -> tuple[int, str]:
    name = run.path.name
    return (int(name), name) if name.isdigit() else (1 << 30, name)


def list_runs(directory: Path) -> None:
    """A table of the runs under `directory`; a sweep (its multirun.yaml) gets one row per job,
    its swept overrides and one column per headline metric, to compare the jobs."""
    if not directory.exists():
        raise UserError(f"{directory} does not exist", "give a folder that holds runs (default: outputs/)")
    sweep = (directory / "multirun.yaml").is_file()
    runs = sorted(_read_runs(directory), key=_job_number if sweep else lambda r: str(r.info.get("started") or ""))
    if sweep:
        metrics = list(dict.fromkeys(k for r in runs for k in r.headline))[:6]
        table = Table(title=f"sweep {directory}: {len(runs)} jobs", header_style="bold")
        for col in ("job", "overrides", "status", *metrics):
            table.add_column(col, overflow="fold", justify="right" if col in metrics else "left")
        for run, swept in zip(runs, _varying_overrides(runs), strict=True):
            table.add_row(run.path.name, swept, run.status, *(fmt(run.headline.get(k, "")) for k in metrics))
    else:
        table = Table(title=f"runs under {directory}", header_style="bold")
        for col in ("task", "name", "overrides", "started", "status", "headline metrics", "directory"):
            table.add_column(col, overflow="fold", no_wrap=col == "status")  # the rest folds on a narrow terminal
        for run, overrides in zip(runs, _telling_apart(runs), strict=True):
            headline = ", ".join(f"{k} {fmt(v)}" for k, v in list(run.headline.items())[:4])
            table.add_row(str(run.info.get("task", "?")), str(run.info.get("name", "?")), overrides,
                          str(run.info.get("started") or "").replace("T", " "), run.status, headline, str(run.path))
    out_console.print(table)
    if not runs:
        out_console.print(f"no runs under {directory}")
