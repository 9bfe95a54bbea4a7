"""Local learning through the engine (`paperlab train experiment=localloss_...`): every rule
trains, the metrics hold the test error and each block's local loss and error per epoch, a run
stopped mid-epoch and resumed ends bit for bit where an uninterrupted one ends, bad settings are
one line before any work, and `local-loss-compare` draws a sweep's runs."""

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from conftest import assert_user_error, make_idx_set, raises_user_error, run_cli, task_config

from paperlab.papers.local_loss.rules import RULES
from paperlab.tasks.train import run

RECIPE = "experiment=localloss_vgg8b_predsim_fashion_mnist"


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors (tests/conftest.py)


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory) -> Path:
    return make_idx_set(tmp_path_factory.mktemp("fashion"))  # 96 training, 40 test images


def tiny(root: Path, *extra: str) -> list[str]:
    """The F-MNIST recipe at 1/16 width (blocks of 8-32 channels) on the 96-image IDX fixture:
    6 steps an epoch."""
    return [RECIPE, f"data.root={root}", "model.feat_mult=0.0625", "model.num_hidden=32",
            "model.dim_in_decoder=64", "model.target_proj_size=16", "trainer.batch_size=16",
            "trainer.eval_batch_size=40", "trainer.progress=false", "trainer.log_every_n_steps=1",
            "optim.lr=0.002", *extra]


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("rule", list(RULES))
def test_every_rule_trains_20_steps_through_the_engine(fixture_root, tmp_path, rule):
    # batches of 32 (3 steps an epoch), no dropout or augmentation: less noise from step to step
    cfg = task_config("train", tiny(fixture_root, f"local_loss.rule={rule}", "trainer.batch_size=32",
                                    "model.dropout=0", "data.flip=false", "data.pad_crop=0",
                                    "trainer.max_epochs=7", "trainer.max_steps=20"))
    results = run(cfg, run_dir=tmp_path)
    records = metrics(tmp_path)
    steps = [r for r in records if "train/loss" in r]
    assert len(steps) == 20 and results["steps"] == 20
    blocks = 7 if RULES[rule].local else 0
    keys = ["train/loss"] + [f"train/block{i}/loss" for i in range(blocks)]
    for key in keys:  # the mean of the first 4 steps' losses against the last 4's
        first, last = (sum(r[key] for r in part) / 4 for part in (steps[:4], steps[-4:]))
        assert last < first, f"{rule}: {key} went from {first:.4f} to {last:.4f}"
    # per epoch: the test error (the reference's per-epoch evaluation) and each block's local
    # loss and local error (pred decoders), from eval_step's sums
    epochs = [r for r in records if "val/error" in r and not r.get("final")]
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4, 5, 6, 7]
    local = {k for k in epochs[-1] if k.startswith("val/block")}
    stats = (["loss", "error"] if RULES[rule].pred else ["loss"]) + [s for s in ("pred", "sim") if getattr(RULES[rule], s)]
    assert local == {f"val/block{i}/{s}" for i in range(blocks) for s in stats}
    assert results["test/error"] == epochs[-1]["val/error"]  # test_with=last: the last epoch's test error
    assert results["rule"] == rule and (tmp_path / "figures" / "local_losses.png").is_file()
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    expected = {f"block{i}" for i in range(blocks)} | {"output"} if blocks else {"global"}
    assert set(ckpt["optimizers"]) == expected and set(ckpt["schedulers"]) == expected
    assert ckpt["model_name"] == "local_net" and ckpt["model_args"]["rule"] == rule


