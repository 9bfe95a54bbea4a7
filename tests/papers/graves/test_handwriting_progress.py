"""The loops a user waits for show a progress bar on the shared stderr console (sampling a page,
legibility's biases and batches), and the page of handwriting is drawn at print quality; with the
shipped networks, on the configs the command line composes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import task_config
from PIL import Image
from rich.console import Console

import paperlab.console


@pytest.fixture
def stderr_bar(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The shared stderr console as a terminal (as a user sees it), written to a buffer."""
    buffer = io.StringIO()
    monkeypatch.setattr(paperlab.console, "err_console", Console(file=buffer, force_terminal=True, width=160))
    return buffer


def test_sampling_a_page_shows_progress_and_draws_the_page_at_print_quality(stderr_bar: io.StringIO,
                                                                             tmp_path: Path) -> None:
    from paperlab.papers.graves.handwriting import sample_handwriting

    # paperlab sample-handwriting --text "hello" --bias 1.0
    cfg = task_config("sample-handwriting", ["sample.text=hello", "sample.bias=[1.0]", "sample.figures=false"])
    sample_handwriting.run(cfg, run_dir=tmp_path / "run")
    shown = stderr_bar.getvalue()
    assert "writing 1 line x 4 candidates" in shown and "1/1" in shown  # one step per bias and style
    # the page was 279 x 176 px (130 dpi); 644 x 407 at 300 dpi, the same strokes
    width, height = Image.open(tmp_path / "run" / "figures" / "handwriting.png").size
    assert width >= 2 * 279 and height >= 2 * 176


def test_legibility_shows_progress_over_biases_and_batches(stderr_bar: io.StringIO, tmp_path: Path) -> None:
    from paperlab.papers.graves.handwriting import legibility

    cfg = task_config("legibility", ["legibility.texts=[hi,ab]", "legibility.bias=[0,1]", "legibility.batch_size=1",
                                     "legibility.best_of=1", "legibility.show=0"])
    results = legibility.run(cfg, run_dir=tmp_path / "run")
    shown = stderr_bar.getvalue()
    assert "writing and reading 2 lines at 2 biases" in shown and "4/4" in shown  # 2 biases x 2 batches
    assert results["lines"] == 2 and {"bias_0/cer", "bias_1/cer"} <= set(results)
