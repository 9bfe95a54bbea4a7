"""What reproducing a paper means, as data: its experiments (commands), its tables (the paper's
numbers beside ours) and its figures; and the records that carry our numbers into the docs.

Each paper declares one `Reproduction` in `paperlab/papers/<paper>/reproduction.py` (listed under
"reproduction" in its REGISTRY_MODULES). `paperlab reproduce` runs its experiments and writes a
record per experiment; `paperlab results` renders its tables from the records kept in
`docs/results/<paper>/<experiment>.json` into README.md and docs/papers/*.md, between marker
comments, so that no number in a table is typed by hand (docs/design.md, "Results")."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperlab.errors import UserError
from paperlab.registry import Registry

REPRODUCTIONS: Registry[Reproduction] = Registry("reproduction")


@dataclass(frozen=True)
class Experiment:
    """One command of the reproduction. `args` are the CLI words after `paperlab`; a word
    `{run:NAME}` stands for the checkpoint of experiment NAME (the shipped model when that
    experiment was reused from the package). `shipped`: the package ships this experiment's
    trained model (paperlab/assets/<shipped>), whose model.json records the run that made it."""

    name: str
    args: tuple[str, ...]
    minutes: float  # on the 2-core CPU this project is tested on, measured
    what: str
    shipped: str | None = None

    @property
    def command(self) -> str:
        return shlex.join(["paperlab", *self.args])


@dataclass(frozen=True)
class Ours:
    """A cell of our numbers: results[key] of an experiment's record, times `scale`, formatted (a
    text result, e.g. "32/32", as it stands)."""

    experiment: str
    key: str
    digits: int = 2
    scale: float = 1.0
    nan: str = "nan"  # what a NaN result means in this cell (e.g. "not reached")


Cell = str | Ours


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...]
    command: str | None = None  # None: the command of the first experiment the cells name


@dataclass(frozen=True)
class Table:
    """A results table; `id` names its markers: <!-- results:PAPER/ID --> ... <!-- /results -->."""

    id: str
    title: str
    columns: tuple[str, ...]  # between the label column and the command column
    rows: tuple[Row, ...]
    note: str = ""


@dataclass(frozen=True)
class Figure:
    experiment: str
    path: str  # inside that experiment's run directory
    caption: str
    paper: str  # what the paper's figure shows, for the reader to compare


@dataclass(frozen=True)
class Reproduction:
    paper: str
    title: str
    citation: str
    scale: str  # how our setting differs from the paper's (data, model size, budget)
    experiments: tuple[Experiment, ...]
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = field(default_factory=tuple)

    def experiment(self, name: str) -> Experiment:
        for e in self.experiments:
            if e.name == name:
                return e
        names = ", ".join(e.name for e in self.experiments)
        raise UserError(f"{self.paper} has no experiment '{name}'", f"choose one of: {names}")


def register_reproduction(reproduction: Reproduction) -> Reproduction:
    REPRODUCTIONS.register(reproduction.paper)(reproduction)
    return reproduction


def get_reproduction(paper: str) -> Reproduction:
    return REPRODUCTIONS.get(paper)


# --- records: what a run gave, with how it was made -------------------------------------------

def records_dir(root: Path, paper: str) -> Path:
    return root / "docs" / "results" / paper


def read_records(folder: Path) -> dict[str, dict[str, Any]]:
    """The records in `folder` by experiment name (a missing folder holds none)."""
    records = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            records[path.stem] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise UserError(f"cannot read the record {path}: {err}", "restore it from git or rerun its experiment") from None
    return records


def record_of_run(experiment: Experiment, run_dir: Path) -> dict[str, Any]:
    """A record from a finished run directory: its results and its provenance (run.json)."""
    run = _json(run_dir / "run.json")
    argv = run.get("argv") or []
    return {"experiment": experiment.name, "command": experiment.command,
            "ran": shlex.join(["paperlab", *argv[1:]]) if argv else None, "source": str(run_dir),
            "seed": _seed(run_dir), "git": run.get("git"), "versions": run.get("versions"),
            "device": run.get("device"), "started": run.get("started"), "ended": run.get("ended"),
            "results": _json(run_dir / "results.json")}


def record_of_shipped(experiment: Experiment, model_json: Path) -> dict[str, Any]:
    """A record from a shipped model's model.json (the run that trained it)."""
    meta = _json(model_json)
    return {"experiment": experiment.name, "command": meta.get("command", experiment.command),
            "source": f"shipped model {meta.get('name', experiment.shipped)}", "seed": meta.get("seed"),
            "git": meta.get("git"), "versions": meta.get("versions"), "device": meta.get("device"),
            "started": meta.get("started"), "ended": meta.get("ended"), "results": meta.get("metrics", {})}


def portable(value: Any, root: Path) -> Any:
    """`value` with the paths under the repository `root` made relative to it: records committed to
    the repository must not name the machine they were made on."""
    if isinstance(value, dict):
        return {k: portable(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, root) for v in value]
    if isinstance(value, str):
        return value.replace(f"{root}/", "")
    return value


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"cannot read {path}: {err}", "rerun that experiment (paperlab reproduce --retrain)") from None


def _seed(run_dir: Path) -> Any:
    config = run_dir / ".hydra" / "config.yaml"
    if not config.is_file():
        return None
    from omegaconf import OmegaConf

    def find(node: Any) -> Any:  # the run's seed: `seed`, else a task's own (`visualize.seed`)
        if isinstance(node, dict):
            if "seed" in node:
                return node["seed"]
            return next((s for s in map(find, node.values()) if s is not None), None)
        return None

    return find(OmegaConf.to_container(OmegaConf.load(config)))


# --- tables -------------------------------------------------------------------------------------

def cell_text(cell: Cell, records: Mapping[str, Mapping[str, Any]]) -> str:
    """A cell as it reads in the table; our number, or '(not run)' when its record is missing. A
    result that a task writes as text (a count out of a total: "32/32") reads as it stands."""
    if isinstance(cell, str):
        return cell
    results = records.get(cell.experiment, {}).get("results", {})
    value = results.get(cell.key)
    if isinstance(value, str):
        return value
    if not isinstance(value, (int, float)):
        return "(not run)"
    if math.isnan(value):
        return cell.nan
    return f"{value * cell.scale:.{cell.digits}f}"


def row_command(row: Row, reproduction: Reproduction) -> str:
    if row.command is not None:
        return row.command
    for cell in row.cells:
        if isinstance(cell, Ours):
            return f"`{reproduction.experiment(cell.experiment).command}`"
    return ""


def render_table(table: Table, reproduction: Reproduction, records: Mapping[str, Mapping[str, Any]]) -> str:
    """The table as GitHub markdown (label | columns... | command)."""
    header = ["setting", *table.columns, "command"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.rows:
        cells = [row.label, *(cell_text(c, records) for c in row.cells), row_command(row, reproduction)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