@pytest.mark.parametrize("rule", ["predsim", "predsim-bpf"])
def test_resume_equals_an_uninterrupted_run_bit_for_bit(fixture_root, tmp_path, monkeypatch, rule):
    from paperlab.papers.local_loss.learner import LocalLearning

    # 3 epochs of 6 steps, the learning rate x0.25 after epoch 1, dropout and augmentation drawing
    # random numbers; stopped during step 8 (epoch 2), then resumed
    overrides = tiny(fixture_root, f"local_loss.rule={rule}", "trainer.max_epochs=3", "sched.milestones=[1]")
    cfg = task_config("train", overrides)
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    run(cfg, run_dir=straight)
    step = LocalLearning.manual_step

    def preempted_in_step_8(self, model, batch, optimizers):
        # the preemption signal during step 8: the engine finishes the step, writes last.pt
        # mid-epoch and returns
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == 8:
            os.kill(os.getpid(), signal.SIGUSR1)
        return step(self, model, batch, optimizers)

    with monkeypatch.context() as m:
        m.setattr(LocalLearning, "manual_step", preempted_in_step_8)
        interrupted = run(cfg, run_dir=stopped)
    assert interrupted["interrupted"] == "SIGUSR1" and interrupted["steps"] == 8
    run(task_config("train", overrides), run_dir=stopped, resume=True)

    a, b = (torch.load(p / "checkpoints" / "last.pt", weights_only=True) for p in (straight, stopped))
    assert a["trainer"] == b["trainer"] and a["trainer"]["step"] == 18
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert len(a["optimizers"]) == 8  # 7 blocks and the output layer, each with its Adam state
    for name, state in a["optimizers"].items():
        other = b["optimizers"][name]
        assert state["param_groups"] == other["param_groups"], name  # lr 5e-4 x 0.25 in both
        for s, t in zip(state["state"].values(), other["state"].values(), strict=True):
            assert all(torch.equal(s[k], t[k]) for k in s), name
    assert a["schedulers"] == b["schedulers"]
    steps = [[(r["step"], r["train/loss"]) for r in metrics(p) if "train/loss" in r] for p in (straight, stopped)]
    assert steps[0] == steps[1]

    # the checkpoint alone rebuilds the network and how to feed it (load_model)
    from paperlab.engine.restore import load_model

    loaded = load_model(stopped, kind="local_loss", prefer="last")
    assert loaded.model.rule.name == rule and loaded.extras.image_size == 28
    assert all(torch.equal(v, b["model"][k]) for k, v in loaded.model.state_dict().items())


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        ("local_loss.rule=predsimm", ["unknown training rule 'predsimm'",
                                      "backprop, pred, sim, predsim, pred-bpf, sim-bpf, predsim-bpf"]),
        ("model.arch=vgg16", ["unknown network 'vgg16'", "vgg8b, vgg11b, mlp"]),
        ("local_loss.beta=1.5", ["beta=1.5 is outside [0, 1]"]),
        ("local_loss.beta=-0.1", ["beta=-0.1 is outside [0, 1]"]),
        ("local_loss.eval_on=train", ["local_loss.eval_on=train", "test, val"]),
        ("trainer.test_with=best", ["best.pt by its test error", "trainer.test_with=last"]),
    ],
)
def test_bad_settings_are_one_line_before_any_work(fixture_root, tmp_path, monkeypatch, override, needles):
    import paperlab.papers.local_loss.learner as learner

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read before the settings were checked")

    monkeypatch.setattr(learner, "build_data_as", no_data)
    cfg = task_config("train", tiny(fixture_root, override))
    with raises_user_error(*needles):
        learner.LocalLearning(cfg)
    with raises_user_error(*needles):
        run(cfg, run_dir=tmp_path)
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "metrics.jsonl").exists()


def test_comparison_of_a_sweeps_runs(fixture_root, tmp_path):
    from omegaconf import OmegaConf

    from paperlab.papers.local_loss import compare

    sweep = tmp_path / "sweep"
    for job, rule in enumerate(["backprop", "predsim"]):  # laid out as a sweep's jobs, config as Hydra saves it
        cfg = task_config("train", tiny(fixture_root, "trainer.max_epochs=2", f"local_loss.rule={rule}"))
        run(cfg, run_dir=sweep / str(job))
        (sweep / str(job) / ".hydra").mkdir()
        OmegaConf.save(cfg, sweep / str(job) / ".hydra" / "config.yaml")
    results = compare.run(task_config("local_loss_compare", [f"runs={sweep}"]), run_dir=tmp_path / "compare")
    for job, rule in enumerate(["backprop", "predsim"]):
        final = json.loads((sweep / str(job) / "results.json").read_text())
        assert results[f"{rule}/test_error"] == final["test/error"] and results[f"{rule}/epochs"] == 2
    assert (tmp_path / "compare" / "figures" / "error_curves.png").is_file()
    # run directories named one by one keep the order given
    listed = compare.run(task_config("local_loss_compare", [f"runs=[{sweep / '1'},{sweep / '0'}]"]),
                         run_dir=tmp_path / "listed")
    assert [k for k in listed if k.endswith("/test_error")] == ["predsim/test_error", "backprop/test_error"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with raises_user_error("no local-loss run under"):
        compare.run(task_config("local_loss_compare", [f"runs={empty}"]), run_dir=tmp_path / "nothing")
    with raises_user_error("is not a folder"):
        compare.run(task_config("local_loss_compare", [f"runs=[{sweep / '0'},{tmp_path / 'missing'}]"]),
                    run_dir=tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


@pytest.mark.slow
def test_sweep_of_rules_from_the_command_line(fixture_root, tmp_path):
    sweep = tmp_path / "sweep"
    r = run_cli("train", "-m", *tiny(fixture_root, "trainer.max_epochs=1", "local_loss.rule=backprop,sim"),
                f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("local-loss-compare", str(sweep), f"hydra.run.dir={tmp_path / 'compare'}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads((tmp_path / "compare" / "results.json").read_text())
    assert {k for k in results if k.endswith("/test_error")} == {"backprop/test_error", "sim/test_error"}
    assert_user_error(run_cli("local-loss-compare", cwd=tmp_path), "needs run directories")
