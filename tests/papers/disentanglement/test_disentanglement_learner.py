"""The study's models through the engine (`paperlab train experiment=dis_<method>`) on a small
dSprites grid written in the released .npz format: every method trains, each model is scored by
every metric on both representations into results.json, a FactorVAE run stopped mid-epoch and
resumed ends bit for bit where an uninterrupted one ends (both optimisers), a NaN TC estimate
stops training as diverged, bad names are one line before any work, and the study's report of a
sweep (`paperlab disentangle --report`) and the whole study command (slow)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_user_error, raises_user_error, run_cli, task_config

from paperlab.errors import TrainingDiverged
from paperlab.papers.disentanglement.dsprites import FACTOR_NAMES, FACTOR_VALUES, render
from paperlab.papers.disentanglement.methods import STUDY_GRID
from paperlab.tasks.train import run

# a sub-grid of the real one: 3 shapes x 2 scales x 2 orientations x 4 x 4 positions
PICKS = ([0], [0, 1, 2], [0, 5], [0, 10], [0, 10, 20, 31], [0, 10, 20, 31])
SIZES = tuple(len(p) for p in PICKS)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors (tests/conftest.py)


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """192 real sprites in the released file's format (imgs, latents_classes, latents_values and
    a pickled metadata dict), the classes a row-major grid of the sub-grid's sizes."""
    classes = np.stack(np.unravel_index(np.arange(np.prod(SIZES)), SIZES), axis=-1)
    real = np.stack([np.array(p)[classes[:, f]] for f, p in enumerate(PICKS)], axis=-1)
    values = np.stack([FACTOR_VALUES[f][real[:, f]] for f in range(6)], axis=-1)
    path = tmp_path_factory.mktemp("dsprites") / "dsprites_small.npz"
    metadata = {"latents_sizes": np.array(SIZES), "latents_names": FACTOR_NAMES}
    np.savez(path, imgs=render(real), latents_classes=classes, latents_values=values,
             metadata=np.array(metadata, dtype=object))
    return path


def tiny(released: Path, experiment: str, *extra: str) -> list[str]:
    """A recipe at batch 16 (12 steps an epoch on the 192 sprites), 8 steps, scored by MIG."""
    return [f"experiment={experiment}", f"data.root={released}", "data.val_size=32",
            "model.discriminator_hidden=32", "model.discriminator_layers=2",
            "trainer.batch_size=16", "trainer.eval_batch_size=32", "trainer.max_steps=8",
            "trainer.max_epochs=2", "trainer.progress=false", "trainer.log_every_n_steps=1",
            "optim.lr=1e-3", "evaluation.metrics=[mig]", "evaluation.sizes.mig.num_train=300",
            "evaluation.figures=false", *extra]


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", list(STUDY_GRID))
def test_every_method_trains_through_the_engine(released, tmp_path, method):
    results = run(task_config("train", tiny(released, f"dis_{method}", "method.level=1")),
                  run_dir=tmp_path)
    key, values = STUDY_GRID[method]
    assert (results["method"], results["hyperparameter"], results["value"]) == (method, key, values[1])
    assert results["steps"] == 8 and 0 <= results["mean/mig"] <= 1 and "sampled/mig" in results
    steps = [r for r in records(tmp_path) if "train/reconstruction" in r]
    assert len(steps) == 8
    first, last = (np.mean([r["train/reconstruction"] for r in part]) for part in (steps[:2], steps[-2:]))
    assert last < first, f"{method}: reconstruction {first:.1f} -> {last:.1f}"
    if method == "annealed_vae":  # C rises to c_max over a third of the 8 steps (sweep.py: 1/3)
        assert [r["train/capacity"] for r in steps][:4] == pytest.approx([0, 10 / 3, 20 / 3, 10])
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    expected = {"main", "discriminator"} if method == "factor_vae" else {"main"}
    assert set(ckpt["optimizers"]) == expected and ckpt["learner_state"] == {"step": 8}
    assert ckpt["model_name"] == "disentanglement_vae"
    assert ckpt["model_args"]["discriminator"] == (method == "factor_vae")


