"""`paperlab disentangle`: the study of Locatello et al. (ICML 2019, Sec. 5) as one Hydra multirun
(conf/disentangle.yaml): methods x hyperparameters x seeds, each job a `paperlab train` run of
conf/experiment/dis_<method>.yaml that scores its model by every metric (learner.on_fit_end), then
the report of the whole sweep (report.py), drawn by a Hydra callback once the last job is done.

Hydra's launcher runs the jobs: joblib here (hydra.launcher.n_jobs at a time, each with
`study.threads_per_job` torch threads), submitit on a cluster (hydra/launcher=slurm): the same
command. A failed job does not stop the others; `paperlab disentangle --report SWEEP_DIR` draws
the report again, of any sweep of dis_* runs (`paperlab train -m experiment=dis_beta_vae,...`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from paperlab.errors import UserError
from paperlab.tasks import train

from . import report
from .learner import check_config

REPORT_IN = ("sweep", "run_dir")  # <sweep dir>/report_<time>, or hydra.run.dir


def main(cfg: DictConfig) -> None:
    """One job of the study: train and score one model."""
    threads = cfg.study.get("threads_per_job")
    if threads:
        torch.set_num_threads(int(threads))
    train.main(cfg)


def report_config(cfg: DictConfig, sweep_dir: Path) -> DictConfig:
    """What `paperlab disentangle --report` would compose for this sweep."""
    return OmegaConf.create({"name": "report", "sweep_dir": str(sweep_dir),
                             "paths": OmegaConf.to_container(cfg.paths, resolve=True),
                             "report": OmegaConf.to_container(cfg.report, resolve=True)})


def shared_overrides(overrides: list[str]) -> list[str]:
    """The overrides every job of the sweep shares (those that sweep no values)."""
    parser = OverridesParser.create()
    shared = []
    for override in overrides:
        try:
            if not parser.parse_overrides([override])[0].is_sweep_override():
                shared.append(override)
        except OverrideParseException:
            shared.append(override)  # composing reports it as one line
    return shared


def check_settings(cfg: DictConfig) -> None:
    """The settings every job of the study shares (metrics, representations, factors, the report's
    metrics), checked on the config the shared overrides compose, before the sweep starts: a bad
    name is one line, not 36 failed jobs (a Hydra callback cannot stop a sweep: Hydra turns its
    errors into warnings)."""
    check_config(cfg)
    report.check_metrics(cfg.report.metrics)
    if cfg.study.get("report_in", "sweep") not in REPORT_IN:
        raise UserError(f"unknown study.report_in {cfg.study.report_in!r}", f"choose one of: {', '.join(REPORT_IN)}")


class StudyCallback(Callback):
    """Draws the study's report once the last job of the sweep is done."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if config.study.get("report_in", "sweep") == "run_dir":  # the record `paperlab reproduce` reads
            run_dir = Path(str(config.hydra.run.dir))
        else:
            run_dir = sweep_dir / f"report_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
        results = report.run(report_config(config, sweep_dir), run_dir=run_dir)
        report.print_report(results, run_dir)
