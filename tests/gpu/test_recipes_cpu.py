"""The GPU tier's recipes (tests/gpu/gpu_recipes.py) on the CPU: two steps of each learner kind,
so that the recipes stay valid on machines without a GPU (where tests/gpu/test_cuda.py skips)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import task_config
from gpu_recipes import RECIPES, recipe


def train_losses(run: Path) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in records if "train/loss" in r]


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in RECIPES if k != "handwriting_cuda_graphs"])  # the same run on CPU
def test_recipe_trains_two_steps_on_cpu(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperlab.tasks import train

    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path / "cache"))
    cfg = task_config("train", recipe(kind, tmp_path, "trainer.device=cpu", "trainer.precision=32"))
    assert cfg.learner == kind  # the recipe trains the learner it is named for
    results = train.run(cfg, run_dir=tmp_path / "run")
    losses = train_losses(tmp_path / "run")
    assert results["steps"] == 2 and len(losses) == 2 and all(math.isfinite(v) for v in losses)
