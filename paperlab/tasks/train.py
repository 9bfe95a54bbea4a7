"""`paperlab train`: fit any registered learner (classifier, handwriting, character LM, VQA, ...)
with the shared engine, in a run directory (docs/design.md, "A run").

The same entry serves one process, every rank of `torchrun` (rank 0 writes the run directory) and
a job of Hydra's submitit launcher (SLURM): there a job's tasks become DDP ranks, and a job
stopped by a preemption signal checkpoints, is requeued by submitit and resumes by itself
(paperlab/engine/cluster.py)."""

from __future__ import annotations

import logging
import resource
import signal
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from paperlab.config import to_dataclass
from paperlab.engine import cluster
from paperlab.engine.checkpoint import load_weights
from paperlab.engine.distributed import dist_info
from paperlab.engine.lifecycle import hydra_run_dir, open_run
from paperlab.engine.restore import load_trained
from paperlab.engine.seed import seed_everything
from paperlab.engine.trainer import Trainer, TrainerConfig
from paperlab.errors import TrainingDiverged
from paperlab.learners import LEARNERS, Learner
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)


def run(cfg: DictConfig, run_dir: str | Path | None = None, learner: Learner | None = None,
        resume: bool | None = None) -> dict[str, Any]:
    """Train as `cfg` says, writing into `run_dir` (default: Hydra's run directory).

    `learner` (default: built from cfg.learner) and `resume` (default: cfg.resume is set, or a requeued cluster job) let other
    tasks train a stage of theirs with the engine (e.g. the CNN of `paperlab zsl`)."""
    info = dist_info()
    if resume is None:
        resume = bool(cfg.get("resume")) or cluster.requeued(run_dir or hydra_run_dir()[0])
    with open_run("train", cfg, run_dir, resume=resume, writer=info.is_main) as run:
        facts = cluster.job_facts()
        if facts:
            run.update(**facts)
        try:
            seed_everything(int(cfg.seed) + info.rank, bool(cfg.trainer.deterministic))
            learner = LEARNERS.get(str(cfg.learner))(cfg) if learner is None else learner
            if cfg.get("init_from") and not resume:
                _init_weights(learner, str(cfg.init_from), str(cfg.learner))
                run.update(init_from=str(cfg.init_from))
            trainer_cfg = to_dataclass(TrainerConfig, cfg.trainer, where="trainer")
            trainer = Trainer(trainer_cfg, run, int(cfg.seed), cfg.optim, cfg.get("sched"), cfg)

            def finish(results: dict[str, Any]) -> dict[str, Any]:
                """The learner's final figures and numbers and the peak memory, saved; the
                trackers record them after this (and close)."""
                results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
                if info.is_main:
                    results.update(learner.on_fit_end(run))
                    run.save_results(results)
                    run.write_metrics_csv()
                return results

            results = trainer.fit(learner, resume=resume, finish=finish)
        except TrainingDiverged:
            run.write_metrics_csv()
            raise
        if "interrupted" in results:
            run.finish("interrupted")
    return results


def _init_weights(learner: Learner, where: str, kind: str) -> None:
    """Start from another run's (or a shipped model's) weights: fine-tuning. Only the weights carry
    over; the optimiser, schedule and step count start afresh, as the config says."""
    ckpt, path = load_trained(where, kind)
    load_weights(learner.model, ckpt, path, "give init_from a checkpoint of the same architecture (same model settings)")
    log.info("weights initialised from %s", path)


def _quiet_rank() -> None:
    """Ranks other than 0 write no log file and show warnings only: rank 0 logs the run. (Under
    torchrun, paperlab.launch already gave them conf/hydra/job_logging/rank.yaml.)"""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.WARNING)


def main(cfg: DictConfig) -> None:
    cluster.export_torch_env()  # a SLURM job's tasks become DDP ranks
    if not dist_info().is_main:
        _quiet_rank()
    results = run(cfg)
    if results.get("interrupted") == "SIGINT":
        raise KeyboardInterrupt  # Ctrl-C: the checkpoint is written, the command ends as Ctrl-C ends one (130)
    if "interrupted" in results:
        cluster.requeue(signal.Signals[results["interrupted"]])  # under submitit: requeue the job
    if dist_info().is_main:
        print_results(results, title=f"train {cfg.name}: {HydraConfig.get().runtime.output_dir}")