def test_factor_vae_is_scored_by_every_metric_and_rebuilt_from_its_checkpoint(released, tmp_path):
    from paperlab.engine.restore import load_model

    sizes = ["evaluation.sizes.beta_vae_score.num_train=10", "evaluation.sizes.beta_vae_score.num_eval=5",
             "evaluation.sizes.factor_vae_score.num_train=10", "evaluation.sizes.factor_vae_score.num_eval=5",
             "evaluation.sizes.factor_vae_score.num_variance_estimate=200",
             "evaluation.sizes.sap_score.num_train=200", "evaluation.sizes.sap_score.num_test=100",
             "evaluation.sizes.dci.num_train=60", "evaluation.sizes.dci.num_test=30",
             "evaluation.sizes.modularity_explicitness.num_train=200",
             "evaluation.sizes.modularity_explicitness.num_test=100"]
    overrides = tiny(released, "dis_factor_vae", *sizes, "evaluation.figures=true")
    overrides.remove("evaluation.metrics=[mig]")
    results = run(task_config("train", overrides), run_dir=tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    metrics = ["beta_vae_score", "factor_vae_score", "mig", "sap_score", "dci", "modularity_explicitness"]
    for kind in ("mean", "sampled"):
        for metric in metrics:
            assert 0 <= saved[f"{kind}/{metric}"] <= 1, (kind, metric)
        assert set(saved["scores"][kind]) == set(metrics)
    assert saved["scores"]["mean"]["dci"]["disentanglement"] == saved["mean/dci"]
    assert set(saved["scores"]["mean"]["dci"]) == {"disentanglement", "completeness",
                                                  "informativeness_train", "informativeness_test"}
    assert results["value"] == 30.0 and results["level"] == 2
    for figure in ("traversal.png", "reconstructions.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 5_000
    loaded = load_model(tmp_path, kind="disentanglement", prefer="last")
    assert loaded.extras.method == "factor_vae" and loaded.extras.hyperparameter == "gamma"
    assert loaded.extras.latent_factors == ["shape", "scale", "orientation", "posX", "posY"]
    assert loaded.model.discriminator is not None
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert all(torch.equal(v, ckpt["model"][k]) for k, v in loaded.model.state_dict().items())


def test_factor_vae_resume_equals_an_uninterrupted_run_bit_for_bit(released, tmp_path, monkeypatch):
    from paperlab.papers.disentanglement.learner import DisentanglementLearner

    # 16 steps over two epochs of 12; the sample's noise and the shuffle drawn every step;
    # stopped during step 5 (epoch 1), then resumed
    overrides = tiny(released, "dis_factor_vae", "trainer.max_steps=16")
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    run(task_config("train", overrides), run_dir=straight)
    step = DisentanglementLearner.manual_step

    def preempted_in_step_5(self, model, batch, optimizers):
        if self.step == 4:  # the engine finishes the step, writes last.pt mid-epoch and returns
            os.kill(os.getpid(), signal.SIGUSR1)
        return step(self, model, batch, optimizers)

    with monkeypatch.context() as m:
        m.setattr(DisentanglementLearner, "manual_step", preempted_in_step_5)
        interrupted = run(task_config("train", overrides), run_dir=stopped)
    assert interrupted["interrupted"] == "SIGUSR1" and interrupted["steps"] == 5
    resumed = run(task_config("train", overrides), run_dir=stopped, resume=True)

    a, b = (torch.load(p / "checkpoints" / "last.pt", weights_only=True) for p in (straight, stopped))
    assert a["trainer"] == b["trainer"] and a["trainer"]["step"] == 16
    assert a["learner_state"] == b["learner_state"] == {"step": 16}
    assert any(k.startswith("discriminator.") for k in a["model"])
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert set(a["optimizers"]) == {"main", "discriminator"}
    for name, state in a["optimizers"].items():
        other = b["optimizers"][name]
        assert state["param_groups"] == other["param_groups"], name
        for s, t in zip(state["state"].values(), other["state"].values(), strict=True):
            assert all(torch.equal(s[k], t[k]) for k in s), name
    assert a["optimizers"]["discriminator"]["param_groups"][0]["betas"] == (0.5, 0.9)
    losses = [[(r["step"], r["train/loss"], r["train/discriminator_loss"]) for r in records(p)
               if "train/loss" in r] for p in (straight, stopped)]
    assert losses[0] == losses[1]
    assert resumed["mean/mig"] == json.loads((straight / "results.json").read_text())["mean/mig"]


def test_a_nan_tc_estimate_stops_the_run_as_diverged(released, tmp_path, monkeypatch):
    from paperlab.papers.disentanglement import methods

    calls = {"n": 0}
    total_correlation = methods.total_correlation

    def nan_from_step_4(z, mean, log_var):
        calls["n"] += 1
        tc = total_correlation(z, mean, log_var)
        return tc * float("nan") if calls["n"] >= 4 else tc

    monkeypatch.setattr(methods, "total_correlation", nan_from_step_4)
    cfg = task_config("train", tiny(released, "dis_beta_tc_vae", "trainer.checkpoint_every_n_steps=2"))
    with pytest.raises(TrainingDiverged, match="total-correlation estimate became .* at step 4"):
        run(cfg, run_dir=tmp_path)
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "diverged"
    assert [r["step"] for r in records(tmp_path) if "train/loss" in r] == [1, 2, 3]
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["trainer"]["step"] == 2  # the last good checkpoint is kept


METHODS = "beta_vae, annealed_vae, factor_vae, dip_vae_i, dip_vae_ii, beta_tc_vae"
METRICS = "beta_vae_score, factor_vae_score, mig, sap_score, dci, modularity_explicitness"


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        ("method.name=betavae", ["unknown method 'betavae'", METHODS]),
        ("evaluation.metrics=[mig,migg]", ["unknown metric 'migg'", METRICS]),
        ("data.latent_factors=[shape,size]", ["unknown dSprites factor 'size'",
                                              "color, shape, scale, orientation, posX, posY"]),
        ("evaluation.representations=[median]", ["unknown representation 'median'", "mean, sampled"]),
        ("data.variant=dsprite", ["unknown dSprites variant 'dsprite'", "dsprites_full, color_dsprites"]),
        ("method.level=6", ["level 6 is outside the study's grid of beta_vae", "0-5"]),
        ("model.name=zfnet", ["trains model=disentanglement_vae, not model=zfnet"]),
    ],
)
def test_bad_names_are_one_line_before_any_work(released, tmp_path, monkeypatch, override, needles):
    import paperlab.papers.disentanglement.learner as learner

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read before the settings were checked")

    monkeypatch.setattr(learner, "build_data_as", no_data)
    cfg = task_config("train", tiny(released, "dis_beta_vae", override))
    with raises_user_error(*needles):
        run(cfg, run_dir=tmp_path)


