"""The one run lifecycle every task goes through (docs/design.md, "A run").

    with open_run("gradcam", cfg) as run:     # run.json: argv, overrides, versions, git, "running"
        ...                                   # the task writes figures, arrays, results.json
                                              # on exit: "completed", or "failed" with the reason,
                                              # "interrupted" (Ctrl-C), "diverged" (NaN/inf loss)

A task that ends its run itself (a preempted training marks it "interrupted") keeps that status.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from paperlab.errors import TrainingDiverged
from paperlab.io.rundir import RunDir, lock_run_dir, unlock_run_dir
from paperlab.paths import use_config


def hydra_run_dir() -> tuple[Path, list[str]]:
    """The run directory Hydra made for this job, and the overrides it was started with."""
    hc = HydraConfig.get()
    return Path(hc.runtime.output_dir), list(hc.overrides.task)


def one_line(err: BaseException) -> str:
    """An exception as the one line run.json keeps: its message, else its type."""
    text = " ".join(str(err).split())
    return (text or type(err).__name__)[:500]


@contextmanager
def open_run(task: str, cfg: DictConfig, run_dir: str | Path | None = None, *, resume: bool = False,
             writer: bool = True) -> Iterator[RunDir]:
    """Open `task`'s run directory (Hydra's, unless `run_dir` is given: a test, or a task run by
    another), lock it, record the run and, however the block ends, its status. `resume` continues
    a run in its own directory; `writer=False` (DDP ranks but the first) writes nothing.

    A resumed run that fails before it writes a new checkpoint keeps the status it had (diverged,
    interrupted, a killed run's "running"): the failed attempt is noted in its `resumed` record."""
    overrides: list[str] = []
    if run_dir is None:
        run_dir, overrides = hydra_run_dir()
    use_config(cfg.get("paths"))
    took_lock = writer and lock_run_dir(run_dir)
    try:
        run = RunDir.start(run_dir, task=task, name=str(cfg.name), overrides=overrides, resume=resume, writer=writer)
        checkpoint = _newest_checkpoint_time(run)
        start = time.perf_counter()
        try:
            yield run
        except TrainingDiverged as err:
            run.finish("diverged", error=one_line(err))
            raise
        except BaseException as err:
            status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            reason = "interrupted (Ctrl-C)" if isinstance(err, KeyboardInterrupt) else one_line(err)
            if run.previous_status is not None and _newest_checkpoint_time(run) == checkpoint:
                run.abandon_resume(reason)
            else:
                run.finish(status, error=reason)
            raise
        if run.status == "running":
            run.finish("completed", seconds=round(time.perf_counter() - start, 1))
    finally:
        if took_lock:
            unlock_run_dir(run_dir)


def _newest_checkpoint_time(run: RunDir) -> int | None:
    times = [p.stat().st_mtime_ns for p in run.checkpoints.glob("*.pt")] if run.checkpoints.is_dir() else []
    return max(times, default=None)
