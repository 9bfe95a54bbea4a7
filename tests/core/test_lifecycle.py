"""The one run lifecycle (paperlab/engine/lifecycle.py): every task family records its run in
run.json and, however it ends, its status: a failure inside the task is `failed` with the reason,
Ctrl-C `interrupted`, and `paperlab runs` shows them so."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from conftest import task_config
from omegaconf import OmegaConf

from paperlab.console import out_console
from paperlab.engine.lifecycle import open_run
from paperlab.errors import UserError
from paperlab.tasks.inventory import list_runs

# (config, task module, overrides that fail inside the task, the reason run.json must keep)
FAILURES = [
    ("train", "paperlab.tasks.train", ["data=mnist", "data.root=/nonexistent"], "does not exist"),
    ("visualize", "paperlab.papers.zeiler_fergus.visualize", ["checkpoint=/nonexistent"], "no run directory"),
    ("occlude", "paperlab.papers.zeiler_fergus.occlude", ["occlude.indices=[99999]"], "outside the val split"),
    ("invariance", "paperlab.papers.zeiler_fergus.invariance", ["invariance.images=[/missing.png]"],
     "cannot read image"),
    ("gradcam", "paperlab.tasks.gradcam", ["checkpoint=zfnet_fashion_mnist", "gradcam.images=[/missing.png]"],
     "not found"),
    ("sample_text", "paperlab.papers.graves.text.sample_text", ["temperature=0"], "temperature must be"),
    ("sample-handwriting", "paperlab.papers.graves.handwriting.sample_handwriting", ["sample.bias=[-1]"],
     "bias -1.0 is invalid"),
    ("legibility", "paperlab.papers.graves.handwriting.legibility", ["legibility.best_of=0"], "best_of=0"),
    ("zsl", "paperlab.papers.niwt.zsl", ["data=cub", "data.root=/nonexistent"], "/nonexistent"),
    ("vqa-eval", "paperlab.papers.vqa.vqa_eval", [], "needs an annotations file"),
    ("vqa-baselines", "paperlab.papers.vqa.vqa_baselines", ["baselines=[oracle]"], "oracle"),
]


@pytest.mark.parametrize("task,module,overrides,reason", FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failing_task_leaves_its_run_failed_with_the_reason(task: str, module: str, overrides: list[str],
                                                               reason: str, tmp_path: Path) -> None:
    cfg = task_config(task, overrides)
    with pytest.raises(UserError, match=reason):
        importlib.import_module(module).run(cfg, run_dir=tmp_path / "run")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "failed" and reason in info["error"], info
    assert info["ended"] and info["versions"]["torch"]


def test_bugs_and_ctrl_c_end_the_run_too(tmp_path: Path) -> None:
    cfg = OmegaConf.create({"name": "t"})
    with pytest.raises(ZeroDivisionError), open_run("t", cfg, tmp_path / "bug"):
        1 / 0  # noqa: B018
    assert json.loads((tmp_path / "bug" / "run.json").read_text())["error"] == "division by zero"
    with pytest.raises(KeyboardInterrupt), open_run("t", cfg, tmp_path / "stopped"):
        raise KeyboardInterrupt
    assert json.loads((tmp_path / "stopped" / "run.json").read_text())["status"] == "interrupted"
    with open_run("t", cfg, tmp_path / "done") as run:
        run.save_results({"x": 1.0})
    assert json.loads((tmp_path / "done" / "run.json").read_text())["status"] == "completed"
    with out_console.capture() as shown:
        list_runs(tmp_path)
    table = shown.get()
    assert all(status in table for status in ("failed", "interrupted", "completed"))