def test_bad_names_on_the_command_line(tmp_path):
    result = run_cli("train", "experiment=dis_beta_vae", "method.name=betavae", cwd=tmp_path)
    assert_user_error(result, "unknown method 'betavae'", METHODS)
    # the study checks its shared settings before any job starts
    result = run_cli("disentangle", "evaluation.metrics=[mig,nope]", cwd=tmp_path)
    assert_user_error(result, "unknown metric 'nope'", METRICS)
    assert not list(tmp_path.glob("outputs/disentangle/*/*/*"))  # no job ran


def fake_sweep(root: Path) -> Path:
    """A sweep folder of 6 finished models (2 methods, their hyperparameter, 2 seeds each, with
    hand-picked MIG and SAP) and one failed job."""
    scores = {("beta_vae", 2.0): [(0.1, 0.30), (0.3, 0.10)], ("beta_vae", 8.0): [(0.5, 0.20), (0.7, 0.00)],
              ("dip_vae_i", 2.0): [(1.0, 0.50), (1.2, 0.40)]}
    job = 0
    for (method, value), seeds in scores.items():
        for seed, (mig, sap) in enumerate(seeds):
            path = root / str(job)
            path.mkdir(parents=True)
            (path / "run.json").write_text(json.dumps({"task": "train", "status": "completed"}))
            name = "beta" if method == "beta_vae" else "lambda_od"
            (path / "results.json").write_text(json.dumps(
                {"method": method, "hyperparameter": name, "value": value, "seed": seed,
                 "mean/mig": mig, "mean/sap_score": sap, "sampled/mig": mig / 2}))
            job += 1
    failed = root / str(job)
    failed.mkdir()
    (failed / "run.json").write_text(json.dumps({"task": "train", "status": "failed"}))
    return root


