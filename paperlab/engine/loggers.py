"""Experiment trackers beside the run directory's own metrics: `trainer.loggers=[csv,tensorboard,mlflow]`.

`csv` is the run directory itself (metrics.jsonl at every record, metrics.csv at the end, written by
paperlab/io/rundir.py): always on, whatever the list says, and the default. The others record the
same thing through their own libraries, inside the run directory so that nothing leaves it:

- `tensorboard`: event files in `<run>/tb/` (`tensorboard --logdir outputs`): every metric of every
  record as a scalar at its step (in double precision: the numbers of metrics.jsonl exactly), the
  resolved config as hyperparameters and the results (the HPARAMS tab; `results/<name>` scalars).
- `mlflow`: a local file store in `<run>/mlruns/` (`mlflow ui --backend-store-uri <run>/mlruns`):
  one MLflow run per run directory, the flattened config as params, every metric at its step, the results as `results/<name>` metrics, and the run's end
  (FINISHED, KILLED when preempted, FAILED).

A record of the final scores (`"final": true` in metrics.jsonl) goes in as `final/<name>`, so that
it does not sit on top of the last epoch's `val/...` at the same step. Only the main rank records
(`open_loggers(..., enabled=False)` on the others is a no-op), but every rank checks the names and
that the packages are there, so that all ranks stop together on a bad list. A resumed run goes on
in the same TensorBoard folder (events past the checkpoint are purged, as metrics.jsonl is cut back)
and the same MLflow run (the steps it already holds are not logged twice).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

from paperlab.errors import UserError

log = logging.getLogger(__name__)

Scalar = bool | int | float | str

FINAL_PREFIX = "final/"  # metrics of the record of final scores ("final": true)
RESULTS_PREFIX = "results/"  # the headline results (results.json's numbers)


class Logger(Protocol):
    """One experiment tracker. It is built when training starts (with the run directory, the
    flattened config and whether the run resumes) and records from there on."""

    def __init__(self, run_dir: Path, params: Mapping[str, Scalar], resume: bool) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Numbers of one record, at the record's optimizer step."""

    def log_results(self, results: Mapping[str, float], step: int) -> None:
        """The run's headline numbers, once, when training ends."""

    def close(self, status: str) -> None:
        """Flush and let go: status is "completed", "interrupted" or "failed"."""


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Scalar]:
    """The resolved config as one level of dotted keys (`trainer.max_epochs`); lists and other
    values as JSON text, None as "None" (what both trackers can hold)."""
    out: dict[str, Scalar] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_config(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        elif value is None:
            out[name] = "None"
        else:
            out[name] = json.dumps(value, default=str)
    return out


def numbers(record: Mapping[str, Any]) -> dict[str, float]:
    """The numeric entries of a record or of results (not booleans, not text, not None)."""
    return {k: float(v) for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class CSVLogger:
    """metrics.jsonl and metrics.csv: the run directory writes them (always), so nothing to do here."""

    package: ClassVar[tuple[str, str] | None] = None

    def __init__(self, run_dir: Path, params: Mapping[str, Scalar], resume: bool) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        pass

    def log_results(self, results: Mapping[str, float], step: int) -> None:
        pass

    def close(self, status: str) -> None:
        pass


class TensorBoardLogger:
    """Event files in `<run>/tb/`, written by torch's SummaryWriter (the tensorboard package)."""

    package: ClassVar[tuple[str, str] | None] = ("tensorboard", "tensorboard")  # (module, pip package)
    folder = "tb"

    def __init__(self, run_dir: Path, params: Mapping[str, Scalar], resume: bool) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._summary_writer = SummaryWriter
        self.path = run_dir / self.folder
        self.params = dict(params)
        self.writer: Any = None
        self.resume = resume and self.path.is_dir()
        if not self.resume:  # a resumed run's hyperparameters are in its first event file
            self._open(0)
            self._write_hparams("start")

    def _open(self, purge_step: int) -> Any:
        """The writer, opened with a session start at `purge_step`: TensorBoard hides the events of
        earlier sessions from that step on (for a resume: those logged after the checkpoint, redone now)."""
        if self.writer is None:
            self.writer = self._summary_writer(log_dir=str(self.path), purge_step=purge_step)
        return self.writer

    def _write_hparams(self, when: str, results: Mapping[str, float] | None = None) -> None:
        from torch.utils.tensorboard.summary import hparams

        experiment, start, end = hparams(self.params, {f"{RESULTS_PREFIX}{k}": v for k, v in (results or {}).items()})
        for summary in (start,) if when == "start" else (experiment, end):
            self.writer.file_writer.add_summary(summary)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        writer = self._open(step)  # resumed: its first record's step (the first one past the checkpoint)
        for key, value in metrics.items():
            writer.add_scalar(key, value, step, new_style=True, double_precision=True)

    def log_results(self, results: Mapping[str, float], step: int) -> None:
        self.log_metrics({f"{RESULTS_PREFIX}{k}": v for k, v in results.items()}, step)
        self._write_hparams("end", results)

    def close(self, status: str) -> None:
        if self.writer is not None:
            self.writer.close()


class MLflowLogger:
    """An MLflow run in a local file store, `<run>/mlruns/` (tracking URI file:...): nothing leaves
    the run directory (MLflow's usage telemetry is switched off unless the user set it)."""

    package: ClassVar[tuple[str, str] | None] = ("mlflow", "mlflow-skinny")
    folder = "mlruns"
    _STATUS: ClassVar[dict[str, str]] = {"completed": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}

    def __init__(self, run_dir: Path, params: Mapping[str, Scalar], resume: bool) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline: no usage reports
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store in maintenance
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        self._metric = Metric
        self.uri = (run_dir / self.folder).resolve().as_uri()
        self.client = MlflowClient(tracking_uri=self.uri)
        name = str(params.get("name") or "paperlab")
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        runs = self.client.search_runs([experiment_id], max_results=1) if resume else []
        self.seen: set[tuple[str, int]] = set()  # (key, step) already held: a resume redoes steps
        if runs:
            self.run_id = runs[0].info.run_id
            held = runs[0].data.params
            for key in runs[0].data.metrics:
                self.seen.update((key, m.step) for m in self.client.get_metric_history(self.run_id, key))
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            self.run_id = self.client.create_run(experiment_id, run_name=run_dir.name,
                                                 tags={"paperlab.run_dir": str(run_dir.resolve())}).info.run_id
            held = {}
        # MLflow keeps a param's first value: new keys only (a resume's changed values are in .hydra/)
        fresh = [Param(_key(k), str(v)) for k, v in params.items() if _key(k) not in held]
        for i in range(0, len(fresh), 100):  # MLflow's limit per batch
            self.client.log_batch(self.run_id, params=fresh[i : i + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        batch = [self._metric(_key(k), v, now, step) for k, v in metrics.items() if (_key(k), step) not in self.seen]
        for i in range(0, len(batch), 1000):
            self.client.log_batch(self.run_id, metrics=batch[i : i + 1000])

    def log_results(self, results: Mapping[str, float], step: int) -> None:
        self.log_metrics({f"{RESULTS_PREFIX}{k}": v for k, v in results.items()}, step)

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, self._STATUS.get(status, "FAILED"))


def _key(name: str) -> str:
    """An MLflow key: letters, digits, '_', '-', '.', ' ', '/' (anything else becomes '_')."""
    return re.sub(r"[^\w\-. /]", "_", name)


LOGGERS: dict[str, type[Logger]] = {"csv": CSVLogger, "tensorboard": TensorBoardLogger, "mlflow": MLflowLogger}


def check_loggers(names: list[str]) -> list[str]:
    """The names, checked: known, and their packages installed (UserErrors naming the fix)."""
    for name in names:
        if name not in LOGGERS:
            raise UserError(f"unknown logger '{name}' in trainer.loggers",
                            f"choose from: {', '.join(LOGGERS)} (trainer.loggers=[csv,tensorboard])")
        package = getattr(LOGGERS[name], "package", None)
        if package and importlib.util.find_spec(package[0]) is None:
            raise UserError(f"trainer.loggers={name} needs the {package[1]} package, which is not installed",
                            f"pip install {package[1]} (or paperlab[trackers])")
    return list(dict.fromkeys(names))


class Loggers:
    """The chosen trackers, fed the trainer's records (`log_record`) and results; none on ranks
    other than the main one. A tracker that fails while recording is reported once and dropped:
    the run directory still has everything, so a tracker never stops a training."""

    def __init__(self, loggers: Mapping[str, Logger] | None = None) -> None:
        self.loggers = dict(loggers or {})
        self.last_step = 0

    def log_record(self, record: Mapping[str, Any]) -> None:
        """One record of metrics.jsonl: its numbers at its step (`final/<name>` for the final scores)."""
        if not self.loggers:
            return
        step = int(record.get("step", self.last_step))
        self.last_step = step
        prefix = FINAL_PREFIX if record.get("final") else ""
        metrics = {f"{prefix}{k}": v for k, v in numbers(record).items() if k != "step"}
        self._each("log_metrics", metrics, step)

    def log_results(self, results: Mapping[str, Any]) -> None:
        """results.json's numbers, at the last step."""
        self._each("log_results", numbers(results), self.last_step)

    def close(self, status: str) -> None:
        self._each("close", status)
        self.loggers.clear()

    def _each(self, method: str, *args: Any) -> None:
        for name, logger in list(self.loggers.items()):
            try:
                getattr(logger, method)(*args)
            except Exception as err:  # noqa: BLE001 - a tracker never stops training
                log.warning("trainer.loggers: %s stopped recording (%s: %s); the run directory has every metric",
                            name, type(err).__name__, err)
                del self.loggers[name]


def open_loggers(names: list[str], run_dir: Path, config: Mapping[str, Any], resume: bool = False,
                 enabled: bool = True) -> Loggers:
    """The trackers `names` for this run (checked on every rank; opened on the main one only)."""
    names = check_loggers(list(names))
    if not enabled:
        return Loggers()
    params = flatten_config(config)
    return Loggers({name: LOGGERS[name](Path(run_dir), params, resume) for name in names})
