"""The layering of docs/design.md, checked by import-linter's contracts (pyproject.toml): the core
never imports a paper, papers stand alone (DAN builds on VQA), and layers import downwards only."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(LINT, cwd=root, env={"PYTHONPATH": str(root), "PATH": ""}, capture_output=True,
                          text=True, timeout=300)


def test_the_contracts_hold() -> None:
    result = lint(REPO)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_a_core_module_importing_a_paper_breaks_them(tmp_path: Path) -> None:
    """The check can fail: the same tree with one engine module that imports a paper."""
    shutil.copytree(REPO / "paperlab", tmp_path / "paperlab", ignore=shutil.ignore_patterns("*.pt", "__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    (tmp_path / "paperlab" / "engine" / "sneaky.py").write_text("from paperlab.papers.graves import deep_lstm\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "The core never imports a paper BROKEN" in result.stdout
    assert "paperlab.engine.sneaky -> paperlab.papers.graves.deep_lstm" in result.stdout
