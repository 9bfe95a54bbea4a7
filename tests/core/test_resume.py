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
    for sa, sb in zip(a["optimizers"]["main"]["state"].values(), b["optimizers"]["main"]["state"].values(),
                      strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    info = json.loads((crashed / "run.json").read_text())
    assert info["status"] == "completed" and len(info["resumed"]) == 1

    # the metrics of the resumed run are those of the uninterrupted one (no duplicated steps)
    def losses(run: Path) -> list[tuple[int, float]]:
        recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return [(r["step"], r["train/loss"]) for r in recs if "train/loss" in r]

    assert losses(straight) == losses(crashed)


def test_resume_takes_a_new_constant_lr_and_refuses_to_change_a_schedule(tmp_path: Path) -> None:
    from conftest import assert_user_error

    root = make_idx_set(tmp_path / "data")
    run = tmp_path / "run"
    args = [*tiny_train_overrides(root, epochs=1), "sched=constant", "trainer.log_every_n_steps=1"]
    assert run_cli("train", *args, f"hydra.run.dir={run}", cwd=tmp_path).returncode == 0
    r = run_cli("train", "--resume", str(run), "trainer.max_epochs=2", "optim.lr=0.0005", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["epoch"]: r["lr"] for r in recs if "lr" in r}
    assert lrs[1] == 0.05 and lrs[2] == 0.0005
    assert _final(run)["optimizers"]["main"]["param_groups"][0]["lr"] == 0.0005

    scheduled = tmp_path / "scheduled"  # a cosine schedule over 2 epochs, stopped after the first
    args = [*tiny_train_overrides(root, epochs=2), "sched=cosine", "trainer.max_steps=5"]
    assert run_cli("train", *args, f"hydra.run.dir={scheduled}", cwd=tmp_path).returncode == 0
    before = _final(scheduled)["model"]
    r = run_cli("train", "--resume", str(scheduled), "trainer.max_steps=10", "optim.lr=0.0005", cwd=tmp_path)
    assert_user_error(r, "optim.lr changed on resume", "schedule")
    after = _final(scheduled)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing written
    # the failed attempt left the run's recorded overrides as they were: a plain resume still works
    assert "optim.lr=0.0005" not in (scheduled / ".hydra" / "overrides.yaml").read_text()
    r = run_cli("train", "--resume", str(scheduled), "trainer.max_steps=10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _final(scheduled)["trainer"]["step"] == 10


def test_keep_run_settings_puts_back_what_the_files_changed_but_not_what_the_command_asks() -> None:
    from omegaconf import OmegaConf

    from paperlab.launch import keep_run_settings

    saved = {"optim": {"lr": 0.05, "momentum": 0.9}, "data": {"resize": None}, "trainer": {"max_epochs": 1},
             "model": {"retired": 3}, "resume": None}
    today = {"optim": {"lr": 0.05, "momentum": 0.5}, "data": {"resize": 56}, "trainer": {"max_epochs": 2},
             "model": {"layer1_init_std": 0.01}, "resume": "/runs/a"}
    cfg = OmegaConf.create(today)
    kept, changed = keep_run_settings(cfg, OmegaConf.create(saved), ["trainer.max_epochs=2"])
    assert OmegaConf.to_container(cfg) == {**today, "optim": {"lr": 0.05, "momentum": 0.9}, "data": {"resize": None}}
    assert sorted(kept) == ["data.resize: 56 -> None", "optim.momentum: 0.5 -> 0.9"]
    # a key today's files no longer have is dropped (today's code would refuse it)
    assert changed == ["model.retired=3 (gone)", "model.layer1_init_std=0.01 (new)"]
    # a group override on the command takes the whole group from today's files; experiment= the whole recipe
    cfg = OmegaConf.create(today)
    kept, _ = keep_run_settings(cfg, OmegaConf.create(saved), ["optim=sgd", "trainer.max_epochs=2"])
    assert kept == ["data.resize: 56 -> None"] and cfg.optim.momentum == 0.5
    cfg = OmegaConf.create(today)  # a one-off key of the earlier command (zsl --redo) is not brought back
    kept, _ = keep_run_settings(cfg, OmegaConf.create(saved), ["trainer.max_epochs=2"], transient=("optim.momentum",))
    assert kept == ["data.resize: 56 -> None"] and cfg.optim.momentum == 0.5
    cfg = OmegaConf.create(today)
    assert keep_run_settings(cfg, OmegaConf.create(saved), ["experiment=other"]) == ([], [])
    assert OmegaConf.to_container(cfg) == today
    # an object built from _target_ gets back the run's class and only its arguments
    adamw = {"_target_": "torch.optim.AdamW", "lr": 0.004, "betas": [0.9, 0.999]}
    cfg = OmegaConf.create({"optim": {"_target_": "torch.optim.SGD", "lr": 0.05, "momentum": 0.9}})
    kept, changed = keep_run_settings(cfg, OmegaConf.create({"optim": adamw}), [])
    assert OmegaConf.to_container(cfg) == {"optim": adamw} and changed == []
    assert "optim.momentum: 0.9 -> (absent)" in kept


def test_resume_keeps_the_run_settings_when_the_defaults_changed_since_it_started(tmp_path: Path) -> None:
    """The run started when data.flip defaulted to false; today's default is true. Its resume must end
    where an uninterrupted run with flip=false ends, and say what it kept."""
    root = make_idx_set(tmp_path / "data")
    args = [*tiny_train_overrides(root, epochs=2), "sched=constant", "data.flip=false"]
    straight, started = tmp_path / "straight", tmp_path / "started"
    assert run_cli("train", *args, f"hydra.run.dir={straight}", cwd=tmp_path).returncode == 0
    assert run_cli("train", *args, "trainer.max_epochs=1", f"hydra.run.dir={started}", cwd=tmp_path).returncode == 0
    recorded = started / ".hydra" / "overrides.yaml"
    recorded.write_text(recorded.read_text().replace("- data.flip=false\n", ""))  # what its files said then

    r = run_cli("train", "--resume", str(started), "trainer.max_epochs=2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "kept the run's settings (now -> kept): data.flip: True -> False" in (started / "train.log").read_text()
    a, b = _final(straight), _final(started)
    assert a["trainer"]["step"] == b["trainer"]["step"] == 10
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert "flip: false" in (started / ".hydra" / "config.yaml").read_text()


def test_a_schedule_with_a_fixed_end_is_not_stretched_by_a_longer_resume(tmp_path: Path) -> None:
    from conftest import assert_user_error

    root = make_idx_set(tmp_path / "data")
    run = tmp_path / "run"
    assert run_cli("train", *tiny_train_overrides(root, epochs=1), f"hydra.run.dir={run}", cwd=tmp_path).returncode == 0
    before = (run / "checkpoints" / "last.pt").read_bytes()
    r = run_cli("train", "--resume", str(run), "trainer.max_epochs=2", cwd=tmp_path)  # one-cycle, 5 steps
    assert_user_error(r, "the run's schedule ends after 5 (total_steps); this resume would need 10", "sched=constant")
    assert (run / "checkpoints" / "last.pt").read_bytes() == before
    r = run_cli("train", "--resume", str(run), "trainer.max_epochs=2", "sched=constant", "optim.lr=0.001", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _final(run)["trainer"]["step"] == 10


def test_init_from_starts_a_new_run_from_another_runs_weights(tmp_path: Path) -> None:
    from conftest import assert_user_error

    root = make_idx_set(tmp_path / "data")
    args = [*tiny_train_overrides(root, epochs=1), "sched=constant"]
    source, tuned = tmp_path / "source", tmp_path / "tuned"
    assert run_cli("train", *args, f"hydra.run.dir={source}", cwd=tmp_path).returncode == 0
    # at lr 0 the weights stay where they started: the source run's, not a fresh initialisation
    r = run_cli("train", *args, "optim.lr=0", f"init_from={source}", f"hydra.run.dir={tuned}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = _final(source), _final(tuned)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"] if "running" not in k)
    assert b["trainer"]["step"] == a["trainer"]["step"]  # a new run: its own steps, counted from 0
    assert json.loads((tuned / "run.json").read_text())["init_from"] == str(source)

    fresh = tmp_path / "fresh"
    assert run_cli("train", *args, "optim.lr=0", f"hydra.run.dir={fresh}", cwd=tmp_path).returncode == 0
    assert not torch.equal(a["model"]["features.0.weight"], _final(fresh)["model"]["features.0.weight"])

    r = run_cli("train", *args, "model.hidden=32", f"init_from={source}", cwd=tmp_path)
    assert_user_error(r, "does not fit this model", "same architecture")
    r = run_cli("train", *args, "init_from=graves_text", cwd=tmp_path)
    assert_user_error(r, "holds a 'char_lm' model, not a 'classifier' one", "learner=classifier")
