"""`paperlab reproduce` and `paperlab results`: tables rendered from records, checked against the
docs, a real (tiny) reproduction run, reused on the second call, and its report.html rendered by a
headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlab.errors import UserError
from paperlab.registry import Registry
from paperlab.tasks import reproduce, results
from paperlab.tasks.reproduction import (
    REPRODUCTIONS,
    Experiment,
    Figure,
    Ours,
    Reproduction,
    Row,
    Table,
    cell_text,
    read_records,
    records_dir,
    render_table,
)

TINY = Reproduction(
    paper="tiny",
    title="A tiny paper",
    citation="Nobody. 2026.",
    scale="one line of handwriting from the shipped network",
    experiments=(Experiment("hi", ("sample-handwriting", "--text", "hi", "--best-of", "1"), 0.2, "a sample"),),
    tables=(Table("t", "Table 1", ("points", "paper"), (
        Row("ours", (Ours("hi", "points", 0), "12")),
        Row("theirs", ("7", "8"), "not run"),
    )),),
    figures=(Figure("hi", "figures/handwriting.png", "our line", "their line"),),
)


def test_table_renders_our_numbers_beside_the_paper_and_names_missing_runs() -> None:
    text = render_table(TINY.tables[0], TINY, {"hi": {"results": {"points": 41.6}}})
    assert text.splitlines() == [
        "| setting | points | paper | command |",
        "|---|---|---|---|",
        "| ours | 42 | 12 | `paperlab sample-handwriting --text hi --best-of 1` |",
        "| theirs | 7 | 8 | not run |",
    ]
    assert "| ours | (not run) | 12 |" in render_table(TINY.tables[0], TINY, {})


def test_a_result_written_as_text_reads_as_it_stands() -> None:
    assert cell_text(Ours("hi", "maps"), {"hi": {"results": {"maps": "32/32"}}}) == "32/32"
    assert cell_text(Ours("hi", "maps"), {"hi": {"results": {}}}) == "(not run)"


def _docs(root: Path, table_body: str) -> Path:
    (root / "docs" / "papers").mkdir(parents=True)
    (root / "docs" / "results" / "tiny").mkdir(parents=True)
    (root / "docs" / "results" / "tiny" / "hi.json").write_text(json.dumps({"results": {"points": 42}}))
    readme = root / "README.md"
    readme.write_text(f"# x\n\n<!-- results:tiny/t -->\n{table_body}<!-- /results -->\n\nprose 3.14\n")
    return readme


def test_results_regenerates_marked_tables_and_check_fails_on_a_hand_edit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(results, "get_reproduction", lambda paper: TINY)
    readme = _docs(tmp_path, "| stale |\n")
    with pytest.raises(UserError, match="README.md: tiny/t"):
        results.run(tmp_path, check=True)
    assert results.run(tmp_path).changed == ["README.md: tiny/t"]
    assert "| ours | 42 | 12 |" in readme.read_text() and readme.read_text().endswith("prose 3.14\n")
    assert results.run(tmp_path, check=True).changed == []  # now in step
    readme.write_text(readme.read_text().replace("| ours | 42 |", "| ours | 43 |"))  # a hand edit
    with pytest.raises(UserError, match="differ from their records"):
        results.run(tmp_path, check=True)


def test_the_repository_tables_match_their_records() -> None:
    outcome = results.run(check=True)  # raises, naming the table, when a number was typed by hand
    assert outcome.tables >= 3


def test_every_table_is_in_the_docs_and_every_recorded_cell_is_found() -> None:
    """A table no marker shows is dead; an `Ours` whose experiment has a record but reads
    '(not run)' names a key the record lacks (a misspelt key would otherwise pass the check)."""
    root = results.source_root()
    shown = {(m["paper"], m["table"]) for doc in results.documents(root) for m in results.MARKED.finditer(doc.read_text())}
    for name in REPRODUCTIONS.names():
        repro = REPRODUCTIONS.get(name)
        records = read_records(records_dir(root, name))
        for table in repro.tables:
            assert (name, table.id) in shown, f"{name}/{table.id} is in no document"
            for row in table.rows:
                for cell in row.cells:
                    if isinstance(cell, Ours) and cell.experiment in records:
                        assert cell_text(cell, records) != "(not run)", f"{name}/{table.id}: {row.label}: {cell.key}"


def test_readme_stays_a_front_page() -> None:
    assert (results.source_root() / "README.md").stat().st_size <= 15 * 1024, "README.md over 15 KB: move details to docs/"


def test_every_paper_declares_a_reproduction_with_its_experiments() -> None:
    for name in REPRODUCTIONS.names():
        repro = REPRODUCTIONS.get(name)
        assert repro.experiments and all(e.minutes > 0 for e in repro.experiments)
        for table in repro.tables:
            for row in table.rows:
                assert len(row.cells) == len(table.columns), f"{name}/{table.id}: {row.label}"
                for cell in row.cells:
                    if isinstance(cell, Ours):
                        repro.experiment(cell.experiment)  # raises on a misspelt experiment


def test_reproduce_runs_reuses_and_writes_a_self_contained_report(tmp_path: Path, monkeypatch, capsys) -> None:
    only_tiny = Registry("reproduction")
    only_tiny.register("tiny")(TINY)
    monkeypatch.setattr(reproduce, "REPRODUCTIONS", only_tiny)
    out = tmp_path / "repro"
    plan = reproduce.run("tiny", out=out, dry_run=True)["tiny"]
    assert plan == [("hi", "run", 0.2)] and not out.exists()  # a dry run writes nothing
    reproduce.run("tiny", out=out)
    (run_dir,) = [p for p in (out / "tiny").iterdir() if p.is_dir() and p.name.startswith("hi-")]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    record = json.loads((out / "tiny" / "records" / "hi.json").read_text())
    assert record["command"] == "paperlab sample-handwriting --text hi --best-of 1" and record["seed"] is not None
    md = (out / "tiny" / "report.md").read_text()
    assert "| theirs | 7 | 8 | not run |" in md and "How each number was made" in md
    page = (out / "tiny" / "report.html").read_text()
    assert 'src="data:image/png;base64,' in page and "http" not in page.replace("charset", "")
    capsys.readouterr()
    reproduce.run("tiny", out=out)  # the second time: nothing to run
    assert "nothing to do" in capsys.readouterr().out
    assert len([p for p in (out / "tiny").iterdir() if p.name.startswith("hi-")]) == 1

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium here (make install puts Debian's where apt-get can)")
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    f"--screenshot={shot}", "--window-size=1000,1400", (out / "tiny" / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"))
    dark_rows = (pixels < 100).any(axis=1)
    # the embedded handwriting figure is a tall block of dark strokes below the text
    assert dark_rows.sum() > 150, "the report's figure did not render"


def test_code_version_covers_what_a_papers_experiments_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import paperlab

    package, conf = tmp_path / "paperlab", tmp_path / "conf"
    files = {package / "__init__.py": "", package / "core.py": "x = 1",
             package / "papers" / "a" / "m.py": "from paperlab.papers.b import y",
             package / "papers" / "b" / "__init__.py": "y = 1", package / "papers" / "c" / "m.py": "z = 1",
             package / "papers" / "a" / "reproduction.py": "TABLES = ()",
             conf / "train.yaml": "a: 1", tmp_path / "docs" / "a.md": "a table"}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.setattr(paperlab, "__file__", str(package / "__init__.py"))
    monkeypatch.setattr(reproduce, "conf_dir", lambda: conf)
    version = reproduce.code_version("a")
    for unrelated in (package / "papers" / "c" / "m.py", tmp_path / "docs" / "a.md",  # another paper, the docs,
                      package / "papers" / "a" / "reproduction.py"):  # the tables
        unrelated.write_text("edited")
        assert reproduce.code_version("a") == version
    for used in (package / "core.py", package / "papers" / "b" / "__init__.py", conf / "train.yaml"):  # a imports b
        used.write_text("edited")
        assert reproduce.code_version("a") != version
        version = reproduce.code_version("a")
