"""Training as a scheduler's job: SLURM (or its local stand-in) through submitit, which Hydra's
submitit launcher uses (`paperlab train -m hydra/launcher=slurm ...`, conf/hydra/launcher/).

* A job of several tasks (one per GPU, `hydra.launcher.tasks_per_node`) is one DDP run: each
  task's rank and the rendezvous come from SLURM's variables (submitit's TorchDistributedEnvironment).
* Preemption: a job told to stop (SIGUSR2 from sbatch --signal before the time limit, which
  submitit asks for; SIGUSR1; SIGTERM) has the trainer write checkpoints/last.pt, then hands the
  signal to submitit's own handler, which requeues the job.
* The requeued job runs the same Hydra job again, in the same directory, and resumes from its own
  checkpoints/last.pt.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def submitit_job() -> bool:
    """True inside a job started by submitit (SLURM or local)."""
    return bool(os.environ.get("SUBMITIT_EXECUTOR"))


def job_facts() -> dict[str, Any]:
    """Which scheduler job this process is, for run.json (empty outside a scheduler)."""
    if submitit_job():
        import submitit

        env = submitit.JobEnvironment()
        return {"job": {"scheduler": f"submitit {env.cluster}", "id": env.job_id, "tasks": env.num_tasks}}
    if "SLURM_JOB_ID" in os.environ:
        return {"job": {"scheduler": "slurm", "id": os.environ["SLURM_JOB_ID"]}}
    return {}


def export_torch_env() -> None:
    """In a submitit job of several tasks, set RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
    MASTER_ADDR and MASTER_PORT from SLURM's variables, as torchrun would."""
    if not submitit_job() or "RANK" in os.environ:
        return
    import submitit

    if submitit.JobEnvironment().num_tasks > 1:
        # every task keeps all GPUs of its node visible and takes cuda:LOCAL_RANK, as under torchrun
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def requeued(run_dir: str | Path) -> bool:
    """A submitit job that finds its own checkpoint ran before and was requeued: it resumes.
    (A fresh job's directory is new: `paperlab.launch` refuses to reuse one.)"""
    return submitit_job() and (Path(run_dir) / "checkpoints" / "last.pt").is_file()


def requeue(signum: int) -> None:
    """After the trainer checkpointed because of `signum`, have submitit requeue this job: its
    handler resubmits the job and exits the process on rank 0 (other ranks return). Outside
    submitit, nothing happens: the run ends "interrupted" and `--resume` continues it."""
    if not submitit_job():
        return
    from submitit import JobEnvironment
    from submitit.core.utils import UncompletedJobError

    handler = signal.getsignal(getattr(signal, f"SIG{JobEnvironment.USR_SIG}"))
    if not callable(handler):
        return
    try:
        handler(signum, None)
    except (UncompletedJobError, subprocess.CalledProcessError) as err:
        # e.g. timed out more often than hydra.launcher.max_num_timeout, or a cancelled job
        log.warning("the job was not requeued (%s); its checkpoint is kept", str(err).strip())
