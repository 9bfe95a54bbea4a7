"""The report of `paperlab reproduce`: report.md, and report.html that needs nothing but itself
(figures embedded as data: URIs, styles inline, no script, no network), for each table the paper's
numbers beside ours, for each figure ours beside a description of the paper's, and for every
number the command, seed, run and versions that made it."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from paperlab.io.atomic import atomic_write
from paperlab.tasks.reproduction import Reproduction, cell_text, render_table, row_command

STYLE = """body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}code{background:#f6f6f6;padding:0 .2em}figure{margin:1.5em 0}img{max-width:100%}
figcaption{color:#555}.prov{font-size:13px;color:#555}"""


class StepLike(Protocol):
    run_dir: Path
    state: str


def inline(text: str) -> str:
    """The markdown the tables use inside a cell (`code`, **bold**) as HTML, the rest escaped."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda f, data=text.encode(): f.write(data))


def _figure_path(steps: Mapping[str, StepLike], experiment: str, path: str) -> Path | None:
    step = steps.get(experiment)
    if step is None or step.state == "shipped":
        return None
    found = step.run_dir / path
    return found if found.is_file() else None


def _provenance(records: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    lines = []
    for name, rec in records.items():
        git = rec.get("git") or {}
        if isinstance(git, str):  # an older model.json wrote the commit as a sentence
            git = {"sha": git.split()[0], "note": git}
        parts = [rec.get("source"), f"ran as `{rec['ran']}`" if rec.get("ran") else None,
                 f"seed {rec['seed']}" if rec.get("seed") is not None else "no random seed",
                 f"git {str(git.get('sha'))[:10]}" + (" (uncommitted changes)" if git.get("dirty") else ""),
                 f"torch {(rec.get('versions') or {}).get('torch')}", rec.get("device"),
                 f"{rec.get('started')} .. {rec.get('ended')}"]
        lines.append((f"{name}: {rec.get('command')}", ", ".join(p for p in parts if p)))
    return lines


def write(reproduction: Reproduction, steps: Sequence[Any], records: Mapping[str, Mapping[str, Any]],
          folder: Path) -> tuple[Path, Path]:
    """Write report.md and report.html into `folder`."""
    by_name = {s.experiment.name: s for s in steps}
    md = [f"# Reproducing {reproduction.title}", "", reproduction.citation, "", f"**Scale.** {reproduction.scale}", ""]
    body = [f"<h1>Reproducing {html.escape(reproduction.title)}</h1>", f"<p>{html.escape(reproduction.citation)}</p>",
            f"<p><b>Scale.</b> {html.escape(reproduction.scale)}</p>"]
    for table in reproduction.tables:
        md += [f"## {table.title}", "", render_table(table, reproduction, records), ""]
        body.append(f"<h2>{html.escape(table.title)}</h2><table><tr><th>setting</th>"
                    + "".join(f"<th>{html.escape(c)}</th>" for c in table.columns) + "<th>command</th></tr>")
        for row in table.rows:
            cells = [row.label, *(cell_text(c, records) for c in row.cells)]
            body.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in [*cells, row_command(row, reproduction)]) + "</tr>")
        body.append("</table>")
        if table.note:
            md += [table.note, ""]
            body.append(f"<p>{inline(table.note)}</p>")
    if reproduction.figures:
        md += ["## Figures", ""]
        body.append("<h2>Figures</h2>")
    for fig in reproduction.figures:
        path = _figure_path(by_name, fig.experiment, fig.path)
        if path is None:
            md += [f"*{fig.caption}*: not drawn (experiment {fig.experiment} was not run here).", ""]
            continue
        md += [f"![{fig.caption}]({path.relative_to(folder)})", "", f"*Ours:* {fig.caption} *Paper:* {fig.paper}", ""]
        data = base64.b64encode(path.read_bytes()).decode()
        body.append(f'<figure><img alt="{html.escape(fig.caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption><b>Ours:</b> {html.escape(fig.caption)} <b>Paper:</b> {html.escape(fig.paper)}</figcaption></figure>")
    md += ["## How each number was made", ""]
    body.append('<h2>How each number was made</h2><ul class="prov">')
    for what, where in _provenance(records):
        md.append(f"- `{what}`: {where}")
        body.append(f"<li><code>{html.escape(what)}</code>: {inline(where)}</li>")
    body.append("</ul>")
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(reproduction.title)}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    _write(folder / "report.md", "\n".join(md) + "\n")
    _write(folder / "report.html", page)
    return folder / "report.md", folder / "report.html"