def test_report_of_a_sweep(tmp_path):
    from omegaconf import OmegaConf

    from paperlab.papers.disentanglement import report

    sweep = fake_sweep(tmp_path / "sweep")
    cfg = OmegaConf.create({"name": "report", "sweep_dir": str(sweep),
                            "report": {"representation": "mean", "metrics": ["mig", "sap_score"]}})
    results = report.run(cfg, run_dir=tmp_path / "report")
    assert results["models"] == 6 and results["skipped"] == [str(sweep / "6")]
    assert results["methods"] == ["beta_vae", "dip_vae_i"] and results["seeds"] == [0, 1]
    # MIG: grand mean 3.8 / 6; method means 0.4, 1.1; configurations 0.2, 0.6, 1.1
    grand = 3.8 / 6
    method = 4 * (0.4 - grand) ** 2 + 2 * (1.1 - grand) ** 2
    hyperparameter = 2 * 0.2**2 + 2 * 0.2**2
    seed = 6 * 0.1**2
    total = method + hyperparameter + seed
    for source, part in (("method", method), ("hyperparameter", hyperparameter), ("seed", seed)):
        assert results[f"variance/mig/{source}"] == pytest.approx(part / total, abs=1e-4)
    table = (tmp_path / "report" / "table.md").read_text().splitlines()
    assert table[2] == "| beta_vae | beta = 2 | 2 | 0.200 ± 0.141 | 0.200 ± 0.141 |"
    assert table[4] == "| dip_vae_i | lambda_od = 2 | 2 | 1.100 ± 0.141 | 0.450 ± 0.071 |"
    assert results["rank_correlation"]["mig"]["mig"] == 1.0
    # each method's median over its models: MIG 0.1, 0.3, 0.5, 0.7 (beta-VAE), 1.0, 1.2 (DIP-VAE-I)
    assert results["median/beta_vae/mig"] == pytest.approx(0.4) and results["median/dip_vae_i/mig"] == pytest.approx(1.1)
    assert results["median/beta_vae/sap_score"] == pytest.approx(0.15)
    for name in ("violins", "by_hyperparameter", "rank_correlation", "variance_explained"):
        assert (tmp_path / "report" / "figures" / f"{name}.png").stat().st_size > 10_000
    empty = OmegaConf.merge(cfg, {"sweep_dir": str(tmp_path / "report")})
    with raises_user_error("holds 0 completed model(s) of the study"):
        report.run(empty, run_dir=tmp_path / "report2")


