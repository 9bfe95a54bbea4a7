"""Scale-out: DDP under torchrun on CPU (gloo, 2 ranks) against one process of the same global
batch, checkpoints that move between the two, SIGTERM and resume, sweeps through the submitit
(local) and joblib launchers with a preempted job requeued and resumed, the sweep table, the
sbatch script under stand-ins for SLURM's commands, and the errors of bad scale-out input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, cli_env, make_idx_set, run_cli, tiny_train_overrides

from paperlab.engine import cluster
from paperlab.engine.devices import select_device
from paperlab.engine.distributed import DistInfo, rank_gpu
from paperlab.errors import UserError

# One thread per process: the two ranks share 2 cores, and runs compared bit for bit must do the
# same arithmetic.
ENV = {"OMP_NUM_THREADS": "1"}
BATCH = 16  # the global batch: one process of 16, or 2 ranks of 8
STEPS = 100  # 20 epochs of 80 training images / 16


def overrides(root: Path, epochs: int = 20, batch: int = BATCH, lr: bool = True) -> list[str]:
    """The tiny ZFNet without dropout (ranks draw different masks) and with a constant, small
    learning rate (so that runs of different lengths share their first steps, and the float
    rounding in which DDP's summation differs grows slowly enough to compare weights at 1e-5)."""
    keep = [o for o in tiny_train_overrides(root, epochs) if not o.startswith(("trainer.batch_size",
                                                                              "trainer.log_every", "optim.lr"))]
    return [*keep, *(["optim.lr=0.01"] if lr else []), f"trainer.batch_size={batch}", "model.dropout=0", "sched=constant",
            "trainer.log_every_n_steps=1", "trainer.val_every_n_epochs=5", "trainer.snapshot_epochs=[2,3]"]


def torchrun(*args: str, cwd: Path, nproc: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "paperlab", *args]
    return subprocess.run(cmd, cwd=cwd, env=cli_env(ENV), capture_output=True, text=True, timeout=600)


def start(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, env=cli_env({**ENV, **(env or {})}), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_step(run: Path, step: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until `run` has logged its training step `step` (its process is then inside the loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metrics = run / "metrics.jsonl"
        if metrics.is_file() and metrics.read_text().count('"train/loss"') >= step:
            return
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    raise TimeoutError(f"{run} did not reach step {step}")


def checkpoint(run: Path, name: str = "last.pt") -> dict:
    return torch.load(run / "checkpoints" / name, weights_only=True)


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def losses(run: Path) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in records if "train/loss" in r]


def status(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("scale")
    make_idx_set(cwd / "data")
    return cwd


@pytest.fixture(scope="module")
def baseline(work: Path) -> Path:
    """One process, batch 16, 100 steps, uninterrupted (snapshots of the weights at epochs 2, 3)."""
    run = work / "baseline"
    r = run_cli("train", *overrides(work / "data"), f"hydra.run.dir={run}", cwd=work, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def ddp_run(work: Path) -> tuple[Path, Path]:
    """torchrun, 2 ranks of batch 8, 2 epochs, in the default (timestamped) run directory: (cwd, run)."""
    cwd = work / "ddp"
    cwd.mkdir()
    r = torchrun("train", *overrides(work / "data", epochs=2, batch=BATCH // 2), cwd=cwd)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = list((cwd / "outputs" / "train" / "zfnet_fashion_mnist").iterdir())
    assert len(runs) == 1, runs  # one run directory (each rank resolving it would make two)
    return cwd, runs[0]


def test_torchrun_two_ranks_match_one_process_of_the_same_global_batch(ddp_run: tuple[Path, Path],
                                                                       baseline: Path) -> None:
    cwd, run = ddp_run
    assert [p.name for p in (cwd / "outputs").iterdir()] == ["train"]
    info = status(run)
    assert info["status"] == "completed" and info["world_size"] == 2
    # written by rank 0 alone: every epoch logged once, every step once
    log = (run / "train.log").read_text()
    assert log.count("epoch 1 (step 5)") == 1 and log.count("epoch 2 (step 10)") == 1
    assert len(losses(run)) == 10
    # the same training as one process of batch 16: weights, and the losses averaged over ranks
    ddp = checkpoint(run)
    assert not any(k.startswith("module.") for k in ddp["model"])
    assert len(ddp["rng_by_rank"]) == 2
    assert max_diff(ddp["model"], checkpoint(baseline, "snapshots/epoch_002.pt")["model"]) < 1e-5
    assert losses(run) == pytest.approx(losses(baseline)[:10], abs=1e-5)
    # and its checkpoint loads into a one-process model
    from paperlab.engine.restore import load_model

    loaded = load_model(run, "classifier", prefer="last")
    model = loaded.model
    assert loaded.extras.num_classes == 10 and sum(p.numel() for p in model.parameters()) > 0


def test_a_ddp_checkpoint_resumes_in_one_process(ddp_run: tuple[Path, Path], baseline: Path, work: Path) -> None:
    run = work / "ddp_then_one"
    shutil.copytree(ddp_run[1], run)
    r = run_cli("train", "--resume", str(run), f"trainer.batch_size={BATCH}", "trainer.max_epochs=3", cwd=work, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = checkpoint(run)
    assert ckpt["trainer"]["step"] == 15 and ckpt["rng_by_rank"] is None and status(run)["world_size"] == 1
    assert max_diff(ckpt["model"], checkpoint(baseline, "snapshots/epoch_003.pt")["model"]) < 1e-5


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)], ids=["SIGTERM", "Ctrl-C"])
def test_sigterm_or_ctrl_c_writes_a_checkpoint_and_resume_ends_as_uninterrupted(sig: signal.Signals, code: int,
                                                                                work: Path, baseline: Path) -> None:
    run = work / f"stopped_{sig.name}"
    proc = start([sys.executable, "-m", "paperlab", "train", *overrides(work / "data"), f"hydra.run.dir={run}"], work)
    wait_for_step(run, 3, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == code, err[-3000:]
    stopped_at = checkpoint(run)["trainer"]["step"]
    assert 3 <= stopped_at < STEPS
    assert status(run)["status"] == "interrupted"
    assert f"{sig.name} received: checkpoint written at step {stopped_at}; continue with --resume {run}" in err
    assert "Traceback" not in err

    r = run_cli("train", "--resume", str(run), cwd=work, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = checkpoint(baseline), checkpoint(run)
    assert a["trainer"] == b["trainer"] and b["trainer"]["step"] == STEPS
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert losses(run) == losses(baseline)
    assert status(run)["status"] == "completed"


def test_submitit_local_sweep_finds_both_results_and_a_preempted_job_requeues_itself(work: Path,
                                                                                    baseline: Path) -> None:
    sweep = work / "sweep"
    cmd = [sys.executable, "-m", "paperlab", "train", *overrides(work / "data", lr=False),
           f"hydra.sweep.dir={sweep}", "-m", "hydra/launcher=submitit_local", "optim.lr=0.01,0.05"]
    proc = start(cmd, work)
    wait_for_step(sweep / "0", 3, proc)
    # preempt job 0: submitit's local controller (its job id) passes SIGTERM on to the job
    job = status(sweep / "0")["job"]
    assert job["scheduler"] == "submitit local"
    os.kill(int(job["id"]), signal.SIGTERM)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    for j in ("0", "1"):
        assert status(sweep / j)["status"] == "completed" and (sweep / j / "results.json").is_file()
    # job 0 checkpointed, was requeued, and resumed from its own checkpoint: as if never stopped
    assert len(status(sweep / "0")["resumed"]) == 1 and "resumed" not in status(sweep / "1")
    a, b = checkpoint(baseline), checkpoint(sweep / "0")
    assert b["trainer"]["step"] == STEPS and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_runs_summarises_a_sweep_with_its_swept_overrides(tmp_path: Path) -> None:
    from paperlab.console import out_console
    from paperlab.tasks.inventory import list_runs

    sweep = tmp_path / "multirun_x"
    (sweep).mkdir()
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    for num, lr, err in ((0, "0.1", 12.5), (1, "0.01", 8.25), (10, "0.001", None)):
        job = sweep / str(num)
        job.mkdir()
        (job / "run.json").write_text(json.dumps({"task": "train", "status": "completed" if err else "running",
                                                  "overrides": ["data.root=/d", f"optim.lr={lr}"]}))
        if err:
            (job / "results.json").write_text(json.dumps({"test/top1_err": err, "epochs": 3}))
    import fcntl

    with open(sweep / "10" / ".lock", "a+") as lock, out_console.capture() as cap:
        fcntl.flock(lock, fcntl.LOCK_EX)  # job 10 is still going: its process holds the run directory
        list_runs(sweep)
    rows = [line for line in cap.get().splitlines() if "optim.lr" in line]
    assert len(rows) == 3 and "data.root" not in cap.get()  # only what the sweep varies
    assert "optim.lr=0.1 " in rows[0] and "12.5" in rows[0] and "8.25" in rows[1]
    assert "optim.lr=0.001" in rows[2] and "running" in rows[2]  # job 10 after job 1
    assert "test/top1_err" in cap.get()


# -- the pieces, in process --------------------------------------------------------------------------

@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch):
    def fake(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    return fake


def test_each_rank_gets_its_gpu_and_too_many_ranks_are_a_clear_error(gpus) -> None:
    gpus(4)
    assert rank_gpu(DistInfo(rank=3, world_size=4, local_rank=3, local_world_size=4)) == torch.device("cuda", 3)
    assert select_device("auto", DistInfo(rank=5, world_size=8, local_rank=1, local_world_size=4)) == torch.device("cuda", 1)
    with pytest.raises(UserError, match=r"--nproc-per-node=8 starts 8 processes on this node but it has 4 CUDA GPUs; start at most 4"):
        select_device("auto", DistInfo(rank=0, world_size=8, local_rank=0, local_world_size=8))
    gpus(1)  # one visible GPU per process (SLURM binding): cuda:0; a shared one is found once joined
    assert rank_gpu(DistInfo(rank=1, world_size=2, local_rank=1, local_world_size=2)) == torch.device("cuda", 0)
    gpus(0)
    with pytest.raises(UserError, match=r"--nproc-per-node=2 .* has 0 CUDA GPUs; train on CPU with trainer.device=cpu"):
        select_device("cuda", DistInfo(rank=0, world_size=2, local_rank=0, local_world_size=2))
    assert select_device("auto", DistInfo(rank=0, world_size=2, local_rank=0, local_world_size=2)).type == "cpu"


def test_a_launcher_not_installed_names_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hydra.errors import MissingConfigException

    from paperlab.launch import _unknown_choice, launch

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as err:
        launch("train", lambda cfg: None, ["-m", "hydra/launcher=ray"])
    assert str(err.value) == ("the launcher 'ray' is not installed (it comes with the hydra-ray-launcher package); "
                              "pip install hydra-ray-launcher")
    with pytest.raises(UserError, match=r"unknown hydra/launcher 'rocket'; choose one of: basic, joblib, slurm, "
                                        r"submitit_local, submitit_slurm"):
        launch("train", lambda cfg: None, ["-m", "hydra/launcher=rocket"])
    assert list(tmp_path.iterdir()) == []
    # our hydra/launcher=slurm builds on the plugin's submitit_slurm: without it Hydra names that one
    missing = MissingConfigException("In 'hydra/launcher/slurm': Could not find 'hydra/launcher/submitit_slurm'")
    assert "pip install hydra-submitit-launcher" in str(_unknown_choice(missing))


def test_a_sweep_inside_torchrun_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperlab.launch import launch

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UserError, match="a sweep .-m. cannot run inside torchrun"):
        launch("train", lambda cfg: None, ["-m", "optim.lr=0.1,0.2"])


def test_a_preempted_submitit_job_hands_the_signal_to_submitit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []
    cluster.requeue(signal.SIGTERM)  # outside submitit: nothing
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "local")
    old = signal.signal(signal.SIGUSR2, lambda signum, frame: calls.append(signum))  # submitit's handler
    try:
        cluster.requeue(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert calls == [signal.SIGTERM]
    assert not cluster.requeued(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"")
    assert cluster.requeued(tmp_path)  # a requeued job finds its own checkpoint and resumes


def test_a_submitit_job_of_several_tasks_becomes_ddp_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"SUBMITIT_EXECUTOR": "local", "SUBMITIT_LOCAL_JOB_ID": "777", "SUBMITIT_LOCAL_NTASKS": "2",
           "SUBMITIT_LOCAL_JOB_NUM_NODES": "1", "SUBMITIT_LOCAL_NODEID": "0", "SUBMITIT_LOCAL_GLOBALID": "1",
           "SUBMITIT_LOCAL_LOCALID": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        # setenv first: monkeypatch only restores a variable it has seen, and export_torch_env() below
        # sets these; left behind they make every later CLI subprocess wait for a torchrun rendezvous
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cluster.export_torch_env()
    got = {k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")}
    assert got == {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert os.environ["MASTER_ADDR"] and int(os.environ["MASTER_PORT"]) >= 20000
    assert cluster.job_facts() == {"job": {"scheduler": "submitit local", "id": "777", "tasks": 2}}


# -- slow: end to end on more processes ----------------------------------------------------------------

@pytest.mark.slow
def test_a_one_process_checkpoint_resumes_under_torchrun(work: Path, baseline: Path) -> None:
    run = work / "one_then_ddp"
    r = run_cli("train", *overrides(work / "data", epochs=2), f"hydra.run.dir={run}", cwd=work, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    r = torchrun("train", "--resume", str(run), f"trainer.batch_size={BATCH // 2}", "trainer.max_epochs=3", cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = checkpoint(run)
    assert ckpt["trainer"]["step"] == 15 and len(ckpt["rng_by_rank"]) == 2 and status(run)["world_size"] == 2
    assert max_diff(ckpt["model"], checkpoint(baseline, "snapshots/epoch_003.pt")["model"]) < 1e-5


@pytest.mark.slow
def test_more_processes_than_gpus_under_torchrun(work: Path) -> None:
    r = torchrun("train", *overrides(work / "data", epochs=1), "trainer.device=cuda", cwd=work)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode != 0 and len(errors) == 1, r.stderr[-3000:]  # said once, by rank 0
    assert "--nproc-per-node=2 starts 2 processes on this node but it has 0 CUDA GPUs" in errors[0]


@pytest.mark.slow
def test_sbatch_script_requeues_near_the_time_limit_and_the_requeued_job_resumes(work: Path, tmp_path: Path) -> None:
    """scripts/slurm/train.sbatch with stand-ins for srun (runs the command here) and scontrol
    (records the requeue): USR1, as sbatch --signal=B:USR1 sends it, checkpoints and requeues;
    the script's second run (the requeued job) resumes in the same directory."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text('#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n')
    (bin_dir / "scontrol").write_text('#!/bin/bash\ncase "$1" in show) echo localhost ;; '
                                      'requeue) echo "$2" >> "$REQUEUES" ;; esac\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    path = f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}"  # stand-ins, then torchrun
    env = {"PATH": path, "SLURM_JOB_ID": "4242", "SLURM_NNODES": "1", "SLURM_JOB_NODELIST": "localhost",
           "NPROC_PER_NODE": "2", "REQUEUES": str(tmp_path / "requeues")}
    script = [str(REPO / "scripts" / "slurm" / "train.sbatch"), *overrides(work / "data", batch=BATCH // 2)]
    run = work / "outputs" / "train" / "slurm-4242"
    job = start(["bash", *script], work, env)
    wait_for_step(run, 3, job)
    job.send_signal(signal.SIGUSR1)
    _, err = job.communicate(timeout=300)
    assert job.returncode == 0, err[-3000:]
    assert (tmp_path / "requeues").read_text().split() == ["4242"]
    assert status(run)["status"] == "interrupted" and checkpoint(run)["trainer"]["step"] < STEPS
    requeued = subprocess.run(["bash", *script], cwd=work, env=cli_env({**ENV, **env}), capture_output=True, text=True)
    assert requeued.returncode == 0, requeued.stderr[-3000:]
    info = status(run)
    assert info["status"] == "completed" and len(info["resumed"]) == 1 and info["job"]["id"] == "4242"
    assert checkpoint(run)["trainer"]["step"] == STEPS and info["world_size"] == 2


@pytest.mark.slow
def test_joblib_sweep_runs_jobs_in_worker_processes_and_reports_a_failed_one(work: Path) -> None:
    sweep = work / "joblib"
    r = run_cli("train", *overrides(work / "data", epochs=1, lr=False), f"hydra.sweep.dir={sweep}", "-m",
                "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "optim.lr=0.003,-1", cwd=work, env=ENV,
                timeout=600)
    assert r.returncode == 2, r.stderr[-3000:]
    assert r.stderr.strip().splitlines()[-1].startswith("error: cannot build the optimizer")
    assert "Traceback" not in r.stderr
    assert status(sweep / "0")["status"] == "completed" and (sweep / "0" / "results.json").is_file()
    assert status(sweep / "1")["status"] == "failed" and "Invalid learning rate" in status(sweep / "1")["error"]
