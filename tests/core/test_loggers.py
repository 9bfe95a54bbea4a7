"""`trainer.loggers`: TensorBoard event files and an MLflow file store hold what metrics.jsonl holds
(every metric of every record at its step), the config and the results, read back with each
library's own reader; a resumed run goes on without doubled steps; bad names are one-line errors."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf
from test_engine import Regression

from paperlab.engine.loggers import LOGGERS, flatten_config, numbers, open_loggers
from paperlab.engine.trainer import Trainer, TrainerConfig
from paperlab.errors import TrainingDiverged, UserError
from paperlab.io.rundir import RunDir

TRACKERS = ["csv", "tensorboard", "mlflow"]
CONFIG = {"name": "regression", "learner": "test", "seed": 0, "optim": {"lr": 0.1, "betas": [0.9, 0.99]},
          "data": {"root": None, "download": False}, "trainer": {"max_epochs": 2, "loggers": TRACKERS}}


def trainer_for(run: RunDir, **kw: Any) -> Trainer:
    cfg = TrainerConfig(**{"max_epochs": 2, "batch_size": 8, "progress": False, "log_every_n_steps": 1,
                           "loggers": TRACKERS, **kw})
    optim = OmegaConf.create({"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1})
    return Trainer(cfg, run, seed=0, optim=optim, sched=None, config=OmegaConf.create(CONFIG))


def expected_series(run: RunDir) -> dict[str, list[tuple[int, float]]]:
    """metrics.jsonl as (step, value) per key, as the trackers name the keys."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for record in run.read_metrics():
        prefix = "final/" if record.get("final") else ""
        for key, value in numbers(record).items():
            if key != "step":
                series[prefix + key].append((record["step"], value))
    return {k: sorted(v) for k, v in series.items()}


def tensorboard_series(path: Path, served: bool = False) -> tuple[dict[str, list[tuple[int, float]]], dict[str, Any]]:
    """Every scalar in the event files and the hyperparameters, read by TensorBoard's own reader
    (`served`: the one its server reads through, which hides what a resumed session redid)."""
    from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.util import tensor_util

    reader = plugin_event_accumulator if served else event_accumulator
    events = reader.EventAccumulator(str(path), size_guidance={reader.TENSORS: 0})
    events.Reload()
    series = {tag: sorted((e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in events.Tensors(tag))
              for tag in events.Tags()["tensors"] if not tag.startswith("_hparams_/")}
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    params = {k: v.string_value if v.HasField("string_value") else v.number_value for k, v in hparams.items()}
    return series, params


def mlflow_run(path: Path) -> tuple[Any, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=path.resolve().as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "regression"]
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, dict[str, Any]]:
    run = RunDir.start(tmp_path_factory.mktemp("loggers") / "run", task="train", name="regression")
    results = trainer_for(run).fit(Regression())
    return run, results


def test_tensorboard_event_files_hold_every_record_the_config_and_the_results(tracked) -> None:
    run, results = tracked
    series, params = tensorboard_series(run.path / "tb")
    expected = expected_series(run)
    assert {"train/loss", "val/loss", "final/val/loss", "lr", "epoch"} <= set(expected)
    for key, points in expected.items():
        assert series[key] == points, key  # every step, the very numbers (double precision)
    assert len(expected["train/loss"]) == 16  # 2 epochs of 8 steps
    scored = {k: v for k, v in numbers(results).items()}
    assert {k.removeprefix("results/"): v[-1][1] for k, v in series.items() if k.startswith("results/")} == scored
    assert set(series) == set(expected) | {f"results/{k}" for k in scored}
    flat = flatten_config(CONFIG)
    assert params == {k: v if isinstance(v, str) else float(v) for k, v in flat.items()}
    assert params["optim.betas"] == "[0.9, 0.99]" and params["trainer.max_epochs"] == 2


def test_mlflow_file_store_holds_every_record_the_params_and_the_results(tracked) -> None:
    run, results = tracked
    client, mlrun = mlflow_run(run.path / "mlruns")
    assert mlrun.info.status == "FINISHED" and mlrun.info.run_name == run.path.name
    assert mlrun.info.artifact_uri.startswith((run.path / "mlruns").resolve().as_uri())  # nothing outside the run
    assert mlrun.data.params == {k: str(v) for k, v in flatten_config(CONFIG).items()}
    for key, points in expected_series(run).items():
        assert sorted((m.step, m.value) for m in client.get_metric_history(mlrun.info.run_id, key)) == points, key
    scored = numbers(results)
    assert {k.removeprefix("results/"): v for k, v in mlrun.data.metrics.items() if k.startswith("results/")} == scored
    assert scored["val/loss"] == results["val/loss"] and "best_val/loss" in scored and "train_time_s" in scored


