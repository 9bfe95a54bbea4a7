"""`paperlab results`: the results tables of README.md and docs/papers/*.md, generated from the
records in docs/results/ (never typed by hand); `--check` fails when a table differs from them.

A table lives between `<!-- results:PAPER/TABLE -->` and `<!-- /results -->`; what is between the
markers is replaced by the table its paper's Reproduction declares, filled from the records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import paperlab
from paperlab.errors import UserError
from paperlab.io.atomic import atomic_write
from paperlab.tasks.reproduction import get_reproduction, read_records, records_dir, render_table

MARKED = re.compile(r"(<!-- results:(?P<paper>[a-z0-9_]+)/(?P<table>[a-z0-9_]+) -->\n)(?P<body>.*?)(<!-- /results -->)",
                    re.DOTALL)


@dataclass
class Outcome:
    tables: int  # tables found between markers
    changed: list[str]  # "file: paper/table" of those whose text differs from the records


def source_root() -> Path:
    """The checkout paperlab runs from (README.md and docs/ live there, not in a wheel)."""
    root = Path(paperlab.__file__).resolve().parents[1]
    if not (root / "README.md").is_file() or not (root / "docs").is_dir():
        raise UserError("paperlab results works on a source checkout (README.md and docs/ next to paperlab/)",
                        "run it from a git clone with --root DIR")
    return root


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs" / "papers").glob("*.md"))]


def regenerate(text: str, root: Path) -> tuple[str, list[str], int]:
    """`text` with every marked table rendered from the records; the ids that changed; the count."""
    changed: list[str] = []
    count = 0

    def table(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        paper, table_id = match["paper"], match["table"]
        reproduction = get_reproduction(paper)
        spec = next((t for t in reproduction.tables if t.id == table_id), None)
        if spec is None:
            ids = ", ".join(t.id for t in reproduction.tables)
            raise UserError(f"the marker results:{paper}/{table_id} names no table of {paper}", f"use one of: {ids}")
        body = render_table(spec, reproduction, read_records(records_dir(root, paper))) + "\n"
        if body != match["body"]:
            changed.append(f"{paper}/{table_id}")
        return match.group(1) + body + match.group(5)

    return MARKED.sub(table, text), changed, count


def run(root: Path | None = None, check: bool = False) -> Outcome:
    """Rewrite the marked tables (or, with `check`, only compare them) and say what differed."""
    root = root or source_root()
    outcome = Outcome(0, [])
    for doc in documents(root):
        text = doc.read_text()
        new, changed, count = regenerate(text, root)
        outcome.tables += count
        outcome.changed += [f"{doc.relative_to(root)}: {c}" for c in changed]
        if changed and not check:
            atomic_write(doc, lambda f, data=new.encode(): f.write(data))
    if check and outcome.changed:
        raise UserError(f"{len(outcome.changed)} results table(s) differ from their records ({'; '.join(outcome.changed)})",
                        "regenerate them with `paperlab results`; never edit a number by hand")
    return outcome
