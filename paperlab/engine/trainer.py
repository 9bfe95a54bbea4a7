"""The training loop shared by every paper.

Epochs of optimizer steps with a progress bar (ETA, loss, throughput), evaluation, optimizers and
schedules from config (one, or several that the learner steps itself: `Learner.manual_step`),
gradient clipping, AMP on CUDA or float64 (`trainer.precision`), device auto-selection, seeding, atomic
checkpoints every N steps/epochs, exact resume, a NaN/inf guard, early stopping, and DDP
(rank 0 writes; samplers shard by rank; metrics are reduced over ranks; all ranks agree when to
stop, on a preemption signal or a NaN, so that none waits for a rank that left; checkpoints hold
the bare model and every rank's RNG streams, so they resume in one process and back).

Exact resume: the data order of an epoch is a function of (seed, epoch) only, every DataLoader gets
its own generator (so creating one never draws from the global RNG), and a checkpoint stores all
RNG streams and the position inside the epoch. A run killed after step k and resumed from the
checkpoint of step k replays steps k+1.. with the same batches and the same random numbers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from paperlab.config import above, at_least, checked, config_schema, one_of
from paperlab.console import err_console
from paperlab.engine.checkpoint import (
    load_checkpoint,
    load_weights,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from paperlab.engine.devices import Precision, channels_last, select_device, to_device, tune_device
from paperlab.engine.distributed import (
    all_reduce_sum,
    barrier,
    check_distinct_gpus,
    dist_info,
    gather_objects,
    init_distributed,
    max_over_ranks,
    mean_over_ranks,
)
from paperlab.engine.learner import Learner
from paperlab.engine.loggers import Loggers, check_loggers, open_loggers
from paperlab.engine.optim import Optimizers, build_optimizer
from paperlab.engine.preemption import StopSignals
from paperlab.engine.seed import derive_seed, seed_everything
from paperlab.errors import TrainingDiverged, UserError
from paperlab.io.rundir import RunDir, versions
from paperlab.models import model_spec

log = logging.getLogger(__name__)

# Test-only fault injection: SIGKILL this process right after the given optimizer step, to prove
# that `--resume` after a hard crash ends exactly where an uninterrupted run would.
_FAULT_STEP_ENV = "PAPERLAB_FAULT_STEP"


def _known_loggers(names: list[str]) -> None:
    check_loggers(names)  # its own UserError names the fix (a package to install)


@config_schema("trainer")
@dataclass
class TrainerConfig:
    """conf/trainer/*.yaml; the ranges are checked when a command composes its config."""

    max_epochs: int = at_least(1, default=10)
    max_steps: int | None = at_least(1, default=None)  # stop after this many optimizer steps (within max_epochs)
    batch_size: int = at_least(1, default=128)  # per process; the global batch is batch_size x world size
    eval_batch_size: int | None = at_least(1, default=None)  # default: 2 x batch_size
    num_workers: int = at_least(0, default=0)
    limit_train_batches: int | None = at_least(1, default=None)  # cap batches per epoch (quick runs, tests)
    limit_eval_batches: int | None = at_least(1, default=None)
    gradient_clip_val: float | None = above(0, default=None)  # max global gradient norm
    precision: str = "auto"  # "32", "64", "bf16-mixed", "16-mixed"; auto: 32 (devices.AUTO_PRECISION)
    device: str = "auto"  # auto: cuda (local rank) if available, else cpu
    deterministic: bool = False
    log_every_n_steps: int = at_least(1, default=50)
    val_every_n_epochs: int = at_least(1, default=1)
    checkpoint_every_n_steps: int | None = at_least(0, default=None)  # 0 or null: only at epoch ends
    checkpoint_every_n_epochs: int = at_least(1, default=1)
    snapshot_epochs: list[int] = at_least(1, default_factory=list)  # weights kept at these epochs (1-based)
    monitor: str | None = None  # default: the learner's (e.g. val/top1_err)
    monitor_mode: str | None = one_of("min", "max", default=None)
    early_stopping_patience: int | None = at_least(1, default=None)  # evaluations without improvement before stopping
    test_with: str = one_of("best", "last", default="best")  # weights that score the test split
    progress: bool = True
    # experiment trackers besides metrics.jsonl/.csv (always written): csv, tensorboard (<run>/tb/),
    # mlflow (<run>/mlruns/); paperlab/engine/loggers.py
    loggers: list[str] = checked(_known_loggers, default_factory=lambda: ["csv"])
    channels_last: bool = False  # 4-D weights in NHWC layout (faster convolutions on tensor cores)
    compile: bool = False  # torch.compile the model the training steps call (compiled on the first steps)


class _LossRateColumn(ProgressColumn):
    """Running loss and throughput, for the tasks that report them."""

    def render(self, task: Task) -> Text:
        if "loss" not in task.fields:
            return Text("")
        return Text(f"loss {task.fields['loss']:.4f}  {task.fields['rate']:.0f}/s")


@dataclass
class _State:
    epoch: int = 0  # current epoch (0-based)
    batch_in_epoch: int = 0  # batches of `epoch` already done
    step: int = 0  # optimizer steps done
    best: float | None = None
    bad_evals: int = 0
    stopped_early: bool = False


@dataclass
class _Fit:
    """The moving parts of one `fit`: what checkpoints save and every piece of the loop uses."""

    learner: Learner
    model: nn.Module  # learner.model, or its DistributedDataParallel wrapper
    splits: dict[str, Dataset]
    optimizers: Optimizers
    scaler: torch.amp.GradScaler | None
    steps_per_epoch: int
    monitor: str
    mode: str


class _Window:
    """Loss and throughput over the steps since the last log record (sums stay on the device)."""

    def __init__(self, device: torch.device) -> None:
        self.loss = torch.zeros((), device=device)
        self.items = self.steps = 0
        self.t0 = time.perf_counter()

    def add(self, loss: torch.Tensor, items: int) -> None:
        self.loss += loss.detach()
        self.items += items
        self.steps += 1


class Trainer:
    def __init__(self, cfg: TrainerConfig, run: RunDir, seed: int, optim: DictConfig,
                 sched: DictConfig | None, config: DictConfig) -> None:
        self.cfg = cfg
        self.run = run
        self.seed = seed
        self.optim_cfg = optim
        self.sched_cfg = sched
        self.config = OmegaConf.to_container(config, resolve=True)
        # the device first: its errors are the same on every rank, so no rank waits for another
        self.device = select_device(cfg.device, dist_info())
        if self.device.type == "cuda" and dist_info().enabled:
            torch.cuda.set_device(self.device)  # NCCL works on the current device
        self.device_info = init_distributed()
        check_distinct_gpus(self.device)
        self.is_main = self.device_info.is_main
        self.precision = Precision(cfg.precision, self.device)
        tune_device(self.device, cfg.deterministic)
        self.state = _State()
        self.loggers = Loggers()  # the experiment trackers (trainer.loggers), opened by fit

    # -- setup ------------------------------------------------------------------------------------
    def loader(self, learner: Learner, split: str, dataset: Dataset, epoch: int = 0, skip: int = 0) -> DataLoader:
        """A DataLoader for a split: shuffled by (seed, epoch) for training, sharded by rank."""
        train = split == "train"
        info = self.device_info
        batch = self.cfg.batch_size if train else (self.cfg.eval_batch_size or 2 * self.cfg.batch_size)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)  # per-(epoch, index) seeded augmentation
        if hasattr(dataset, "set_device"):
            dataset.set_device(self.device)  # a dataset that prepares batches on the device (finish_batch)
        if train:
            sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank,
                                         shuffle=learner.shuffle_train, seed=self.seed)
            sampler.set_epoch(epoch)
            indices = list(sampler)[skip * batch:]
        else:
            indices = list(range(info.rank, len(dataset), info.world_size))
        generator = torch.Generator().manual_seed(derive_seed(self.seed, epoch, info.rank, train))
        collate = learner.collate_fn(split) or getattr(dataset, "collate_fn", None)
        return DataLoader(dataset, batch_size=batch, sampler=indices, num_workers=self.cfg.num_workers,
                          collate_fn=collate, generator=generator, pin_memory=self.device.type == "cuda",
                          persistent_workers=False)

    def _on_device(self, dataset: Dataset, batch: Any) -> Any:
        """A loader's batch on the device, finished there by the dataset if it does so (decoding,
        float conversion, crops: whole batches at once), then cast to the run's precision."""
        batch = to_device(batch, self.device)
        finish = getattr(dataset, "finish_batch", None)
        return to_device(batch if finish is None else finish(batch), self.device, self.precision.dtype)

    def _steps_per_epoch(self, n_items: int) -> int:
        per_rank = math.ceil(n_items / self.device_info.world_size)
        steps = math.ceil(per_rank / self.cfg.batch_size)
        if self.cfg.limit_train_batches:
            steps = min(steps, self.cfg.limit_train_batches)
        return steps

    # -- checkpoints ----------------------------------------------------------------------------
    def _model_record(self, learner: Learner) -> dict[str, Any]:
        """What rebuilds the model: weights, ModelSpec, the learner and its Extras (load_model)."""
        spec = model_spec(learner.model)
        extras = learner.checkpoint_extras()
        return {"learner": self.config.get("learner"), "model": learner.model.state_dict(),
                "model_name": spec and spec.name, "model_args": spec and spec.args,
                "extras": None if extras is None else dataclasses.asdict(extras)}

    def _checkpoint_state(self, f: _Fit) -> dict[str, Any]:
        s = self.state
        rng = rng_state()
        return {
            "kind": "paperlab/train",
            **self._model_record(f.learner),
            "learner_state": f.learner.state_dict(),
            **f.optimizers.state_dict(),
            "scaler": f.scaler.state_dict() if f.scaler is not None else None,
            "trainer": {"epoch": s.epoch, "batch_in_epoch": s.batch_in_epoch, "step": s.step,
                        "best": s.best, "bad_evals": s.bad_evals},
            "rng": rng,  # rank 0's streams; every rank's in rng_by_rank under DDP
            "rng_by_rank": gather_objects(rng) if self.device_info.enabled else None,
            "config": self.config,
            "versions": versions(),
        }

    def _save(self, name: str, state: dict[str, Any]) -> None:
        if self.is_main:
            save_checkpoint(self.run.checkpoints / name, state)

    def _newest_checkpoint(self) -> tuple[Path, dict[str, Any]]:
        """The complete checkpoint with the most steps: last.pt, or best.pt when a crash came before
        (or during) the first last.pt write."""
        found = [(p, load_checkpoint(p, map_location=self.device)) for p in
                 (self.run.checkpoints / "last.pt", self.run.checkpoints / "best.pt") if p.is_file()]
        if not found:
            raise UserError(f"{self.run.path} has no checkpoint to resume from (checkpoints/last.pt and best.pt "
                            "are missing)", "start a new run instead of --resume")
        return max(found, key=lambda pc: pc[1]["trainer"]["step"])

    def _resume(self, f: _Fit) -> dict[str, Any] | None:
        path, ckpt = self._newest_checkpoint()
        load_weights(f.learner.model, ckpt, path, "resume with the run's own config (no model overrides)")
        f.learner.load_state_dict(ckpt.get("learner_state") or {})
        f.optimizers.load_state_dict(ckpt)
        if f.scaler is not None and ckpt.get("scaler") is not None:
            f.scaler.load_state_dict(ckpt["scaler"])
        t = ckpt["trainer"]
        self.state = _State(epoch=t["epoch"], batch_in_epoch=t["batch_in_epoch"], step=t["step"],
                            best=t["best"], bad_evals=t["bad_evals"])
        self._resume_lr(f, ((ckpt.get("config") or {}).get("optim") or {}).get("lr"))
        self.run.truncate_metrics(self.state.step)
        if self.is_main:
            log.info("resumed from %s at epoch %d, step %d", path, self.state.epoch + 1, self.state.step)
        return self._rank_rng(ckpt)

    def _resume_lr(self, f: _Fit, saved: float | None) -> None:
        """A resumed run at a constant learning rate takes a new `optim.lr` from here on (annealing
        by hand, step by step, as one would between runs); a schedule's rates cannot be changed midway."""
        lr = self.optim_cfg.get("lr")
        if saved is None or lr is None or float(saved) == float(lr):
            return
        if f.optimizers.scheduled:
            raise UserError(f"optim.lr changed on resume ({saved} -> {lr}) but the run follows a schedule",
                            "resume without optim.lr, or start a new run")
        f.optimizers.set_lr(float(lr))
        if self.is_main:
            log.info("learning rate %g -> %g from step %d on (optim.lr given on resume)", saved, lr, self.state.step)

    def _rank_rng(self, ckpt: dict[str, Any]) -> dict[str, Any] | None:
        """This rank's RNG streams in a checkpoint: its own when the world size is unchanged, rank
        0's for rank 0 of any run (so a DDP checkpoint resumes in one process and back), else None."""
        streams = ckpt.get("rng_by_rank") or [ckpt["rng"]]
        info = self.device_info
        if len(streams) == info.world_size:
            return streams[info.rank]
        return streams[0] if info.is_main else None

    # -- evaluation -----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, learner: Learner, split: str, dataset: Dataset, progress: Progress | None = None) -> dict[str, float]:
        model = learner.model
        was_training = model.training
        model.eval()
        loader = self.loader(learner, split, dataset)
        total = len(loader) if not self.cfg.limit_eval_batches else min(len(loader), self.cfg.limit_eval_batches)
        task = progress.add_task(f"eval {split}", total=total) if progress else None
        sums: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(loader):
            if i >= total:
                break
            with self.precision.autocast():
                out = learner.eval_step(model, self._on_device(dataset, batch))
            for k, v in out.items():
                sums[k] = sums.get(k, 0) + v.detach().double()
            if task is not None:
                progress.advance(task)
        if task is not None:
            progress.remove_task(task)
        totals = {k: float(v) for k, v in all_reduce_sum(sums).items()}
        model.train(was_training)
        return {f"{split}/{k}": v for k, v in learner.summarize(totals).items()}

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, learner: Learner, resume: bool = False,
            finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> dict[str, Any]:
        """Train, evaluate every `val_every_n_epochs`, score the test split; the headline results.
        The trackers of `trainer.loggers` record every metrics record, the config and the results:
        those `finish` makes of a completed fit's (what the caller adds, once it saved them)."""
        self.loggers = open_loggers(self.cfg.loggers, self.run.path, self.config, resume=resume, enabled=self.is_main)
        status = "failed"
        try:
            results = self._fit(learner, resume)
            status = "interrupted" if "interrupted" in results else "completed"
            if status == "completed":
                if finish is not None:
                    results = finish(results)
                self.loggers.log_results(results)
            return results
        finally:
            self.loggers.close(status)

    def _fit(self, learner: Learner, resume: bool) -> dict[str, Any]:
        f = self._setup(learner)
        rng = self._resume(f) if resume else None
        self.run.update(device=str(self.device) if self.device.type != "cuda" else
                        f"{self.device} ({torch.cuda.get_device_name(self.device)})",
                        world_size=self.device_info.world_size)
        t_start = time.perf_counter()
        if rng is not None:
            set_rng_state(rng)  # last: everything above may draw random numbers
        elif resume:  # a rank the checkpoint has no streams for: fresh ones, not the first steps' again
            seed_everything(derive_seed(self.seed, self.device_info.rank, self.state.step))

        stop = StopSignals()
        with self._progress() as progress, stop.installed():
            epochs_task = progress.add_task("epochs", total=self.cfg.max_epochs, completed=self.state.epoch)
            while self.state.epoch < self.cfg.max_epochs and not self._done():
                epoch_loss = self._train_epoch(f, progress, stop)
                if stop.decided:
                    return self._preempted(f, stop.decided)
                self._end_epoch(f, progress, epoch_loss)
                progress.update(epochs_task, completed=self.state.epoch)

        results = self._final_results(f)
        results["train_time_s"] = round(time.perf_counter() - t_start, 1)
        barrier()
        return results

    def _setup(self, learner: Learner) -> _Fit:
        splits = learner.datasets()
        for required in ("train", "val"):
            if required not in splits:
                raise RuntimeError(f"{type(learner).__name__}.datasets() has no '{required}' split")
        learner.model.to(self.device, dtype=self.precision.dtype)
        if self.cfg.channels_last:
            channels_last(learner.model)
        model: nn.Module = learner.model
        if self.device_info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(learner.model, device_ids=ids)
        if self.cfg.compile:  # the training steps call the compiled module; checkpoints hold the bare model
            import torch._inductor.config as inductor

            # dropout etc. draw from torch's own generator, as uncompiled: the same numbers as a run
            # without compile, and a resumed run replays them (inductor's fused RNG would not)
            inductor.fallback_random = True
            model = torch.compile(model)
        steps_per_epoch = self._steps_per_epoch(len(splits["train"]))
        optimizers = learner.configure_optimizers(lambda params: build_optimizer(self.optim_cfg, params))
        return _Fit(
            learner=learner, model=model, splits=splits,
            optimizers=Optimizers(optimizers, self.sched_cfg, steps_per_epoch, self.cfg.max_epochs),
            scaler=torch.amp.GradScaler(self.device.type) if self.precision.amp_dtype == torch.float16 else None,
            steps_per_epoch=steps_per_epoch, monitor=self.cfg.monitor or learner.monitor,
            mode=self.cfg.monitor_mode or learner.monitor_mode,
        )

    def _optimizer_step(self, f: _Fit, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One step: forward, NaN/inf guard, backward, clipping, optimizer and schedule step; or the
        learner's own step (several optimisers, closures), guarded after it."""
        if not f.learner.automatic_optimization:
            with self.precision.autocast():
                loss, logs = f.learner.manual_step(f.model, batch, f.optimizers)
            if self._nonfinite(loss):
                self._diverged(loss)
            f.optimizers.step_schedules("step")
            return loss, logs
        (optimizer,) = f.optimizers
        with self.precision.autocast():
            loss, logs = f.learner.training_step(f.model, batch)
        if self._nonfinite(loss):
            self._diverged(loss)
        optimizer.zero_grad(set_to_none=True)
        (f.scaler.scale(loss) if f.scaler else loss).backward()
        if f.scaler:
            f.scaler.unscale_(optimizer)
        f.learner.on_after_backward(f.model)
        if self.cfg.gradient_clip_val:
            torch.nn.utils.clip_grad_norm_(f.learner.model.parameters(), self.cfg.gradient_clip_val)
        if f.scaler:
            f.scaler.step(optimizer)
            f.scaler.update()
        else:
            optimizer.step()
        f.learner.on_after_optimizer_step()
        f.optimizers.step_schedules("step")
        return loss, logs

    def _train_epoch(self, f: _Fit, progress: Progress, stop: StopSignals) -> torch.Tensor | None:
        """The rest of the current epoch (from `batch_in_epoch` on, after a resume); returns the
        mean training loss over the batches run, or None if none ran."""
        s, cfg = self.state, self.cfg
        fault_step = int(os.environ.get(_FAULT_STEP_ENV, 0))
        loader = self.loader(f.learner, "train", f.splits["train"], s.epoch, skip=s.batch_in_epoch)
        task = progress.add_task(f"epoch {s.epoch + 1}", total=f.steps_per_epoch, completed=s.batch_in_epoch,
                                 loss=float("nan"), rate=0.0)
        f.model.train()
        window, epoch = _Window(self.device), _Window(self.device)
        for batch in loader:
            if s.batch_in_epoch >= f.steps_per_epoch or self._done():
                break
            batch = self._on_device(f.splits["train"], batch)
            loss, logs = self._optimizer_step(f, batch)
            s.step += 1
            s.batch_in_epoch += 1
            n = f.learner.batch_size(batch)
            window.add(loss, n)
            epoch.add(loss, n)
            if s.step % cfg.log_every_n_steps == 0 or s.batch_in_epoch == f.steps_per_epoch:
                self._log_window(f, window, logs, progress, task)
                window = _Window(self.device)
            progress.update(task, completed=s.batch_in_epoch)
            if cfg.checkpoint_every_n_steps and s.step % cfg.checkpoint_every_n_steps == 0:
                self._save("last.pt", self._checkpoint_state(f))
            if fault_step and s.step == fault_step:
                os.kill(os.getpid(), signal.SIGKILL)
            if stop.agreed():
                break
        progress.remove_task(task)
        return epoch.loss / epoch.steps if epoch.steps else None

    def _log_window(self, f: _Fit, window: _Window, logs: dict[str, torch.Tensor], progress: Progress,
                    task: Any) -> None:
        s = self.state
        dt = time.perf_counter() - window.t0
        means = mean_over_ranks({"train/loss": window.loss / window.steps,
                                 **{f"train/{k}": v for k, v in logs.items()}})
        mean_loss = means.pop("train/loss")
        rate = window.items * self.device_info.world_size / max(dt, 1e-9)
        self._log_metrics({"step": s.step, "epoch": s.epoch + 1, "train/loss": mean_loss,
                           "lr": f.optimizers.lr, "train/items_per_s": rate, **means})
        progress.update(task, loss=mean_loss, rate=rate)

    def _end_epoch(self, f: _Fit, progress: Progress, epoch_loss: torch.Tensor | None) -> None:
        """Evaluate, track the best model, log, snapshot and checkpoint at the end of an epoch."""
        s, cfg = self.state, self.cfg
        s.epoch += 1
        s.batch_in_epoch = 0
        record: dict[str, Any] = {"step": s.step, "epoch": s.epoch}
        if epoch_loss is not None:
            record.update(mean_over_ranks({"train/loss_epoch": epoch_loss}))
        last_epoch = s.epoch == cfg.max_epochs or self._done()
        if s.epoch % cfg.val_every_n_epochs == 0 or last_epoch:
            record.update(self.evaluate(f.learner, "val", f.splits["val"], progress))
            f.optimizers.step_schedules("epoch", record)
            if self._improved(record, f.monitor, f.mode):
                self._save("best.pt", self._checkpoint_state(f))
        else:
            f.optimizers.step_schedules("epoch", None)
        self._log_metrics(record)
        self._log_epoch(record)
        f.learner.on_epoch_end(s.epoch, self.run.figures if self.is_main else None)
        if s.epoch in cfg.snapshot_epochs:
            self._save(f"snapshots/epoch_{s.epoch:03d}.pt",
                       {**self._model_record(f.learner), "epoch": s.epoch, "step": s.step, "config": self.config})
        if s.epoch % cfg.checkpoint_every_n_epochs == 0 or last_epoch:
            self._save("last.pt", self._checkpoint_state(f))

    # -- pieces of the loop ---------------------------------------------------------------------
    def _done(self) -> bool:
        s = self.state
        return s.stopped_early or (self.cfg.max_steps is not None and s.step >= self.cfg.max_steps)

    def _improved(self, record: dict[str, Any], monitor: str, mode: str) -> bool:
        """Update the best value and the early-stopping count; True when `monitor` improved."""
        s = self.state
        if monitor not in record:
            raise UserError(f"trainer.monitor '{monitor}' is not a validation metric",
                            f"choose one of: {', '.join(k for k in record if k.startswith('val/'))}")
        value = record[monitor]
        if s.best is None or (value < s.best if mode == "min" else value > s.best):
            s.best, s.bad_evals = value, 0
            return True
        s.bad_evals += 1
        if self.cfg.early_stopping_patience is not None and s.bad_evals >= self.cfg.early_stopping_patience:
            s.stopped_early = True
            log.info("early stopping: %s has not improved for %d evaluations", monitor, s.bad_evals)
        return False

    def _final_results(self, f: _Fit) -> dict[str, Any]:
        s, learner, splits = self.state, f.learner, f.splits
        results: dict[str, Any] = {"epochs": s.epoch, "steps": s.step, f"best_{f.monitor}": s.best}
        best = self.run.checkpoints / "best.pt"
        barrier()  # rank 0 may still be writing best.pt
        if self.cfg.test_with == "best" and best.is_file():
            learner.model.load_state_dict(load_checkpoint(best, map_location=self.device)["model"])
        for split in ("val", "test"):
            if split in splits:
                with self._progress() as progress:
                    results.update(self.evaluate(learner, split, splits[split], progress))
        self._log_metrics({"step": s.step, "epoch": s.epoch, "final": True,
                           **{k: v for k, v in results.items() if "/" in k and not k.startswith("best_")}})
        return results

    def _nonfinite(self, loss: torch.Tensor) -> bool:
        """A NaN/inf loss here, or under DDP on any rank (so that all ranks stop together)."""
        bad = not torch.isfinite(loss)
        return bool(max_over_ranks(int(bad))) if self.device_info.enabled else bad

    def _diverged(self, loss: torch.Tensor) -> None:
        s = self.state
        last = self.run.checkpoints / "last.pt"
        value = loss.item() if not torch.isfinite(loss) else "nan/inf on another rank"
        problem = f"the loss became {value} at step {s.step + 1} (epoch {s.epoch + 1}); training stopped and "
        if last.is_file():
            raise TrainingDiverged(problem + f"the last good checkpoint is {last}",
                                   "lower optim.lr or set trainer.gradient_clip_val, then start again or --resume")
        raise TrainingDiverged(problem + "no checkpoint was written yet",
                               "lower optim.lr or set trainer.gradient_clip_val, then start a new run")

    def _preempted(self, f: _Fit, signum: int) -> dict[str, Any]:
        self._save("last.pt", self._checkpoint_state(f))
        name = signal.Signals(signum).name
        if self.is_main:
            log.warning("%s received: checkpoint written at step %d; continue with --resume %s", name,
                        self.state.step, self.run.path)
        return {"interrupted": name, "steps": self.state.step, "epochs": self.state.epoch}

    def _log_metrics(self, record: dict[str, Any]) -> None:
        """One record: metrics.jsonl (the run directory) and the experiment trackers (trainer.loggers)."""
        self.run.log_metrics(record)
        self.loggers.log_record(record)

    def _log_epoch(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        shown = ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k not in ("step", "epoch") and isinstance(v, float))
        log.info("epoch %d (step %d): %s", record["epoch"], record["step"], shown)

    @contextmanager
    def _progress(self) -> Iterator[Progress]:
        columns = [
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            _LossRateColumn(),
        ]
        enabled = self.cfg.progress and self.is_main
        with Progress(*columns, console=err_console, disable=not enabled, transient=True,
                      refresh_per_second=4) as progress:
            yield progress