def test_csv_is_the_default_and_always_written(tmp_path: Path) -> None:
    assert TrainerConfig().loggers == ["csv"]
    run = RunDir.start(tmp_path / "run", task="train", name="regression")
    trainer_for(run, loggers=["tensorboard"], max_epochs=1).fit(Regression())
    assert len(run.read_metrics()) > 8 and (run.path / "tb").is_dir() and not (run.path / "mlruns").exists()


def test_a_resumed_run_goes_on_in_the_same_trackers_without_doubled_steps(tmp_path: Path) -> None:
    run = RunDir.start(tmp_path / "run", task="train", name="regression")
    with pytest.raises(TrainingDiverged):  # a crash at step 12: steps 9-11 were logged after the checkpoint (8)
        trainer_for(run, loggers=["tensorboard", "mlflow"]).fit(Regression(poison_after=11))
    client, mlrun = mlflow_run(run.path / "mlruns")
    assert mlrun.info.status == "FAILED"
    assert max(m.step for m in client.get_metric_history(mlrun.info.run_id, "train/loss")) == 11
    trainer_for(RunDir(run.path), loggers=["tensorboard", "mlflow"]).fit(Regression(), resume=True)
    expected = expected_series(run)  # metrics.jsonl: cut back to step 8, then steps 9-16 again
    assert [s for s, _ in expected["train/loss"]] == list(range(1, 17))
    series, _ = tensorboard_series(run.path / "tb", served=True)
    for key, points in expected.items():
        assert series[key] == points, key  # the first session's steps 9-11 hidden
    client, mlrun = mlflow_run(run.path / "mlruns")  # the same MLflow run, finished now
    assert mlrun.info.status == "FINISHED"
    for key, points in expected.items():
        got = sorted((m.step, m.value) for m in client.get_metric_history(mlrun.info.run_id, key))
        assert [s for s, _ in got] == [s for s, _ in points], key  # each step once
        if key != "train/items_per_s":  # exact resume: the redone steps have the same numbers
            assert got == points, key


def test_unknown_names_and_missing_packages_are_one_line_errors(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = RunDir.start(tmp_path / "run", task="train", name="regression")
    with pytest.raises(UserError, match=r"unknown logger 'wandb' in trainer.loggers; choose from: csv, tensorboard, mlflow"):
        trainer_for(run, loggers=["csv", "wandb"]).fit(Regression())
    assert list(LOGGERS) == ["csv", "tensorboard", "mlflow"]
    for module, package in (("mlflow", "mlflow-skinny"), ("tensorboard", "tensorboard")):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
        with pytest.raises(UserError, match=f"needs the {package} package.*; pip install {package}") as err:
            open_loggers([module], tmp_path, {}, enabled=False)  # every rank checks, not only the one that logs
        assert "\n" not in str(err.value)


def test_the_results_train_adds_after_fit_reach_the_trackers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`paperlab train` adds the learner's final numbers and the peak memory after the fit: the
    trackers record results.json as saved, then close."""
    import json

    from conftest import make_idx_set, run_cli, tiny_train_overrides
    from mlflow.tracking import MlflowClient

    root = make_idx_set(tmp_path / "data")
    r = run_cli("train", *tiny_train_overrides(root, epochs=1), "trainer.loggers=[tensorboard,mlflow]",
                "trainer.limit_train_batches=2", "trainer.limit_eval_batches=1",
                "hydra.run.dir=run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "run"
    saved = numbers(json.loads((run / "results.json").read_text()))
    assert "peak_rss_mb" in saved and "test/top1_err" in saved
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # as the logger reads its store
    client = MlflowClient(tracking_uri=(run / "mlruns").resolve().as_uri())
    (mlrun,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert mlrun.info.status == "FINISHED"
    assert {k.removeprefix("results/"): v for k, v in mlrun.data.metrics.items() if k.startswith("results/")} == saved
    series, _ = tensorboard_series(run / "tb")
    assert {k.removeprefix("results/"): v[-1][1] for k, v in series.items() if k.startswith("results/")} == saved
