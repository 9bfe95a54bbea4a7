"""Training throughput of paperlab's engine vs a bare hand-written PyTorch loop.

Same model (the default ZFNet), same data (Fashion-MNIST, the same in-memory dataset), same batch,
same optimizer and filter renormalisation, in one process, alternating the two so that machine
noise hits both. Prints images/s and the ratio engine/bare (the engine should add no overhead:
>= 0.9), and the process's peak resident memory.

    python benchmarks/train_throughput.py [--steps 150] [--repeats 2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

from paperlab.config import conf_dir, to_dataclass
from paperlab.engine.optim import build_optimizer
from paperlab.engine.seed import seed_everything
from paperlab.engine.trainer import Trainer, TrainerConfig
from paperlab.io.rundir import RunDir
from paperlab.learners import LEARNERS


def config(steps: int):
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("train", [f"trainer.limit_train_batches={steps}", "trainer.max_epochs=1",
                                 "trainer.limit_eval_batches=1", "trainer.snapshot_epochs=[]", "trainer.progress=true"])


def bare_loop(cfg, steps: int) -> float:
    """The loop a person would write by hand: slice a batch, forward, backward, step."""
    seed_everything(0)
    learner = LEARNERS.get("classifier")(cfg)
    model, data = learner.model, learner.datasets()["train"]
    opt = build_optimizer(cfg.optim, model.parameters())
    data.set_epoch(0)
    perm = torch.randperm(len(data)).tolist()
    b = cfg.trainer.batch_size
    model.train()
    t = time.perf_counter()
    for i in range(steps):
        x, y = data.__getitems__(perm[i * b : (i + 1) * b])
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.renormalize_filters()
    return steps * b / (time.perf_counter() - t)


def engine(cfg, steps: int) -> float:
    seed_everything(0)
    learner = LEARNERS.get("classifier")(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.start(Path(tmp), task="train", name="bench")
        trainer = Trainer(to_dataclass(TrainerConfig, cfg.trainer, "trainer"), run, 0, cfg.optim, None, cfg)
        t = time.perf_counter()
        trainer.fit(learner)  # everything counted: loaders, progress bar, logging, checkpoints, evaluation
        return steps * cfg.trainer.batch_size / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cfg = config(args.steps)
    bare, ours = [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(cfg, args.steps))
        ours.append(engine(cfg, args.steps))
    b, o = statistics.median(bare), statistics.median(ours)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ZFNet (default) on Fashion-MNIST, batch {cfg.trainer.batch_size}, {args.steps} steps x {args.repeats}, "
          f"{torch.get_num_threads()} threads")
    print(f"  bare PyTorch loop : {b:8.0f} images/s")
    print(f"  paperlab engine   : {o:8.0f} images/s")
    print(f"  ratio engine/bare : {o / b:8.3f}   (target >= 0.9)")
    print(f"  peak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
