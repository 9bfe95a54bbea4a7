"""A run killed with SIGKILL mid-epoch and continued with `--resume` ends with exactly the weights
of an uninterrupted run (same seed): data order, augmentation, dropout and optimizer state all
replay from the checkpoint."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import torch
from conftest import make_idx_set, run_cli, tiny_train_overrides


def _final(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)


def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    root = make_idx_set(tmp_path / "data")
    # 80 training images / 16 = 5 steps an epoch; checkpoints every 2 steps; killed after step 7
    args = [*tiny_train_overrides(root, epochs=3), "trainer.checkpoint_every_n_steps=2", "data.pad_crop=2"]
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    r = run_cli("train", *args, f"hydra.run.dir={straight}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]

    r = run_cli("train", *args, f"hydra.run.dir={crashed}", cwd=tmp_path, env={"PAPERLAB_FAULT_STEP": "7"})
    assert r.returncode == -signal.SIGKILL
    assert _final(crashed)["trainer"] == {**_final(crashed)["trainer"], "epoch": 1, "batch_in_epoch": 1, "step": 6}
    assert json.loads((crashed / "run.json").read_text())["status"] == "running"  # it died, nobody wrote

    r = run_cli("train", "--resume", str(crashed), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = _final(straight), _final(crashed)
    assert a["trainer"] == b["trainer"] and a["trainer"]["step"] == 15
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    info = json.loads((crashed / "run.json").read_text())
    assert info["status"] == "completed" and len(info["resumed"]) == 1

    # the metrics of the resumed run are those of the uninterrupted one (no duplicated steps)
    def losses(run: Path) -> list[tuple[int, float]]:
        recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return [(r["step"], r["train/loss"]) for r in recs if "train/loss" in r]

    assert losses(straight) == losses(crashed)
