"""`paperlab zsl`: NIWT zero-shot learning end to end (Selvaraju et al. 2018), with ALE as the
baseline, in one run directory whose stages are cached and re-runnable (paperlab/papers/niwt/pipeline.py)."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from paperlab.data import build_data_as
from paperlab.engine.lifecycle import open_run
from paperlab.engine.seed import seed_everything
from paperlab.papers.niwt.pipeline import Pipeline
from paperlab.papers.niwt.zsl_data import ZSLData
from paperlab.tasks.report import print_results


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Run (or continue) the pipeline in `run_dir` (default: Hydra's run directory)."""
    with open_run("zsl", cfg, run_dir, resume=bool(cfg.get("resume"))) as run:
        t = time.perf_counter()
        seed_everything(int(cfg.seed))
        data = build_data_as(cfg.data, ZSLData, "a zero-shot dataset", "data=zsl_shapes, zsl_fashion, awa2 or cub")
        results = Pipeline(cfg, data, run).run_all()
        results["time_s"] = round(time.perf_counter() - t, 1)
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        run.save_results(results)
    return results


def main(cfg: DictConfig) -> None:
    results = run(cfg)
    print_results(results, title=f"zsl {cfg.name}: {HydraConfig.get().runtime.output_dir}")