def test_the_study_reports_into_its_run_dir_for_reproduce(tmp_path):
    """`paperlab reproduce disentanglement` records one run directory (it appends hydra.run.dir):
    its experiment sweeps into <run dir>/models and the callback writes the report, whose
    results.json holds every number of the reproduction's tables, into the run dir itself."""
    from omegaconf import OmegaConf

    from paperlab.papers.disentanglement.reproduction import REPRODUCTION
    from paperlab.papers.disentanglement.study import StudyCallback
    from paperlab.tasks.reproduction import Ours

    (study,) = REPRODUCTION.experiments
    assert "hydra.sweep.dir=${hydra.run.dir}/models" in study.args and "study.report_in=run_dir" in study.args
    run_dir = tmp_path / "study-0123456789"
    fake_sweep(run_dir / "models")
    config = task_config("disentangle", ["study.report_in=run_dir", "report.metrics=[mig,sap_score]"])
    config = OmegaConf.create({**OmegaConf.to_container(config), "hydra": {
        "run": {"dir": str(run_dir)}, "sweep": {"dir": "${hydra.run.dir}/models"}}})
    StudyCallback().on_multirun_end(config)
    results = json.loads((run_dir / "results.json").read_text())
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    assert results["models"] == 6 and not list((run_dir / "models").glob("report_*"))
    keys = [c.key for t in REPRODUCTION.tables for r in t.rows for c in r.cells if isinstance(c, Ours)]
    scored, methods = ("mig", "sap_score"), ("beta_vae", "dip_vae_i")  # what the fake sweep holds
    ours = [k for k in keys if (k.split("/")[1] in methods and k.split("/")[2] in scored)
            or (k.startswith("variance/") and k.split("/")[1] in scored)]
    assert len(ours) == 10 and all(isinstance(results[k], float) for k in ours)
    for figure in REPRODUCTION.figures:
        if figure.path.startswith("figures/"):
            assert (run_dir / figure.path).is_file()


def test_report_command(tmp_path):
    sweep = fake_sweep(tmp_path / "sweep")
    result = run_cli("disentangle", "--report", str(sweep), "report.metrics=[mig,sap_score]",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| beta_vae | beta = 8 | 2 | 0.600 ± 0.141 | 0.100 ± 0.141 |" in result.stdout
    (report_dir,) = sweep.glob("report_*")
    assert (report_dir / "figures" / "violins.png").is_file()
    result = run_cli("disentangle", "--report", str(sweep), "report.metrics=[mig,nope]", cwd=tmp_path)
    assert_user_error(result, "unknown metric 'nope' in report.metrics", METRICS)


@pytest.mark.slow
def test_the_study_in_one_command(released, tmp_path):
    """`paperlab disentangle`: a multirun of 2 methods x 1 hyperparameter x 2 seeds, each model
    trained and scored, then the report of the sweep (in-process launcher: no worker start-up)."""
    result = run_cli("disentangle", "hydra/launcher=basic", "experiment=dis_beta_vae,dis_dip_vae_i",
                     "method.level=1", "seed=0,1", f"data.root={released}", "data.val_size=32",
                     "trainer.batch_size=16", "trainer.max_steps=3", "evaluation.metrics=[mig,sap_score]",
                     "evaluation.sizes.sap_score.num_train=200", "evaluation.sizes.sap_score.num_test=100",
                     "evaluation.sizes.mig.num_train=200", "report.metrics=[mig,sap_score]",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "sweep"
    jobs = [json.loads((sweep / str(j) / "results.json").read_text()) for j in range(4)]
    assert [(r["method"], r["value"], r["seed"]) for r in jobs] == [
        ("beta_vae", 2.0, 0), ("beta_vae", 2.0, 1), ("dip_vae_i", 2.0, 0), ("dip_vae_i", 2.0, 1)]
    assert all((sweep / str(j) / "figures" / "traversal.png").is_file() for j in range(4))
    (report_dir,) = sweep.glob("report_*")
    summary = json.loads((report_dir / "results.json").read_text())
    assert summary["models"] == 4 and summary["skipped"] == []
    shares = [summary[f"variance/mig/{s}"] for s in ("method", "hyperparameter", "seed")]
    assert sum(shares) == pytest.approx(1, abs=1e-3) and shares[1] == 0  # one value per method
    assert "share of variance" in result.stdout
