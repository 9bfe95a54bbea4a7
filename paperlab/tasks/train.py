"""`paperlab train`: fit any registered learner (classifier, handwriting, character LM, VQA, ...)
with the shared engine, in a run directory (design.md, "A run")."""

from __future__ import annotations

import logging
import resource
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from paperlab.config import to_dataclass
from paperlab.engine.distributed import dist_info
from paperlab.engine.seed import seed_everything
from paperlab.engine.trainer import Trainer, TrainerConfig
from paperlab.errors import TrainingDiverged
from paperlab.io.rundir import RunDir
from paperlab.learners import LEARNERS, Learner
from paperlab.tasks.report import print_results

log = logging.getLogger(__name__)


def _hydra_run_dir() -> tuple[Path, list[str]]:
    hc = HydraConfig.get()
    return Path(hc.runtime.output_dir), list(hc.overrides.task)


def run(cfg: DictConfig, run_dir: str | Path | None = None, learner: Learner | None = None,
        resume: bool | None = None) -> dict[str, Any]:
    """Train as `cfg` says, writing into `run_dir` (default: Hydra's run directory).

    `learner` (default: built from cfg.learner) and `resume` (default: cfg.resume is set) let other
    tasks train a stage of theirs with the engine (e.g. the CNN of `paperlab zsl`)."""
    overrides: list[str] = []
    if run_dir is None:
        run_dir, overrides = _hydra_run_dir()
    info = dist_info()
    resume = bool(cfg.get("resume")) if resume is None else resume
    run = RunDir.start(run_dir, task="train", name=str(cfg.name), overrides=overrides, resume=resume,
                       writer=info.is_main)
    try:
        seed_everything(int(cfg.seed) + info.rank, bool(cfg.trainer.deterministic))
        learner = LEARNERS.get(str(cfg.learner))(cfg) if learner is None else learner
        trainer_cfg = to_dataclass(TrainerConfig, cfg.trainer, where="trainer")
        trainer = Trainer(trainer_cfg, run, int(cfg.seed), cfg.optim, cfg.get("sched"), cfg)
        results = trainer.fit(learner, resume=resume)
        if "interrupted" in results:
            run.finish("interrupted")
            return results
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        if info.is_main:
            results.update(learner.on_fit_end(run))
            run.save_results(results)
            run.write_metrics_csv()
        run.finish("completed")
        return results
    except TrainingDiverged:
        run.write_metrics_csv()
        raise
    except BaseException as err:
        run.finish("interrupted" if isinstance(err, KeyboardInterrupt) else "failed", error=str(err)[:500])
        raise


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    if dist_info().is_main:
        print_results(results, title=f"train {cfg.name}: {HydraConfig.get().runtime.output_dir}")
